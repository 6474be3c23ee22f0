#!/usr/bin/env bash
# Runs the library benchmarks (benches/dispatch.rs, benches/deployment.rs: divan) RUNS
# times (default 5) and prints, as the Markdown tables in BENCHMARKS.md: the machine, the
# commit, each benchmark's median time (the median over the runs of divan's per-run
# median, with the min-max of those), and each ours/baseline ratio (computed within each
# run, then the median and min-max over the runs). Ratios are what to compare across
# machines and loads; the times are only for the machine named.
# Usage: benches/ratios.sh [RUNS]   (env DIVAN_ARGS overrides the per-run sampling)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-5}"
DIVAN_ARGS="${DIVAN_ARGS:---sample-count 40 --min-time 0.05}"
OUT=$(mktemp -d /tmp/sg-bench-lib.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
cargo bench -q --bench dispatch --bench deployment --no-run 2>/dev/null
for i in $(seq 1 "$RUNS"); do
  for b in dispatch deployment; do
    # shellcheck disable=SC2086
    cargo bench -q --bench "$b" -- $DIVAN_ARGS > "$OUT/$b.$i.txt" 2>/dev/null
  done
done
{
  echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src benches || echo ' (with uncommitted changes)')"
  echo "machine: nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), runs: $RUNS, divan: $DIVAN_ARGS"
} > "$OUT/meta.txt"
python3 - "$OUT" "$RUNS" <<'PY'
import re, statistics, sys, pathlib
out, runs = pathlib.Path(sys.argv[1]), int(sys.argv[2])
UNIT = {"ps": 1e-3, "ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}
ROW = re.compile(r"^([│├╰─ ]*)(\S+)\s*(.*)$")

def parse(path, bench):
    """divan's tree table -> {"bench/group/fn[/arg]": median ns}"""
    medians, stack = {}, []
    for line in path.read_text().splitlines()[1:]:
        m = ROW.match(line)
        if not m or not m.group(2):
            continue
        depth = len(m.group(1)) // 3
        stack[depth - 1:] = [m.group(2)]
        cols = [c.strip() for c in m.group(3).split("│")]
        if len(cols) >= 3 and cols[2]:
            value, unit = cols[2].split()
            medians["/".join([bench] + stack)] = float(value) * UNIT[unit]
    return medians

per_run = []
for i in range(1, runs + 1):
    r = {}
    for b in ("dispatch", "deployment"):
        r.update(parse(out / f"{b}.{i}.txt", b))
    per_run.append(r)

def fmt_ns(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"

print((out / "meta.txt").read_text())
print("| benchmark | median | min–max |\n| --- | --- | --- |")
for name in per_run[0]:
    xs = [r[name] for r in per_run if name in r]
    print(f"| `{name}` | {fmt_ns(statistics.median(xs))} | {fmt_ns(min(xs))} – {fmt_ns(max(xs))} |")

PAIRS = [
    ("dispatch/crontab_parse/ours_parse_validate_1000", "dispatch/crontab_parse/baseline_croner_1000"),
    ("dispatch/crontab_parse/ours_parse_validate_1000", "dispatch/crontab_parse/baseline_split_words_1000"),
    ("dispatch/next_fire/ours_next_after_6/ordinary_day", "dispatch/next_fire/baseline_croner_next_6/ordinary_day"),
    ("dispatch/next_fire/ours_next_after_6/dst_night", "dispatch/next_fire/baseline_croner_next_6/dst_night"),
    ("deployment/version_order/ours_compare_sort_1000", "deployment/version_order/baseline_string_sort_1000"),
    ("deployment/version_order/ours_parsed_sort_1000", "deployment/version_order/baseline_string_sort_1000"),
    ("deployment/version_order/ours_highest_1000", "deployment/version_order/baseline_string_max_1000"),
    ("deployment/metadata_parse/ours_parse/2", "deployment/metadata_parse/baseline_event_scan/2"),
    ("deployment/metadata_parse/ours_parse/1000", "deployment/metadata_parse/baseline_event_scan/1000"),
    ("deployment/metadata_parse/ours_parse_newest/1000", "deployment/metadata_parse/baseline_event_scan/1000"),
]
print("\n| ours ÷ baseline | median ratio | min–max |\n| --- | --- | --- |")
for ours, base in PAIRS:
    xs = [r[ours] / r[base] for r in per_run if ours in r and base in r]
    if not xs:
        print(f"| `{ours}` ÷ `{base}` | missing | |")
        continue
    print(f"| `{ours.split('/', 2)[2]}` ÷ `{base.split('/', 2)[2]}` | {statistics.median(xs):.3g} | {min(xs):.3g} – {max(xs):.3g} |")
PY
