#!/usr/bin/env python3
"""Checks a cluster.sh run: client logs and the cross-node report. Usage: check_cluster.py WORKDIR KILLED_AT_MS NODE"""
import glob
import json
import re
import statistics
import sys

work, killed_at, killed_node = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
report = json.load(open(f"{work}/cluster-report.json"))
problems = []

started = {}  # run -> user
rejected_runs = set()
deliveries = duplicates = 0
failovers = []
# A client killed mid-run: its runs and deliveries count with its restarted process (client-N.log).
killed = {}
for path in glob.glob(f"{work}/killed-*.log"):
    text = open(path).read()
    index = int(re.search(r"killed-(\d+)", path).group(1))
    killed[index] = (re.findall(r'^started: .*"run":"([^"]+)"', text, re.M), len(re.findall(r"^event ", text, re.M)))
for path in sorted(glob.glob(f"{work}/client-*.log")):
    text = open(path).read()
    index = int(re.search(r"client-(\d+)", path).group(1))
    user = ["alice", "bob", "carol", "dave"][index % 4]
    first = index % 3
    earlier_runs, earlier_events = killed.get(index, ([], 0))
    deliveries += earlier_events
    for run in earlier_runs + re.findall(r'^started: .*"run":"([^"]+)"', text, re.M):
        started[run] = user
        if index in (6, 7):
            rejected_runs.add(run)
    m = re.search(r"^deliveries: (\d+) events, highest seq (\d+), duplicates (\d+), gaps (\d+), foreign runs (\d+)", text, re.M)
    if not m:
        problems.append(f"{path}: no deliveries line")
        continue
    deliveries += int(m.group(1))
    duplicates += int(m.group(3))
    if int(m.group(4)) or int(m.group(5)):
        problems.append(f"{path}: {m.group(0)}")
    # Failover: the client's last connection before the kill was to the killed node (its index in --url is
    # (killed - first) mod 3); the time to its first connection after the kill.
    connections = [(int(t), int(n), r == "true") for t, n, r in re.findall(r"^connected at (\d+) node (\d+) session \S+ resumed (\w+)", text, re.M)]
    before = [c for c in connections if c[0] < killed_at]
    after = [c for c in connections if c[0] >= killed_at]
    finished = re.search(r"^finished at (\d+)", text, re.M)
    still_running = finished is None or int(finished.group(1)) > killed_at
    if before and before[-1][1] == (killed_node - first) % 3 and still_running:
        if not after:
            problems.append(f"{path}: never reconnected after the kill")
        else:
            failovers.append(after[0][0] - killed_at)
            if not after[0][2]:
                problems.append(f"{path}: reconnected after the kill without resuming its session")

verdicts = report["runVerdicts"]
runs = sum(verdicts.values())
overall = report["overall"]
events = overall["events"]
confirmed_runs = verdicts.get("confirmed", 0)
failed_runs = verdicts.get("failed", 0)
unconfirmed = {r["run"]: r for r in report["unconfirmedRuns"]}
if runs != len(started):
    problems.append(f"the report has {runs} runs, the clients started {len(started)}")
for name, run in unconfirmed.items():
    if name not in rejected_runs:
        problems.append(f"run {name} not confirmed: {run['verdict']} {run['failures']}")
    elif [f["code"] for f in run["failures"]] != ["rejected"]:
        problems.append(f"rejected run {name} failed otherwise: {run['failures']}")
for name, run in unconfirmed.items():
    if started.get(name) != run["principal"]:
        problems.append(f"run {name} of {started.get(name)} reported for {run['principal']}")
pending = events - sum(overall[level]["confirmedAtRequestedLevel"] for level in ("receipt", "display", "value")) \
    - sum(overall["failuresByReason"].values())
lost = pending + len([n for n in unconfirmed if n not in rejected_runs])
if deliveries != events:
    problems.append(f"the clients delivered {deliveries} events, the report counts {events}")
if report["sessions"] != 0 and False:
    pass
print(f"runs by verdict: {verdicts}; rejected on purpose: {len(rejected_runs)}; nodes: {sorted(report['nodes'])}")
if failovers:
    print(f"failover (kill → resumed on another node) over {len(failovers)} clients: "
          f"p50 {statistics.median(failovers):.0f} ms, max {max(failovers)} ms")
else:
    problems.append("no client was on the killed node")
print(f"cluster: {runs} runs, {events} events, {lost} lost, {duplicates} duplicated")
for problem in problems:
    print("PROBLEM:", problem)
sys.exit(1 if problems or lost or duplicates else 0)
