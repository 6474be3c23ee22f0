#!/usr/bin/env bash
# Run-history benchmarks (method and figures in BENCHMARKS.md, "Run history"):
#  1. a directory store holding 120,000 run records over 1,000 jobs (120 runs each over
#     30 days, with claims, heartbeats and output tails, as greaserun leaves them;
#     bench/history_store.py): `greasestatus runs --since 1d`, `greasestatus runs JOB`,
#     `greasestatus runs JOB --since 1h` and the latest run of every job
#     (`greasestatus runs --latest`; before it existed, the whole history `runs`), warm
#     (hyperfine) and cold (page cache dropped, when run as root), with peak RSS;
#  2. `greasestatus log JOB` of a run whose output is a 1 GB log file: wall time and
#     peak RSS (/usr/bin/time -v);
#  3. the store footprint of one run (bytes and inodes per run on the directory store).
# Needs hyperfine, python3 and Debian's time. PROFILE=dev measures a debug build (the
# default is release, as the other benchmarks). JOBS, RUNS and LOG_BYTES scale it down.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
dir=$profile; [ "$profile" = dev ] && dir=debug
target=${CARGO_TARGET_DIR:-target}
cargo build --profile "$profile" --quiet --bin greasestatus
bin="$target/$dir/greasestatus"
jobs=${JOBS:-1000} runs=${RUNS:-120} log_bytes=${LOG_BYTES:-1000000000}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sg-bench-history-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo '{}' > "$tmp/c.json"
export SCALEGREASE_CONFIG="$tmp/c.json"
store="$tmp/store"
echo "== filling $store: $jobs jobs x $runs runs"
python3 bench/history_store.py "$store" "$jobs" "$runs"
st=("$bin" -q --store "$store")
job="bench-job-0007"
latest="--latest"
"${st[@]}" runs --help | grep -q -- --latest || latest=""

echo "== footprint"
n=$(find "$store/runs" -type f | wc -l)
kib=$(du -sk "$store" | cut -f1)
inodes=$(find "$store" | wc -l)
echo "runs: $n  store: $kib KiB, $inodes inodes  per run: $((kib * 1024 / n)) bytes, $(python3 -c "print(round($inodes / $n, 2))") inodes"

views=("runs --since 1d" "runs $job" "runs $job --since 1h" "runs $latest")
echo "== warm (hyperfine)"
cmds=()
for v in "${views[@]}"; do cmds+=("${st[*]} $v"); done
hyperfine -N --warmup "${HF_WARMUP:-2}" --runs "${HF_RUNS:-10}" --export-json "$tmp/warm.json" "${cmds[@]}" > /dev/null
python3 - "$tmp/warm.json" <<'PY'
import json, statistics, sys
for x in json.load(open(sys.argv[1]))["results"]:
    t = [v * 1000 for v in x["times"]]
    print(f"median {statistics.median(t):9.1f} ms  min {min(t):9.1f}  max {max(t):9.1f}  {x['command'].split(' runs', 1)[1].strip() or '(all)'}")
PY
echo "== peak RSS (warm) and cold (page cache dropped)"
for v in "${views[@]}"; do
  "${st[@]}" $v > /dev/null # warm the page cache after the last view's drop
  /usr/bin/time -f "warm: %e s, max RSS %M KiB  runs${v#runs}" "${st[@]}" $v > /dev/null
  if [ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ]; then
    sync; echo 3 > /proc/sys/vm/drop_caches
    /usr/bin/time -f "cold: %e s, max RSS %M KiB  runs${v#runs}" "${st[@]}" $v > /dev/null
  fi
done

echo "== greasestatus log of a $log_bytes-byte output"
logf="$tmp/big.log"
line="[4242] 03:00:01 OUT:job 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz"
yes "$line" | head -n $((log_bytes / (${#line} + 1))) > "$logf" || true
python3 - "$store" "$logf" <<'PY'
import datetime, json, os, sys
store, logf = sys.argv[1:]
job, seg = "shell:bench-big-log", "shell:bench-big-log"
slot = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
rid = "w1.example-4242"
rec = {"job": job, "slot": slot, "status": "succeeded", "host": "w1.example", "pid": 4242,
       "user": "jobs", "claimed": True, "runner": "shell", "artifact": "/x.jar",
       "args": [], "exit_code": 0, "log_path": logf, "declines": []}
for top, body in (("runs", json.dumps(rec)), ("tails", "x" * 65536)):
    os.makedirs(f"{store}/{top}/{seg}/{slot}", exist_ok=True)
    open(f"{store}/{top}/{seg}/{slot}/{rid}", "w").write(body)
PY
/usr/bin/time -f "log: %e s, max RSS %M KiB" "${st[@]}" log bench-big-log > "$tmp/out.log"
cmp "$logf" "$tmp/out.log" && echo "output matches the log byte for byte"
rm -f "$tmp/out.log"
/usr/bin/time -f "log --json: %e s, max RSS %M KiB" "${st[@]}" --json log bench-big-log > /dev/null
