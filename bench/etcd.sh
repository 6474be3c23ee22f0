#!/usr/bin/env bash
# Benchmarks of the etcd store (issue 5) beside the directory store, in the same run, on a
# real 3-member etcd cluster on loopback (scripts/etcd-cluster):
#   1. greasesnatch with 10,000 crontabs in the store (1,000 projects x 10) and nothing
#      changed: wall time (hyperfine), directory store vs etcd.
#   2. greasesnatch --watch: time from the start of a greaselaunch to the changed file in
#      the cron dir (20 launches; median and max), directory store vs etcd.
#   3. Claim throughput with 8 concurrent claimer processes (bench/store_bench.rs).
#   4. The Dron load through the funnel (examples/funnel_bench.rs): INSTANCES (default
#      1,500) job instances at 30/s across 20 worker processes; duplicates, lost, and the
#      time from scheduled start to job process start.
# Usage: bench/etcd.sh [PROJECTS] (default 1000). Method and figures: BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
projects=${1:-1000}
cargo build --release -q --features etcd --bins --example store_bench
BIN="${CARGO_TARGET_DIR:-target}/release"
W=$(mktemp -d /tmp/sg-bench-etcd.XXXXXX)
export SG_ETCD_DIR=$W/etcd SG_ETCD_PORT=${SG_ETCD_PORT:-23790}
watcher=""
cleanup() {
  [ -n "$watcher" ] && kill "$watcher" 2>/dev/null || true
  scripts/etcd-cluster stop >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
url=$(scripts/etcd-cluster start)
echo "cluster: $url"

entry() { # a realistic three-line crontab
  printf 'MAILTO=ops@example.com\n# %s\n%d %d * * * nobody greaserun --runner shell /opt/jobs/%s.sh {date}\n*/15 8-18 * * mon-fri nobody greaserun --runner shell /opt/jobs/%s-poll.sh\n' "$1" $(($2 % 60)) $(($2 % 24)) "$1" "$1"
}
mkdir -p "$W/projects"
for p in $(seq 1 "$projects"); do
  d="$W/projects/p$p"; mkdir -p "$d/src/main/cron"
  for c in $(seq 1 10); do entry "job$p-$c" $((p + c)) > "$d/src/main/cron/job$c.cron"; done
done

now_ns() { date +%s%N; }

for backend in dir etcd; do
  store="$W/store"; [ "$backend" = etcd ] && store="$url"
  mkdir -p "$W/$backend/cron.d"
  cat > "$W/$backend/config.json" <<JSON
{"launch": {"crontab_etc_crond": "$W/$backend/cron.d", "crontab_unique_prefix": "sgbench"}, "store": "$store"}
JSON
  export SCALEGREASE_CONFIG="$W/$backend/config.json"
  "$BIN/greaselaunch" --init-store >/dev/null
  echo "== $backend: launching $projects projects x 10 crontabs"
  for p in $(seq 1 "$projects"); do
    "$BIN/greaselaunch" --project-dir "$W/projects/p$p" --group com.example.bench --artifact "p$p" --revision r1 >/dev/null 2>&1
  done
  "$BIN/greasesnatch"
  test "$(ls "$W/$backend/cron.d" | wc -l)" -eq $((projects * 10))

  echo "== $backend: 1. greasesnatch, $((projects * 10)) crontabs, nothing changed"
  before=$(cd "$W/$backend/cron.d" && find . -printf '%i %T@ %s %p\n' | sort)
  hyperfine -N --warmup 2 --runs 15 -n "greasesnatch on $backend (nothing changed)" "$BIN/greasesnatch"
  after=$(cd "$W/$backend/cron.d" && find . -printf '%i %T@ %s %p\n' | sort)
  [ "$before" = "$after" ] && echo "cron dir unchanged (inodes, mtimes, sizes)" || echo "cron dir CHANGED"

  echo "== $backend: 2. greasesnatch --watch, launch start -> file changed (20 launches)"
  "$BIN/greasesnatch" --watch >/dev/null 2>&1 &
  watcher=$!
  sleep 1
  d="$W/projects/p1"; f="$W/$backend/cron.d/sgbench__com_example_bench__p1__job1_cron"
  lat=()
  for i in $(seq 1 20); do
    entry "watch-$backend-$i" "$i" > "$d/src/main/cron/job1.cron"
    t0=$(now_ns)
    "$BIN/greaselaunch" --project-dir "$d" --group com.example.bench --artifact p1 --revision "w$i" >/dev/null 2>&1
    t1=$(now_ns)
    until grep -q "watch-$backend-$i" "$f" 2>/dev/null; do :; done
    t2=$(now_ns)
    lat+=("$(( (t2 - t0) / 1000000 )) $(( (t1 - t0) / 1000000 ))")
  done
  kill "$watcher"; wait "$watcher" 2>/dev/null || true; watcher=""
  printf '%s\n' "${lat[@]}" | sort -n | awk '{a[NR]=$1; l+=$2} END {printf "launch start -> installed: median %d ms, max %d ms (greaselaunch itself: mean %.0f ms)\n", a[int((NR+1)/2)], a[NR], l/NR}'
done

echo "== 3. claim throughput, 8 concurrent claimer processes"
for store in "$W/claims-dir" "$url"; do
  "$BIN/examples/store_bench" --store "$store" --claimers 8 --claims 1000
  "$BIN/examples/store_bench" --store "$store" --claimers 8 --claims 1000 --race
done

echo "== 4. the Dron load through the funnel: slot start -> job start (20 workers, 30/s)"
instances=${INSTANCES:-1500}
cargo build --release -q --features etcd --example funnel_bench
"$BIN/examples/funnel_bench" dron --store "$W/dron-dir" --workers 20 --instances "$instances" --rate 30
"$BIN/examples/funnel_bench" dron --store "${url%/scalegrease}/dron" --out "$W/dron-etcd-latency" --workers 20 --instances "$instances" --rate 30
