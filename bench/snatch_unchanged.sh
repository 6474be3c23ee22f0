#!/usr/bin/env bash
# greasesnatch with nothing changed at 10,000 crontabs (1,000 projects x 10), before and
# after the no-change round (issue 11, src/dispatch/snatch/skip.rs), in ONE run, with the
# real release binaries, on the directory store and on a real 3-member etcd cluster
# (scripts/etcd-cluster). Each worker config has its own cron dir over the same store:
#   full k=0  "before": the full round every greasesnatch made before skip.rs (list every
#             bundle, verify, validate, compare the 10,000 installed files), forced by
#             removing the round's record (`.sgbench.round`) before each run;
#             launch.replicas 0, as before placement
#   full k=2  the same full round with placement (launch.replicas 2: beat, member list,
#             placing 20,000 entries): what a round costs when something changed
#   skip k=0  "after": the no-change round, launch.replicas 0 (the bundles' stamp only)
#   skip k=2  "after": the no-change round with the default launch.replicas 2
#   defaults  (only with DEFAULTS=1) the no-change round with the pull and alert rounds
#             on, as a default one-shot greasesnatch runs (snatch.pull, alerts.check):
#             the alert round reads each entry's ledger, so it is slow at 10,000 entries
# The others run with snatch.pull and alerts.check off (the install round alone).
# Time: hyperfine (RUNS timed runs, 2 warm-up; defaults: DEFAULT_RUNS, 1 warm-up). Store requests
# per round: etcd, the gRPC messages the 3 members received (their /metrics,
# grpc_server_msg_received_total, summed, before and after REQ_ROUNDS rounds); the
# directory store, the system calls of one round that name a path under the store
# (strace -f -y). The record of each no-change config is compared before and after its
# runs (unchanged: no full round ran among them).
# Usage: bench/snatch_unchanged.sh [PROJECTS] (default 1000). Figures: BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
projects=${1:-1000} runs=${RUNS:-15} default_runs=${DEFAULT_RUNS:-2} req_rounds=${REQ_ROUNDS:-10}
cargo build --release -q --features etcd --bin greaselaunch --bin greasesnatch
BIN="${CARGO_TARGET_DIR:-target}/release"
W=$(mktemp -d "${TMPDIR:-/tmp}/sg-bench-unchanged.XXXXXX")
export SG_ETCD_DIR=$W/etcd SG_ETCD_PORT=${SG_ETCD_PORT:-23890}
trap 'scripts/etcd-cluster stop >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
url=$(scripts/etcd-cluster start)
echo "commit $(git rev-parse --short HEAD), $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg), cluster $url"

entry() { # a realistic three-line crontab (as bench/dispatch.sh and bench/etcd.sh)
  printf 'MAILTO=ops@example.com\n# %s\n%d %d * * * nobody greaserun --runner shell /opt/jobs/%s.sh {date}\n*/15 8-18 * * mon-fri nobody greaserun --runner shell /opt/jobs/%s-poll.sh\n' "$1" $(($2 % 60)) $(($2 % 24)) "$1" "$1"
}
mkdir -p "$W/projects"
for p in $(seq 1 "$projects"); do
  d="$W/projects/p$p"; mkdir -p "$d/src/main/cron"
  for c in $(seq 1 10); do entry "job$p-$c" $((p + c)) > "$d/src/main/cron/job$c.cron"; done
done

configs="full0 full2 skip0 skip2"
[ "${DEFAULTS:-0}" = 1 ] && configs="$configs defaults"
config() { # backend store name -> writes $W/$1/$3/config.json
  local replicas=2 quiet='"snatch": {"pull": false}, "alerts": {"check": false},'
  case $3 in full0|skip0) replicas=0 ;; esac
  [ "$3" = defaults ] && quiet=""
  mkdir -p "$W/$1/$3/cron.d"
  cat > "$W/$1/$3/config.json" <<JSON
{"launch": {"crontab_etc_crond": "$W/$1/$3/cron.d", "crontab_unique_prefix": "sgbench", "replicas": $replicas},
 $quiet "common": {"hostname": "bench-w1"}, "store": "$2"}
JSON
}
etcd_msgs() { # gRPC messages received by the 3 members, by method
  local i
  for i in 0 1 2; do curl -s "http://127.0.0.1:$((SG_ETCD_PORT + i))/metrics"; done |
    awk '/^grpc_server_msg_received_total/ { match($0, /grpc_method="[^"]*"/); m = substr($0, RSTART + 13, RLENGTH - 14); n[m] += $NF }
         END { for (m in n) print m, n[m] }' | sort
}

