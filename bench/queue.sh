#!/usr/bin/env bash
# Farm-queue benchmarks (issue 9), on the directory store and on a real 3-member etcd
# cluster on loopback (scripts/etcd-cluster), with 20 workers (`greasesnatch --watch`,
# each its own SCALEGREASE_HOSTNAME, cron dir and config) on this machine:
#   1. Submit-to-start latency: LATENCY (default 200) requests of a `/bin/true` job, one
#      `greasedispatch JOB --slot T` every 100 ms; latency = the run record's start minus
#      the request's requested_at (both written by the binaries); p50, p99, max.
#   2. Drain: DRAIN (default 10,000) requests of `/bin/true` queued by one
#      `greasedispatch --backfill` with the workers stopped, then the 20 workers start:
#      requests/s from their start to the last run's end; on etcd, store operations per
#      request from etcd's own counters (etcd_mvcc_{range,put,delete,txn}_total on
#      /metrics, before/after: writes counted on one member, since every member applies
#      every write; ranges summed over the members, since each serves its own clients).
#   3. Idle store load of one worker (etcd): operations per minute over IDLE_S (default
#      60) seconds with an empty queue, with 10 and with 1,000 published jobs, and again
#      after the drain (10,000+ requests ever made). It must not grow.
# The workers' alert check (alerts.check, docs/ledger.md) is off: it reads the slot ledger
# of every published job when a worker starts and every alerts.interval, which is not
# the queue's cost (with 1,000 jobs it dwarfs it and lands in the first latency requests).
# Each measurement is repeated RUNS (default 3) times per store, each run's figure
# printed, then the median and the spread (min-max) over the runs.
# Usage: bench/queue.sh. PROFILE=debug uses a debug build (slower binaries; for machines
# where a release build does not fit); BACKENDS="etcd" runs one store only; LATENCY,
# DRAIN, IDLE_S, WORKERS, RUNS and DRAIN_RUNS (default RUNS) change the sizes. Method and
# figures: BENCHMARKS.md, "Farm queue".
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
latency_n=${LATENCY:-200} drain_n=${DRAIN:-10000} idle_s=${IDLE_S:-60} workers=${WORKERS:-20}
runs=${RUNS:-3} drain_runs=${DRAIN_RUNS:-${RUNS:-3}}
if [ "$profile" = release ]; then
  cargo build --release -q --features etcd --bins
else
  cargo build -q --features etcd --bins
fi
# Absolute: the crontab entries name greaserun by this path, run from any directory.
BIN="$(cd "${CARGO_TARGET_DIR:-target}/$profile" && pwd)"
W=$(mktemp -d "${TMPDIR:-/tmp}/sg-bench-queue.XXXXXX")
export SG_ETCD_DIR=$W/etcd SG_ETCD_PORT=${SG_ETCD_PORT:-23890}
pids=()
stop_workers() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_workers
  scripts/etcd-cluster stop >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
url=$(scripts/etcd-cluster start)
echo "cluster: $url; binaries: $profile; commit $(git rev-parse --short HEAD); load $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$W/job.jar" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
PY
job=bench-true
# Project "queue": the benchmarked job and 9 others (10 jobs); project "many": 990 more.
project() { # dir artifact first last
  mkdir -p "$W/$1/src/main/cron"
  {
    [ "$3" = 0 ] && echo "0 0 1 1 * root $BIN/greaserun --job $job --runner shell $W/job.jar -- /bin/true"
    for i in $(seq "$(( $3 == 0 ? 1 : $3 ))" "$4"); do
      echo "$((i % 60)) $((i % 24)) * * * root $BIN/greaserun --job other-$i --runner shell $W/job.jar -- /bin/true"
    done
  } > "$W/$1/src/main/cron/jobs.cron"
  printf '<project><groupId>com.example.bench</groupId><artifactId>%s</artifactId></project>\n' "$2" > "$W/$1/pom.xml"
}
project queue queue 0 9
project many many 10 999

