#!/usr/bin/env bash
# Execution benchmarks (method and figures in BENCHMARKS.md):
#  1. greaserun's overhead over running the same command directly, with a cached local
#     artifact, the shell runner and the job log on, no claim (no store: the funnel has
#     its own benchmarks) (hyperfine, 300 runs each);
#  2. greaserun's peak memory (/usr/bin/time -v) and wall time while the job prints 1 GB
#     as 73-byte lines, and as one line without newlines, against the job alone.
# Needs hyperfine and Debian's time (scripts/setup installs both). Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --bin greaserun
bin="$target/release/greaserun"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sg-bench-exec-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/logs"
python3 - "$tmp/x.jar" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
PY
cat > "$tmp/c.json" <<JSON
{"common": {"file_logger": "$tmp/logs"},
 "guard": {"max_load_per_cpu": 1000, "max_running": 100000, "min_available_memory_mb": 0, "max_delay_s": 0}}
JSON
export SCALEGREASE_CONFIG="$tmp/c.json"
run=("$bin" -D -q --force --no-claim --runner shell "$tmp/x.jar" --)

echo "== overhead: greaserun vs direct (/bin/true)"
hyperfine -N --warmup 30 --runs 300 --export-json "$tmp/overhead.json" \
  "${run[*]} /bin/true" "/bin/true"
python3 - "$tmp/overhead.json" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))["results"]
med = [statistics.median(x["times"]) * 1000 for x in r]
for x, m in zip(r, med):
    print(f"median {m:7.3f} ms  mean {x['mean']*1000:7.3f} ms  {x['command']}")
print(f"overhead at the median: {med[0] - med[1]:.3f} ms")
PY

gb=1000000000
lines="yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz | head -c $gb"
noline="head -c $gb /dev/zero"
for name in lines noline; do
  job=${!name}
  echo "== 1 GB of output ($name): the job alone, then through greaserun"
  /usr/bin/time -f "alone: %e s, max RSS %M KiB" sh -c "$job" > /dev/null
  rm -rf "$tmp/logs"/*
  /usr/bin/time -f "greaserun: %e s, max RSS %M KiB" "${run[@]}" sh -c "$job" > /dev/null
  echo "log: $(du -sh "$tmp/logs" | cut -f1)"
done
