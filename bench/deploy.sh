#!/usr/bin/env bash
# Deployment benchmarks (method and figures: BENCHMARKS.md), all in one run on
# loopback against the same real HTTP server (python3 -m http.server):
#  1. resolve + fetch a SNAPSHOT fat jar (written by mvn deploy:deploy-file): scalegrease vs
#     `mvn dependency:copy` (what the original ran on every job start): time (hyperfine) and
#     peak memory (/usr/bin/time -v);
#  2. an up-to-date SNAPSHOT check: requests counted in the server's log;
#  3. downloading a 200 MiB jar: scalegrease vs curl (and curl + sync, the same durability),
#     interleaved runs;
#  4. a cached fixed version vs the same jar as a local file: requests and time.
# Needs: mvn, libmaven-deploy-plugin-java, libmaven-dependency-plugin-java, hyperfine, curl,
# time (scripts/setup installs them). Env: JAR_MB (default 20), BIG_MB (default 200),
# RUNS (default 10). scalegrease runs as `greaserun -D --dry-run --runner shell <ARTIFACT>
# -- true`: config, guard, resolve, fetch, verify, prepare the command, run nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
JAR_MB="${JAR_MB:-20}"
BIG_MB="${BIG_MB:-200}"
RUNS="${RUNS:-10}"

cargo build -q --release --bin greaserun
GR="$CARGO_TARGET_DIR/release/greaserun -D --dry-run --runner shell"

W="$(mktemp -d "${TMPDIR:-/tmp}/sg-bench-deploy.XXXXXX")"
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT

echo "== building the repository with mvn deploy:deploy-file (${JAR_MB} MiB fat jar)" >&2
python3 - "$W/job.jar" "$JAR_MB" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED) as z:
    z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n\r\n")
    z.writestr("lib/pad.bin", os.urandom(int(sys.argv[2]) << 20))
PY
DEPLOY_SETTINGS="$(scripts/maven-offline-settings)"
for build in 1 2; do
  mvn -q -B -s "$DEPLOY_SETTINGS" org.apache.maven.plugins:maven-deploy-plugin:2.7:deploy-file \
    -Dfile="$W/job.jar" -DgroupId=com.example.bench -DartifactId=job -Dversion=1.0-SNAPSHOT \
    -Dpackaging=jar -Dclassifier=jar-with-dependencies -Durl="file://$W/repo" >&2
done
BIG_DIR="$W/repo/com/example/bench/big/1.0"
mkdir -p "$BIG_DIR"
head -c "$((BIG_MB << 20))" /dev/urandom > "$BIG_DIR/big-1.0-jar-with-dependencies.jar"
(cd "$BIG_DIR" && sha1sum big-1.0-jar-with-dependencies.jar | cut -d' ' -f1 > big-1.0-jar-with-dependencies.jar.sha1)

python3 -u -m http.server --bind 127.0.0.1 0 --directory "$W/repo" > "$W/http.out" 2> "$W/http.log" &
SERVER_PID=$!
for _ in $(seq 100); do grep -q port "$W/http.out" 2>/dev/null && break; sleep 0.05; done
PORT="$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$W/http.out")"
URL="http://127.0.0.1:$PORT"

cat > "$W/scalegrease.json" <<JSON
{"maven": {"repositories": ["$URL"], "cache_dir": "$W/sg-cache"},
 "guard": {"max_load_per_cpu": 1000, "max_running": 1000, "min_available_memory_mb": 0}}
JSON
export SCALEGREASE_CONFIG="$W/scalegrease.json"

cat > "$W/mvn-settings.xml" <<XML
<settings>
  <localRepository>$W/mvn-local</localRepository>
  <mirrors><mirror><id>debian</id><mirrorOf>*,!loop</mirrorOf><url>file:///usr/share/maven-repo</url></mirror></mirrors>
  <profiles><profile><id>loop</id><repositories><repository><id>loop</id><url>$URL</url>
    <releases><enabled>true</enabled></releases>
    <snapshots><enabled>true</enabled><updatePolicy>always</updatePolicy></snapshots>
  </repository></repositories></profile></profiles>
  <activeProfiles><activeProfile>loop</activeProfile></activeProfiles>
</settings>
XML
SNAP=com.example.bench:job:1.0-SNAPSHOT
MVN_COPY="mvn -q -B -s $W/mvn-settings.xml org.apache.maven.plugins:maven-dependency-plugin:3.5.0:copy -Dartifact=$SNAP:jar:jar-with-dependencies -DoutputDirectory=$W/mvn-out"
SG="$GR $SNAP -- true"
# Warm mvn's local repository with its plugins (from Debian's packaged repository) once.
$MVN_COPY >&2

echo "== 1. SNAPSHOT resolve + fetch (cold artifact, warm tools)" >&2
hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$W/snap.json" \
  --prepare "rm -rf $W/sg-cache" -n scalegrease "$SG" \
  --prepare "rm -rf $W/mvn-local/com/example/bench $W/mvn-out" -n "mvn dependency:copy" "$MVN_COPY" >&2

peak() { # peak RSS in KiB of a command, max over 3 runs, after its prepare command
  local prep="$1"; shift; local best=0
  for _ in 1 2 3; do
    eval "$prep"
    local kb # GNU time's "Maximum resident set size" (what -v reports), last on the last line
    kb="$(/usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1 | grep -o '[0-9]*$')"
    [ "$kb" -gt "$best" ] && best="$kb"
  done
  echo "$best"
}
SG_KB="$(peak "rm -rf $W/sg-cache" $SG)"
MVN_KB="$(peak "rm -rf $W/mvn-local/com/example/bench $W/mvn-out" $MVN_COPY)"

