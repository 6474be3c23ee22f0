#!/usr/bin/env bash
# Farm scale (issue 11): the simulation of bench/scale_sim.rs, in three parts:
#   before  process starts and store requests per slot, today's farm (every worker holds
#           every entry, k = all) beside placement (k = 2), at 20, 100 and 1,000 workers
#           (1,000 entries, one simulated hour, nobody dies: per-slot figures only);
#   big     1,000 workers x 10,000 hourly entries over a simulated day, 10% of the workers
#           dying at random times and half of those coming back, RUNS times (seeds 1..);
#   etcd    200 workers x 2,000 entries for ETCD_HOURS simulated hours against a real
#           3-member etcd cluster on loopback (scripts/etcd-cluster).
# Usage: bench/scale.sh [before|big|etcd|all] (default all). PROFILE=debug uses a debug
# build (the big part then takes long); RUNS (3), BIG_HOURS (24), ETCD_HOURS (2) change
# the sizes. Every worker reads and parses the whole member list each simulated minute,
# as greasesnatch does, so the big part costs about W^2 member parses a simulated minute
# (about 25 CPU minutes for a day at 1,000 workers).
# Method and figures: BENCHMARKS.md, "Farm scale".
set -euo pipefail
cd "$(dirname "$0")/.."
part=${1:-all}
profile=${PROFILE:-release} runs=${RUNS:-3} etcd_hours=${ETCD_HOURS:-2} big_hours=${BIG_HOURS:-24}
if [ "$profile" = release ]; then
  cargo build --release -q --features etcd --example scale_sim
else
  cargo build -q --features etcd --example scale_sim
fi
SIM="${CARGO_TARGET_DIR:-target}/$profile/examples/scale_sim"
echo "commit $(git rev-parse --short HEAD), $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$part" = before ] || [ "$part" = all ]; then
  echo "== before/after: per slot, 1,000 hourly entries, 1 simulated hour, no deaths"
  for w in 20 100 1000; do
    for k in 0 2; do
      "$SIM" --workers "$w" --entries 1000 --hours 1 --deaths 0 --replicas "$k" | grep -E '^(per slot|RESULT)'
    done
  done
fi

if [ "$part" = big ] || [ "$part" = all ]; then
  for seed in $(seq 1 "$runs"); do
    echo "== 1,000 workers x 10,000 entries, $big_hours simulated hours, seed $seed"
    "$SIM" --workers 1000 --entries 10000 --hours "$big_hours" --seed "$seed"
  done
fi

if [ "$part" = etcd ] || [ "$part" = all ]; then
  W=$(mktemp -d "${TMPDIR:-/tmp}/sg-bench-scale.XXXXXX")
  export SG_ETCD_DIR=$W/etcd SG_ETCD_PORT=${SG_ETCD_PORT:-23990}
  trap 'scripts/etcd-cluster stop >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
  url=$(scripts/etcd-cluster start)
  echo "== etcd ($url): 200 workers x 2,000 entries, $etcd_hours simulated hours"
  "$SIM" --workers 200 --entries 2000 --hours "$etcd_hours" --store "$url"
  echo "etcd database size after the run: $(ETCDCTL_API=3 etcdctl --endpoints "$(scripts/etcd-cluster url | sed 's|etcd://||; s|/.*||')" endpoint status -w json | grep -o '"dbSize":[0-9]*' | head -1)"
fi
