#!/usr/bin/env bash
# Benchmarks for scheduled dispatch (issue 3), with baselines measured in the same run:
#   1. greasesnatch with 10,000 crontabs in the store (1,000 projects x 10) and nothing
#      changed: wall time vs `cp -r` of the same 10,000 installed files, and proof of zero
#      writes to the cron dir (mtime/inode snapshot before/after, strace syscall counts).
#   2. greaselaunch validating and publishing one project of 1,000 crontab files: wall
#      time vs `cp -r` of the same files.
# Needs hyperfine and strace (scripts/setup installs hyperfine). Usage: bench/dispatch.sh
# Method and figures: BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q --bin greaselaunch --bin greasesnatch --bin greasestatus
BIN="${CARGO_TARGET_DIR:-target}/release"
W=$(mktemp -d /tmp/sg-bench-dispatch.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/cron.d" "$W/projects"
cat > "$W/config.json" <<JSON
{"launch": {"crontab_etc_crond": "$W/cron.d", "crontab_unique_prefix": "sgbench"}, "store": "$W/store"}
JSON
export SCALEGREASE_CONFIG="$W/config.json"
"$BIN/greaselaunch" --init-store >/dev/null

entry() { # a realistic three-line crontab
  printf 'MAILTO=ops@example.com\n# %s\n%d %d * * * nobody greaserun --runner shell /opt/jobs/%s.sh {date}\n*/15 8-18 * * mon-fri nobody greaserun --runner shell /opt/jobs/%s-poll.sh\n' "$1" $(($2 % 60)) $(($2 % 24)) "$1" "$1"
}

echo "== generating 1,000 projects x 10 crontabs and launching them"
for p in $(seq 1 1000); do
  d="$W/projects/p$p"; mkdir -p "$d/src/main/cron"
  for c in $(seq 1 10); do entry "job$p-$c" $((p + c)) > "$d/src/main/cron/job$c.cron"; done
  "$BIN/greaselaunch" --project-dir "$d" --group "com.example.bench" --artifact "p$p" --revision r1 >/dev/null 2>&1
done
"$BIN/greasesnatch"
test "$(ls "$W/cron.d" | wc -l)" -eq 10000

echo "== 1. greasesnatch, 10,000 crontabs, nothing changed"
before=$(cd "$W/cron.d" && find . -printf '%i %T@ %s %p\n' | sort)
hyperfine -N --warmup 2 --runs 15 --output null --export-json "$W/snatch.json" \
  --prepare "rm -rf $W/copy" \
  -n "greasesnatch (nothing changed)" "$BIN/greasesnatch" \
  -n "baseline: cp -r of the 10,000 installed files" "cp -r $W/cron.d $W/copy" \
  -n "baseline: reading the 10,000 installed files (find + cat)" "find $W/cron.d -type f -exec cat {} +"
after=$(cd "$W/cron.d" && find . -printf '%i %T@ %s %p\n' | sort)
if [ "$before" = "$after" ]; then echo "cron dir: identical inodes, mtimes and sizes before and after (dir included)"; else echo "cron dir CHANGED"; diff <(echo "$before") <(echo "$after") | head; fi
if command -v strace >/dev/null; then
  strace -f -qq -e trace=openat,rename,renameat,renameat2,unlink,unlinkat,link,linkat,write,pwrite64,fsync,fchmod,chmod,utimensat \
    -o "$W/strace.txt" "$BIN/greasesnatch" >/dev/null
  echo "syscalls touching the cron dir during one unchanged run:"
  echo "  opens with O_CREAT or write access (excluding the lock file): $(grep -E "openat\(.*$W/cron.d/[^\"]*\"" "$W/strace.txt" | grep -E 'O_CREAT|O_WRONLY|O_RDWR' | grep -vc '\.sgbench\.lock' || true)"
  echo "  rename/unlink/link/chmod/utimensat: $(grep -cE '^[0-9]+ +(rename|renameat|renameat2|unlink|unlinkat|link|linkat|chmod|fchmod|utimensat)\(' "$W/strace.txt" || true)"
  echo "  write/fsync of any file: $(grep -cE '^[0-9]+ +(write|pwrite64|fsync)\((3|[4-9]|[1-9][0-9]+),' "$W/strace.txt" || true)"
fi

echo "== 2. greaselaunch, one project with 1,000 crontab files"
big="$W/projects/big"; mkdir -p "$big/src/main/cron"
for c in $(seq 1 1000); do entry "big-$c" "$c" > "$big/src/main/cron/job$c.cron"; done
hyperfine -N --warmup 2 --runs 15 --export-json "$W/launch.json" \
  --prepare "rm -rf $W/copy" \
  -n "greaselaunch (validate + publish 1,000 files)" "$BIN/greaselaunch --project-dir $big --group com.example.bench --artifact big --revision r1" \
  -n "greaselaunch --check (validate only)" "$BIN/greaselaunch --check --project-dir $big --group com.example.bench --artifact big --revision r1" \
  -n "baseline: cp -r of the 1,000 files" "cp -r $big/src/main/cron $W/copy"
"$BIN/greasestatus" projects | grep -c 'com.example.bench:' | sed 's/^/bundles in store: /'
"$BIN/greasestatus" projects | grep 'com.example.bench:big ' 