echo "== 2. up-to-date SNAPSHOT check: requests" >&2
$SG >/dev/null
before="$(grep -c '"GET ' "$W/http.log" || true)"
$SG >/dev/null
after="$(grep -c '"GET ' "$W/http.log" || true)"
UPTODATE_REQS=$((after - before))
UPTODATE_WHAT="$(grep '"GET ' "$W/http.log" | tail -n "$UPTODATE_REQS" | sed 's/.*"GET \([^ ]*\).*/\1/' | tr '\n' ' ')"
hyperfine -N --warmup 2 --runs $((RUNS * 3)) --export-json "$W/uptodate.json" -n "up-to-date" "$SG" >&2

echo "== 3. ${BIG_MB} MiB download" >&2
BIG=com.example.bench:big:1.0
BIG_URL="$URL/com/example/bench/big/1.0/big-1.0-jar-with-dependencies.jar"
mkdir -p "$W/curl-out"
# Interleaved rounds (scalegrease, curl, curl + sync, scalegrease, ...) rather than
# hyperfine's one-command-at-a-time, so that load from other processes hits all three alike.
python3 - "$W/big.json" "$((RUNS * 2))" \
  "rm -rf $W/sg-cache" "$GR $BIG -- true" \
  "rm -f $W/curl-out/big.jar" "curl -sf -o $W/curl-out/big.jar $BIG_URL" \
  "rm -f $W/curl-out/big.jar" "curl -sf -o $W/curl-out/big.jar $BIG_URL && sync $W/curl-out/big.jar" <<'PY'
import json, statistics, subprocess, sys, time
out, rounds, *cmds = sys.argv[1:]
names = ["scalegrease", "curl", "curl + sync"]
times = {n: [] for n in names}
for r in range(int(rounds) + 1):  # round 0 warms up
    for n, prep, cmd in zip(names, cmds[0::2], cmds[1::2]):
        subprocess.run(prep, shell=True, check=True)
        t = time.perf_counter()
        subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL)
        if r:
            times[n].append(time.perf_counter() - t)
res = [{"command": n, "median": statistics.median(v), "mean": statistics.mean(v),
        "min": min(v), "max": max(v)} for n, v in times.items()]
for x in res:
    print(f"  {x['command']}: median {x['median']*1000:.0f} ms (min {x['min']*1000:.0f}, max {x['max']*1000:.0f}, {rounds} runs)", file=sys.stderr)
json.dump({"results": res}, open(out, "w"))
PY
BIG_KB="$(peak "rm -rf $W/sg-cache" $GR $BIG -- true)"

echo "== 4. cached fixed version vs a local jar" >&2
before="$(grep -c '"GET ' "$W/http.log" || true)"
BIG_JAR="$W/sg-cache/com/example/bench/big/1.0/big-1.0-jar-with-dependencies.jar"
hyperfine -N --warmup 5 --runs $((RUNS * 10)) --export-json "$W/cached.json" \
  -n "cached fixed version" "$GR $BIG -- true" -n "local jar" "$GR $BIG_JAR -- true" >&2
CACHED_REQS=$(( $(grep -c '"GET ' "$W/http.log" || true) - before ))

python3 - "$W" "$SG_KB" "$MVN_KB" "$UPTODATE_REQS" "$UPTODATE_WHAT" "$BIG_MB" "$BIG_KB" "$CACHED_REQS" <<'PY'
import json, sys
w, sg_kb, mvn_kb, reqs, what, big_mb, big_kb, cached_reqs = sys.argv[1:]
def res(name):
    return {r["command"]: r for r in json.load(open(f"{w}/{name}.json"))["results"]}
snap, big, up = res("snap"), res("big"), res("uptodate")
ms = lambda r: r["median"] * 1000
s, m = snap["scalegrease"], snap["mvn dependency:copy"]
print(f"SNAPSHOT resolve+fetch: scalegrease median {ms(s):.1f} ms, mvn dependency:copy median {ms(m):.0f} ms: {m['median']/s['median']:.0f}x faster")
print(f"peak RSS: scalegrease {int(sg_kb)/1024:.1f} MiB, mvn {int(mvn_kb)/1024:.1f} MiB: {int(mvn_kb)/int(sg_kb):.0f}x less")
print(f"up-to-date SNAPSHOT check: {reqs} request(s) ({what.strip()}), median {ms(up['up-to-date']):.1f} ms")
mib = int(big_mb)
for name in ["scalegrease", "curl", "curl + sync"]:
    r = big[name]
    print(f"{mib} MiB download: {name}: median {ms(r):.0f} ms = {mib / r['median']:.0f} MiB/s")
print(f"scalegrease / curl throughput: {big['curl']['median'] / big['scalegrease']['median'] * 100:.0f}%; "
      f"vs curl + sync: {big['curl + sync']['median'] / big['scalegrease']['median'] * 100:.0f}%")
print(f"{mib} MiB download peak RSS: scalegrease {int(big_kb)/1024:.1f} MiB")
c = res("cached")
print(f"cached fixed version: {cached_reqs} request(s); greaserun --dry-run median {ms(c['cached fixed version']):.1f} ms "
      f"vs {ms(c['local jar']):.1f} ms with the local jar")
PY
