"""Checks the agent server's /report against what the e2e clients did (see e2e.sh)."""
import glob
import json
import os
import re
import sys

work = sys.argv[1]
report = json.load(open(os.path.join(work, "report.json")))
problems = []

# What each client process started and received, from its log.
started = {}   # run -> client name
received = {}  # client name -> set of runs seen in events
rejecting = {"c2", "c3"}
for path in sorted(glob.glob(os.path.join(work, "c*.log"))):
    # A killed process and the one that resumed its session are one client.
    name = os.path.basename(path)[:-4].replace("-killed", "")
    text = open(path).read()
    for run in re.findall(r'started: \{"run":"(run_[A-Za-z0-9._:-]+)"', text):
        started[run] = name
    received.setdefault(name, set()).update(re.findall(r"^event \d+ (\S+) ", text, re.M))

runs = {run["run"]: run for run in report["runs"]}
print(f"{len(started)} runs started by {len(received)} clients; {len(runs)} runs in the report")

for name, seen in received.items():
    foreign = [run for run in seen if started.get(run) != name]
    if foreign:
        problems.append(f"{name} received events of runs it did not start: {foreign}")

complex_runs = []
for run, client in sorted(started.items()):
    if run not in runs:
        problems.append(f"{run} of {client} is missing from the report")
        continue
    entry = runs[run]
    codes = [failure["code"] for failure in entry["failures"]]
    if client in rejecting:
        if entry["verdict"] != "failed" or "rejected" not in codes:
            problems.append(f"{run} of {client} should have failed with rejected: {entry['verdict']} {codes}")
    elif entry["verdict"] != "confirmed":
        problems.append(f"{run} of {client}: {entry['verdict']} {codes}")
    if client == "c1":  # the client that ran the 40-second analysis
        complex_runs.append(entry)

if len(complex_runs) != 1:
    problems.append(f"expected one 40-second run, found {len(complex_runs)}")
for entry in complex_runs:
    duration = (entry.get("endedAt") or 0) - (entry.get("startedAt") or 0)
    print(f"40-second run {entry['run']}: {entry['verdict']}, {duration / 1000:.1f} s, failures {entry['failures']}")
    if entry["verdict"] != "confirmed" or entry["failures"] or duration < 40_000:
        problems.append(f"the 40-second run was not confirmed cleanly: {entry}")

overall = report["overall"]
failures = overall.get("failuresByReason", {})
print(f"events {overall['events']}, failures by reason {failures}, retransmissions {overall['retransmissions']}")
pending = overall["events"] - sum(overall[level]["confirmedAtRequestedLevel"] for level in ("receipt", "display", "value")) - sum(failures.values())
if pending != 0:
    problems.append(f"{pending} events pending: lost or unsettled")
if set(failures) - {"rejected"}:
    problems.append(f"unexpected failure reasons: {failures}")
if failures.get("rejected", 0) != sum(1 for r, c in started.items() if c in rejecting):
    problems.append(f"expected one rejected answer per run of the rejecting clients: {failures}")

if problems:
    print("\n".join("PROBLEM: " + p for p in problems))
    sys.exit(1)
print("report check passed")
