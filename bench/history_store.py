#!/usr/bin/env python3
"""Fills a directory store with run history as greaserun leaves it: for each of JOBS jobs,
RUNS runs spread over the last 30 days (newest a few minutes ago), each with its claim,
heartbeat, run record and output tail (keys as in src/model/keys.rs). Usage:
history_store.py STORE JOBS RUNS [NAME], NAME a Python format of the job number j
(default "shell:bench-job-{j:04}~{h:08x}", h a hash of j)."""
import datetime, json, os, sys

root, jobs, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
name = sys.argv[4] if len(sys.argv) > 4 else "shell:bench-job-{j:04}~{h:08x}"
now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
span = 30 * 24 * 60  # minutes of history
os.makedirs(root, exist_ok=True)
with open(os.path.join(root, ".scalegrease-store"), "w") as f:
    f.write('{"scalegrease_store":1}')


def put(key, body):
    path = os.path.join(root, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(body)


for j in range(jobs):
    job = name.format(j=j, h=j * 7919 % 65536)
    seg = job.replace("~", "%7E")  # keys::segment
    for r in range(runs):
        minutes = (r * span // runs + j) % span + 5
        slot = now - datetime.timedelta(minutes=minutes)
        skey = slot.strftime("%Y-%m-%dT%H:%MZ")
        host, pid = f"w{j % 20}.example", 1000 + r
        rid = f"{host}-{pid}"
        start = slot + datetime.timedelta(seconds=3)
        end = start + datetime.timedelta(seconds=42)
        iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
        rec = {
            "job": job, "slot": skey, "status": "failed" if r % 17 == 0 else "succeeded",
            "host": host, "pid": pid, "user": "jobs", "claimed": True, "runner": "shell",
            "artifact": "/opt/jobs/bench.jar", "version": "1.0.0",
            "args": ["run", "--date", slot.strftime("%Y-%m-%d")],
            "start": iso(start), "end": iso(end), "exit_code": 1 if r % 17 == 0 else 0,
            "signal": None, "duration_s": 42.0,
            "log_path": f"/var/log/scalegrease/jobs/{host}/runner/shell/bench.jar/{slot:%Y-%m-%d}.log",
            "reason": None, "declines": [],
        }
        put(f"runs/{seg}/{skey}/{rid}", json.dumps(rec))
        put(f"tails/{seg}/{skey}/{rid}", f"[{pid}] output line of run {r}\n" * 8)
        put(f"claims/{seg}/{skey}", json.dumps({
            "job": job, "slot": skey, "host": host, "pid": pid, "user": "jobs", "at": iso(start)}))
        put(f"heartbeats/{seg}/{skey}/{rid}", json.dumps({"host": host, "pid": pid, "at": iso(end)}))