config() { # file store cron-dir
  cat > "$1" <<JSON
{"common": {"file_logger": "$W/logs"},
 "launch": {"crontab_etc_crond": "$3", "crontab_unique_prefix": "sgbench", "allow_root": true},
 "guard": {"max_load_per_cpu": 1000, "max_running": 4, "min_available_memory_mb": 0, "max_delay_s": 0},
 "alerts": {"check": false},
 "store": "$2"}
JSON
}
start_workers() { # store n
  local i
  for i in $(seq 1 "$2"); do
    local h; h=$(printf 'w%02d.bench' "$i")
    mkdir -p "$W/workers/$h/cron.d"
    config "$W/workers/$h/config.json" "$1" "$W/workers/$h/cron.d"
    SCALEGREASE_CONFIG="$W/workers/$h/config.json" SCALEGREASE_HOSTNAME=$h \
      "$BIN/greasesnatch" --watch -q >>"$W/workers/$h/log" 2>&1 &
    pids+=($!)
  done
}
metrics() { # prints "ranges puts deletes txns"
  local i r=0 m
  for i in 0 1 2; do
    m=$(curl -s "http://127.0.0.1:$((SG_ETCD_PORT + i))/metrics" || true)
    r=$((r + $(awk '/^etcd_mvcc_range_total /{printf "%d", $2}' <<<"$m")))
    [ "$i" = 0 ] && w=$(awk '/^etcd_mvcc_(put|delete|txn)_total /{v[$1]=$2} END{printf "%d %d %d", v["etcd_mvcc_put_total"], v["etcd_mvcc_delete_total"], v["etcd_mvcc_txn_total"]}' <<<"$m")
  done
  echo "$r $w"
}
delta() { # before after divisor label
  python3 - "$1" "$2" "$3" "$4" <<'PY'
import sys
b, a = [list(map(int, s.split())) for s in sys.argv[1:3]]
d = [y - x for x, y in zip(b, a)]
n = float(sys.argv[3])
print(f"{sys.argv[4]}: {sum(d)/n:.1f} operations (ranges {d[0]/n:.1f}, puts {d[1]/n:.1f}, deletes {d[2]/n:.1f}, txns {d[3]/n:.1f})")
PY
}
stats() { # records.json kind slot-from slot-to [t0]: latency percentiles or drain rate
  python3 - "$@" <<'PY2'
import json, sys, datetime as dt
lo, hi = sys.argv[3], sys.argv[4]
recs = [r for r in json.load(open(sys.argv[1]))
        if r.get("requested_at") and r.get("start") and lo <= r["slot"] < hi]
t = lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
if sys.argv[2] == "latency":
    lat = sorted((t(r["start"]) - t(r["requested_at"])) * 1000 for r in recs)
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
    print(f"submit -> start over {len(lat)} requests: p50 {q(0.5):.0f} ms, p99 {q(0.99):.0f} ms, max {lat[-1]:.0f} ms")
    # greasedispatch's own time (requested_at to its exit), and start after that exit.
    done = dict(l.split() for l in open(sys.argv[5])) if len(sys.argv) > 5 else {}
    own = sorted((float(done[r["slot"]]) - t(r["requested_at"])) * 1000 for r in recs if r["slot"] in done)
    after = sorted(max(0.0, t(r["start"]) - float(done[r["slot"]])) * 1000 for r in recs if r["slot"] in done)
    if own:
        qq = lambda v, p: v[min(len(v) - 1, int(p * len(v)))]
        print(f"  of which greasedispatch itself (requested_at -> its exit): p50 {qq(own, 0.5):.0f} ms, p99 {qq(own, 0.99):.0f} ms;"
              f" start after greasedispatch exited: p50 {qq(after, 0.5):.0f} ms, p99 {qq(after, 0.99):.0f} ms")
    print(f"RESULT latency {q(0.5):.0f} {q(0.99):.0f} {lat[-1]:.0f}", file=sys.stderr)
else:
    t0 = float(sys.argv[5]); end = max(t(r["end"]) for r in recs if r.get("end"))
    ok = sum(r["status"] == "succeeded" for r in recs)
    hosts = len({r["host"] for r in recs})
    print(f"drain: {len(recs)} runs ({ok} succeeded) on {hosts} workers in {end - t0:.1f} s = {len(recs) / (end - t0):.0f} requests/s")
    print(f"RESULT drain {len(recs) / (end - t0):.1f}", file=sys.stderr)
PY2
}
remaining() { # requests queued or in flight, counted without reading them
  if [ "$backend" = etcd ]; then
    local n=0 top
    for top in queue taken; do
      n=$((n + $(ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$SG_ETCD_PORT" get --prefix "queue/$top/" --limit 1 -w json \
        | python3 -c 'import json, sys; print(json.load(sys.stdin).get("count", 0))')))
    done
    echo "$n"
  else
    find "$store/queue" "$store/taken" -type f | wc -l
  fi
}
wait_drained() {
  sleep 1
  until [ "$(remaining)" = 0 ]; do sleep 2; done
}
idle() { # label
  stop_workers; start_workers "$store" 1; sleep 5
  local b a; b=$(metrics); sleep "$idle_s"; a=$(metrics)
  delta "$b" "$a" "$(python3 -c "print($idle_s / 60)")" "idle worker, $1, per minute"
  stop_workers
}

for backend in ${BACKENDS:-dir etcd}; do
  store="$W/store-$backend"; [ "$backend" = etcd ] && store="${url%/scalegrease}/queue"
  config "$W/front.json" "$store" "$W/front-cron"
  export SCALEGREASE_CONFIG="$W/front.json"
  "$BIN/greaselaunch" --init-store >/dev/null
  "$BIN/greaselaunch" --project-dir "$W/queue" --revision r1 >/dev/null
  if [ "$backend" = etcd ]; then
    idle "10 published jobs, no request ever"
    "$BIN/greaselaunch" --project-dir "$W/many" --revision r1 >/dev/null
    idle "1,000 published jobs, no request ever"
  fi

  for run in $(seq 1 "$runs"); do
    echo "== $backend run $run: 1. submit -> start latency, $latency_n requests, $workers workers (--watch)"
    start_workers "$store" "$workers"; sleep 3
    day=$(date -u -d "2020-01-01 +$run day" +%Y-%m-%d)
    : > "$W/disp.times"
    for i in $(seq 1 "$latency_n"); do
      slot=$(date -u -d "$day +$i min" +%Y-%m-%dT%H:%MZ)
      "$BIN/greasedispatch" -q "$job" --slot "$slot" >/dev/null
      echo "$slot $(date +%s.%N)" >> "$W/disp.times"
      sleep 0.1
    done
    wait_drained
    "$BIN/greasestatus" runs "$job" --json > "$W/lat.json"
    stats "$W/lat.json" latency "${day}T00" "${day}T23" "$W/disp.times" 2>>"$W/results-$backend"
    stop_workers
  done

  for run in $(seq 1 "$drain_runs"); do
    echo "== $backend run $run: 2. drain of $drain_n /bin/true requests over $workers workers"
    # Run r's slots: the drain_n minutes before 2021-r-01 (a window of its own).
    last=$(date -u -d "2021-$(printf %02d "$run")-01 -1 min" +%Y-%m-%dT%H:%MZ)
    first=$(date -u -d "2021-$(printf %02d "$run")-01 -$drain_n min" +%Y-%m-%dT%H:%MZ)
    t=$(date +%s.%N)
    "$BIN/greasedispatch" -q "$job" --slot "$last" --backfill "${drain_n}m" --every 1m --limit "$drain_n" >/dev/null
    echo "queued $drain_n requests in $(python3 -c "import time; print(f'{time.time() - $t:.1f}')") s"
    [ "$backend" = etcd ] && before=$(metrics)
    t0=$(date +%s.%N)
    start_workers "$store" "$workers"
    wait_drained
    [ "$backend" = etcd ] && delta "$before" "$(metrics)" "$drain_n" "store operations per request"
    "$BIN/greasestatus" runs "$job" --since "$first" --json > "$W/drain.json"
    stats "$W/drain.json" drain "$first" "${last}~" "$t0" 2>>"$W/results-$backend"
    stop_workers
  done
  [ "$backend" = etcd ] && idle "1,000 published jobs, after $((runs * latency_n + drain_runs * drain_n)) requests"
  python3 - "$W/results-$backend" "$backend" <<'PY2'
import sys, statistics as st
rows = [l.split()[1:] for l in open(sys.argv[1]) if l.startswith("RESULT")]
for kind, names in (("latency", ["p50", "p99", "max"]), ("drain", ["requests/s"])):
    vals = [list(map(float, r[1:])) for r in rows if r[0] == kind]
    if vals:
        cols = list(zip(*vals))
        print(f"{sys.argv[2]} {kind} over {len(vals)} runs: " + "; ".join(
            f"{n} median {st.median(c):.0f} (min {min(c):.0f}, max {max(c):.0f})" for n, c in zip(names, cols)))
PY2
done
