#!/usr/bin/env python3
"""Checks a cluster-chaos.sh run. Usage: check_chaos.py WORKDIR CHAOS_STARTED_MS"""
import glob
import json
import re
import statistics
import sys

work, chaos_started = sys.argv[1], int(sys.argv[2])
problems = []

# What SimulatedAgent emits, per scenario: each run's events must be exactly these (a prefix if its agent died).
SCRIPTS = {
    "quick": [
        ("agent_started", {"scenario": "quick"}),
        ("agent_thinking", {"text": "Reading the question"}),
        ("tool_executing", {"call": "c1", "tool": "search", "args": {"q": "eventack"}}),
        ("tool_completed", {"call": "c1", "output": "3 documents"}),
        ("agent_completed", {"result": "EventAck confirms delivery, display and value."}),
    ],
    "tool_error": [
        ("agent_started", {"scenario": "tool_error"}),
        ("agent_thinking", {"text": "Reading the question"}),
        ("tool_executing", {"call": "c1", "tool": "fetch_url", "args": {"url": "https://example.invalid"}}),
        ("tool_completed", {"call": "c1", "output": "error: upstream timed out", "isError": True}),
        ("agent_failed", {"error": "The tool failed; no answer."}),
    ],
}

faults = []
for line in open(f"{work}/faults.txt"):
    what, at = line.rsplit(" ", 1)
    faults.append((what, int(at)))

survived = set()
for path in glob.glob(f"{work}/node-*.log"):
    survived.update(re.findall(r"run=(\S+).*run finished emitting", open(path).read()))

runs = {}  # run -> {"scenario", "client", "events": [(kind, payload)], "abandoned", "ended"}
clients = 0
deliveries = 0
for path in sorted(glob.glob(f"{work}/client-*.log")):
    clients += 1
    text = open(path).read()
    name = path.rsplit("/", 1)[1][:-4]
    if "sessionReset" in text:
        problems.append(f"{name}: session reset")
    for body in re.findall(r"^started: (\{.*\}) at \d+$", text, re.M):
        started = json.loads(body)
        runs[started["run"]] = {"scenario": started["scenario"], "client": name, "events": [], "abandoned": False}
    seqs = []
    for seq, run, kind, payload in re.findall(r"^event (\d+) (\S+) (\S+) \[\w+\] (.*)$", text, re.M):
        seqs.append(int(seq))
        if run not in runs or runs[run]["client"] != name:
            problems.append(f"{name}: seq {seq} of run {run}, which it did not start")
            continue
        runs[run]["events"].append((kind, json.loads(payload)))
    deliveries += len(seqs)
    if seqs != list(range(1, len(seqs) + 1)):
        problems.append(f"{name}: seqs not each once in order: {seqs[:40]}")
    for run in re.findall(r"^abandoned: (\S+)$", text, re.M):
        if run in runs:
            runs[run]["abandoned"] = True
    if "timed out after" in text:
        problems.append(f"{name}: timed out")
    m = re.search(r"^deliveries: .*", text, re.M)
    if not m or not re.search(r"duplicates 0, gaps 0, foreign runs 0", m.group(0)):
        problems.append(f"{name}: {m.group(0) if m else 'no deliveries line'}")

verdicts = {}
for line in open(f"{work}/verdicts.txt"):
    session, run, verdict = line.split()
    if run in verdicts:
        problems.append(f"run {run} has two verdicts in the store")
    verdicts[run] = verdict

died = 0
ended_silent = 0
for run, info in runs.items():
    script = SCRIPTS[info["scenario"]]
    got = info["events"]
    # A run whose agent died ends by the server's hand once its idle timeout passes (EA-RUN-2): a prefix of the
    # script, then agent_failed with reason agent_silent — on whichever node holds the session by then.
    silent = bool(got) and got[-1][0] == "agent_failed" and got[-1][1].get("reason") == "agent_silent"
    if silent:
        got = got[:-1]
    if got != script[: len(got)]:
        problems.append(f"run {run}: events {got} are not what its agent emits ({info['scenario']})")
    if run in survived:
        if got != script:
            problems.append(f"run {run}: its agent emitted all {len(script)} events, the client got {len(got)}")
        if info["abandoned"]:
            problems.append(f"run {run}: abandoned by its client although its agent finished")
        if verdicts.get(run) != "confirmed":
            problems.append(f"run {run}: verdict {verdicts.get(run)} in the store, expected one, confirmed")
    else:
        died += 1
        if silent:
            ended_silent += 1
            if verdicts.get(run) is None:
                problems.append(f"run {run}: ended for silence, yet no verdict in the store")
        elif not info["abandoned"] and got != script:
            problems.append(f"run {run}: its agent died, yet its client neither got it all, nor saw it end, nor gave up")

report = json.load(open(f"{work}/cluster-report.json"))
reported = sum(report["runVerdicts"].values())
if reported != len(verdicts):
    problems.append(f"/cluster/report counts {reported} verdicts, the store holds {len(verdicts)}")
for i in range(3):
    code = open(f"{work}/ready-end-{i}.txt").read().strip()
    if code != "200":
        problems.append(f"node-{i} is not ready at the end: {code}")

# /ready during the PostgreSQL crash, and the recovery times.
ready = [tuple(map(int, line.split())) for line in open(f"{work}/ready.txt") if re.match(r"^\d+ \d \d+$", line)]
times = dict((what, at) for what, at in faults)


def all_ready_after(start):
    states = {}
    for at, node, code in sorted(ready):
        if at < start:
            continue
        states[node] = code
        if len(states) == 3 and all(c == 200 for c in states.values()):
            return at - start
    return None


crash, back = times.get("crash postgres"), times.get("started postgres")
if crash and back:
    for node in range(3):
        if not any(crash <= at <= back + 3000 and n == node and code == 503 for at, n, code in ready):
            problems.append(f"node-{node} never said 503 on /ready while PostgreSQL was down")
recoveries = []
for fault, label in (("started postgres", "crash"), ("thawed postgres", "freeze")):
    if fault in times:
        took = all_ready_after(times[fault])
        recoveries.append(f"{label}: every node ready {took} ms after PostgreSQL was back" if took is not None
                          else f"{label}: the nodes never became ready again")
        if took is None:
            problems.append(f"after the PostgreSQL {label} the nodes never became ready")

failovers = []
connected = []
for path in glob.glob(f"{work}/client-*.log"):
    connected.append([int(t) for t in re.findall(r"^connected at (\d+) node \d+ session \S+ resumed true", open(path).read(), re.M)])
for index, (what, at) in enumerate(faults):
    if what.startswith("kill node"):
        # Reconnections before the next fault are this kill's.
        until = min([t for _, t in faults[index + 1:]] + [at + 15000])
        for times_ in connected:
            after = [t for t in times_ if at < t < until]
            if after:
                failovers.append(after[0] - at)

print(f"chaos: {clients} clients, {len(runs)} runs, {deliveries} events delivered; faults: "
      + ", ".join(what for what, _ in faults))
print(f"runs whose agent finished: {len(runs) - died}, all confirmed once; runs whose agent died with its node: {died}"
      f", {ended_silent} of them ended by the server for silence (agent_silent)")
print(f"verdicts in the store: {len(verdicts)}, by verdict {report['runVerdicts']}")
if failovers:
    print(f"failover (node killed → session resumed elsewhere) over {len(failovers)} clients: "
          f"p50 {statistics.median(failovers):.0f} ms, max {max(failovers)} ms")
for line in recoveries:
    print("database recovery: " + line)
for problem in problems[:60]:
    print("PROBLEM:", problem)
sys.exit(1 if problems else 0)
