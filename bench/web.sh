#!/usr/bin/env bash
# Status web page benchmarks (method and figures in BENCHMARKS.md, "Status web page"):
# a directory store with JOBS published hourly greaserun entries (PROJECTS bundles,
# published with the real greaselaunch) and RUNS run records per job over 30 days (with
# claims, heartbeats and output tails: bench/history_store.py), served by
# `greasestatus serve`. ROUNDS times (3 by default) over the same store, each with a new
# server, measures with sequential HTTP requests from python:
#  - baselines in the same round: a static asset (/assets/style.css) from the same server,
#    and `greasestatus runs --latest` (the latest run of every job, from the CLI);
#  - the farm page read anew (requests 2.2 s apart, past the 2 s snapshot), and back to
#    back (served from the snapshot);
#  - job pages (7-day ledger grid, duration chart, slot table) of random jobs;
#  - /metrics;
# as p50/p99/max, and the server's peak RSS (VmHWM) after all of it; `uptime` beside it.
# PROFILE=dev measures a debug build (the default is release, as the other benchmarks);
# BIN=DIR uses the greasestatus and greaselaunch already in DIR (no build); STORE=DIR
# fills DIR once and keeps it, and a later run with the same STORE reuses it.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
dir=$profile; [ "$profile" = dev ] && dir=debug
target=${CARGO_TARGET_DIR:-target}
if [ -n "${BIN:-}" ]; then
  bin=$BIN
else
  cargo build --profile "$profile" --features etcd --quiet --bin greasestatus --bin greaselaunch
  bin="$target/$dir"
fi
jobs=${JOBS:-1000} runs=${RUNS:-100} projects=${PROJECTS:-10}
fresh=${FRESH:-20} back=${BACK:-200} pages=${PAGES:-200} rounds=${ROUNDS:-3}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sg-bench-web-XXXXXX")
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
store=${STORE:-$tmp/store}
echo "{\"store\": \"$store\"}" > "$tmp/c.json"
export SCALEGREASE_CONFIG="$tmp/c.json" TZ=UTC
if [ -n "${STORE:-}" ] && [ -d "$store/runs" ]; then
  echo "== reusing $store"
else
echo "== filling $store: $jobs jobs x $runs runs, $projects bundles"
"$bin/greaselaunch" -q --init-store >/dev/null
python3 bench/history_store.py "$store" "$jobs" "$runs" "bench-job-{j:04}"
per=$((jobs / projects))
for p in $(seq 0 $((projects - 1))); do
  d="$tmp/work/p$p"; mkdir -p "$d/src/main/cron"
  echo "<project><groupId>bench</groupId><artifactId>p$p</artifactId></project>" > "$d/pom.xml"
  for k in $(seq 0 $((per - 1))); do
    j=$((p * per + k))
    printf '%d * * * * jobs greaserun --job bench-job-%04d -r shell /opt/jobs/bench.jar -- run\n' $((j % 60)) "$j"
  done > "$d/src/main/cron/hourly.cron"
  "$bin/greaselaunch" -q --project-dir "$d" --revision "r$p" >/dev/null
done
# As if published 30 days ago, so the 7-day ledgers hold every slot (digest recomputed
# as src/dispatch/bundle.rs does: sha256 of the compact JSON with an empty digest).
python3 - "$store/bundles" <<'PY'
import datetime, hashlib, json, os, sys
at = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
for d, _, files in os.walk(sys.argv[1]):
    for f in files:
        p = os.path.join(d, f)
        b = json.load(open(p))
        b["launched_at"], b["digest"] = at, ""
        b.pop("signature", None)
        b["digest"] = "sha256:" + hashlib.sha256(json.dumps(b, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
        open(p, "w").write(json.dumps(b))
PY
fi
echo "runs: $(find "$store/runs" -type f | wc -l)  bundles: $(find "$store/bundles" -type f | wc -l)"

for round in $(seq "$rounds"); do
echo "== round $round/$rounds at $(date -u +%H:%M:%S), load:$(uptime | sed 's/.*load average//')"
t0=$(date +%s%N)
"$bin/greasestatus" runs --latest > /dev/null
echo "baseline: greasestatus runs --latest  $(( ($(date +%s%N) - t0) / 1000000 )) ms"
rm -f "$tmp/serve.out"
"$bin/greasestatus" serve --listen 127.0.0.1:0 > "$tmp/serve.out" 2> "$tmp/serve.err" &
server=$!
for _ in $(seq 100); do grep -q serving "$tmp/serve.out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^greasestatus: serving \(.*\)\/$/\1/p' "$tmp/serve.out")
echo "serving $base (pid $server): $(curl -s "$base/api/farm" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))') published jobs"

python3 - "$base" "$jobs" "$fresh" "$back" "$pages" <<'PY'
import random, sys, time, urllib.request
base, jobs, fresh, back, pages = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:])
def timed(path):
    t = time.perf_counter()
    with urllib.request.urlopen(base + path) as r:
        body = r.read()
        assert r.status == 200, (path, r.status)
    return (time.perf_counter() - t) * 1000, len(body)
def report(what, samples):
    ms = sorted(s[0] for s in samples)
    pct = lambda p: ms[min(len(ms) - 1, int(p / 100 * len(ms)))]
    size = sum(s[1] for s in samples) // len(samples)
    print(f"{what:<34} n={len(ms):<4} p50 {pct(50):7.1f} ms  p99 {pct(99):7.1f} ms  max {ms[-1]:7.1f} ms  ({size // 1024} KiB)")
report("baseline: static asset", [timed("/assets/style.css") for _ in range(back)])
s = []
for _ in range(fresh):
    time.sleep(2.2)
    s.append(timed("/"))
report("farm page, read anew", s)
report("farm page, back to back", [timed("/") for _ in range(back)])
random.seed(7)
report("job page (7-day ledger)", [timed(f"/job/bench-job-{random.randrange(jobs):04}") for _ in range(pages)])
report("job JSON (/api/job)", [timed(f"/api/job/bench-job-{random.randrange(jobs):04}") for _ in range(pages)])
s = []
for _ in range(fresh):
    time.sleep(2.2)
    s.append(timed("/metrics"))
report("/metrics", s)
PY
echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/$server/status")"
kill "$server"; wait "$server" 2>/dev/null || true; server=""
done