for backend in dir etcd; do
  store="$W/store"; [ "$backend" = etcd ] && store="$url"
  for c in $configs; do config "$backend" "$store" "$c"; done
  export SCALEGREASE_CONFIG="$W/$backend/full0/config.json"
  "$BIN/greaselaunch" --init-store >/dev/null
  echo "== $backend: launching $projects projects x 10 crontabs"
  for p in $(seq 1 "$projects"); do
    "$BIN/greaselaunch" --project-dir "$W/projects/p$p" --group com.example.bench --artifact "p$p" --revision r1 >/dev/null 2>&1
  done
  # The directory store's stamp is trusted once bundles/ is 2 s old: wait, then install
  # with every config (recording each one's round).
  sleep 3
  for c in $configs; do
    SCALEGREASE_CONFIG="$W/$backend/$c/config.json" "$BIN/greasesnatch" -q
    test "$(ls "$W/$backend/$c/cron.d" | wc -l)" -eq $((projects * 10))
    test -f "$W/$backend/$c/cron.d/.sgbench.round" || echo "$backend $c: no round recorded"
  done

  echo "== $backend: time per round ($runs runs each)"
  rec() { cat "$W/$backend"/skip0/cron.d/.sgbench.round "$W/$backend"/skip2/cron.d/.sgbench.round; }
  before=$(rec)
  cmd() { echo "env SCALEGREASE_CONFIG=$W/$backend/$1/config.json $BIN/greasesnatch -q"; }
  hyperfine -N --warmup 2 --runs "$runs" --export-json "$W/$backend.json" \
    --prepare "rm -f $W/$backend/full0/cron.d/.sgbench.round" -n "$backend full round, k=0 (before)" "$(cmd full0)" \
    --prepare "rm -f $W/$backend/full2/cron.d/.sgbench.round" -n "$backend full round, k=2" "$(cmd full2)" \
    --prepare true -n "$backend no-change round, k=0 (after)" "$(cmd skip0)" \
    --prepare true -n "$backend no-change round, k=2 (after)" "$(cmd skip2)"
  [ "$before" = "$(rec)" ] && echo "no-change records unchanged: no full round among their runs" || echo "a no-change config ran a full round"
  if [ "${DEFAULTS:-0}" = 1 ]; then
    hyperfine -N --warmup 1 --runs "$default_runs" -n "$backend no-change round, defaults (pull + alerts)" "$(cmd defaults)"
  fi

  echo "== $backend: store requests per round"
  for c in $configs; do
    prep=true; case $c in full*) prep="rm -f $W/$backend/$c/cron.d/.sgbench.round" ;; esac
    # One round first, so a no-change config's record is fresh (a full round at least
    # every 5 minutes).
    SCALEGREASE_CONFIG="$W/$backend/$c/config.json" "$BIN/greasesnatch" -q
    if [ "$backend" = etcd ]; then
      n=$req_rounds; [ "$c" = defaults ] && n=1
      a=$(etcd_msgs)
      for _ in $(seq 1 "$n"); do $prep; SCALEGREASE_CONFIG="$W/$backend/$c/config.json" "$BIN/greasesnatch" -q; done
      b=$(etcd_msgs)
      join -a2 -e0 -o 0,1.2,2.2 <(echo "$a") <(echo "$b") |
        awk -v c="$c" -v n="$n" '{ d = ($3 - $2) / n; if (d > 0) { t += d; s = s sprintf(" %s %.1f", $1, d) } }
          END { printf "etcd %-8s %6.1f gRPC messages per round (%d rounds):%s\n", c, t, n, s }'
    else
      $prep
      SCALEGREASE_CONFIG="$W/$backend/$c/config.json" strace -f -y -qq -o "$W/strace.$c" "$BIN/greasesnatch" -q
      grep -F "$W/store" "$W/strace.$c" | sed -E 's/^[0-9]+ +//; s/\(.*//' | sort | uniq -c |
        awk -v c="$c" '{ t += $1; s = s sprintf(" %s %d", $2, $1) } END { printf "dir  %-8s %6d system calls naming the store:%s\n", c, t, s }'
    fi
  done
done
