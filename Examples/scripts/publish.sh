#!/usr/bin/env bash
# The publish API (Spec/PUBLISH.md) end to end, on one node: a Python agent (Examples/python-agent, the standard
# library only) publishes to a user whose client is cut and resumes, keeps a long analysis alive with progress, and
# follows the confirmations to the verdict; a user with two sessions gets the run in both; an agent that goes silent
# has its run ended with agent_silent; publish_checks.py covers the token refusals, a duplicate-id burst, a full
# window (429, then success) and the ids' rules; then the agent again against a durable server (PostgreSQL 15,
# sessions written ahead: a 200 means committed); then two nodes sharing the store, the node the agent publishes
# through killed with SIGKILL mid-run (once holding the user's session, once relaying to the node that does): the
# agent retries on the other node with the same ids, and the client gets each event once, in order. Exits non-zero on
# any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
source Examples/scripts/binaries.sh
work="$(mktemp -d /tmp/eventack-publish.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2> /dev/null || true; done
    if [ -n "${pg_pid:-}" ]; then pg_stop; fi
}
trap cleanup EXIT
"$server_bin" --port 0 --tokens "alice-token=alice,bob-token=bob,carol-token=carol,dave-token=dave" \
    --publisher-tokens "pub-token=backend" --operator-token op-token --window 4 --max-queued-events 4 \
    > "$work/server.log" 2>&1 &
pids+=($!)
port="$(listening_port "$work/server.log" "agent-server listening on")"
[ -n "$port" ] || { cat "$work/server.log"; exit 1; }
url="http://127.0.0.1:$port"
agent=(python3 "$root/Examples/python-agent/agent.py" --url "$url" --token pub-token)

echo "=== the Python agent publishes to alice, whose client is cut and resumes"
"$client_bin" run --url "ws://127.0.0.1:$port/eventack" --token alice-token --runs "" --await-runs 1 \
    --cut-after 4 --timeout 60 > "$work/alice.log" 2>&1 &
alice=$!
pids+=($alice)
for _ in $(seq 1 50); do grep -q "connected at" "$work/alice.log" && break; sleep 0.1; done
"${agent[@]}" --principal alice --run trip-1 --analysis-seconds 3 --progress-every 1 | tee "$work/agent-alice.log"
wait "$alice" || { cat "$work/alice.log"; exit 1; }
grep -q '"verdict": "confirmed"' "$work/agent-alice.log"
grep -q "resumed true" "$work/alice.log" || { echo "alice's client never resumed"; exit 1; }
grep "deliveries:" "$work/alice.log"
curl -sf "$url/v1/runs/trip-1" -H "Authorization: Bearer pub-token" | python3 -c '
import json, sys
run = json.load(sys.stdin)
report = run["reports"][0]
assert run["verdict"]["verdict"] == "confirmed" and report["verdict"] == "confirmed", run
assert report["stats"]["receipt"]["confirmed"] == 6 and report["stats"]["value"]["confirmed"] == 1, report
print("GET /v1/runs/trip-1 agrees with the agent: confirmed; 6 events received, the answer valued")'

echo "=== a user with two sessions gets the run in both"
for i in 1 2; do
    "$client_bin" run --url "ws://127.0.0.1:$port/eventack" --token bob-token --runs "" --await-runs 1 --timeout 60 \
        > "$work/bob-$i.log" 2>&1 &
    bobs[$i]=$!
    pids+=(${bobs[$i]})
done
for i in 1 2; do for _ in $(seq 1 50); do grep -q "connected at" "$work/bob-$i.log" && break; sleep 0.1; done; done
"${agent[@]}" --principal bob --run trip-2 --analysis-seconds 1 --progress-every 1 | tee "$work/agent-bob.log"
grep -q "open in \['s_[0-9a-f]*', 's_[0-9a-f]*'\]" "$work/agent-bob.log" || { echo "not in two sessions"; exit 1; }
for i in 1 2; do wait "${bobs[$i]}" || { cat "$work/bob-$i.log"; exit 1; }; grep "deliveries:" "$work/bob-$i.log"; done

echo "=== an agent that goes silent: the server ends its run with agent_silent"
"$client_bin" run --url "ws://127.0.0.1:$port/eventack" --token carol-token --runs "" --await-runs 1 --timeout 60 \
    > "$work/carol.log" 2>&1 &
carol=$!
pids+=($carol)
for _ in $(seq 1 50); do grep -q "connected at" "$work/carol.log" && break; sleep 0.1; done
"${agent[@]}" --principal carol --run trip-3 --go-silent --idle-timeout-ms 1500 | tee "$work/agent-carol.log"
wait "$carol" || { cat "$work/carol.log"; exit 1; }
grep -q "agent_failed.*agent_silent" "$work/carol.log" || { echo "carol never got agent_failed"; exit 1; }

echo "=== tokens, a duplicate burst, a full window"
(cd "$root/Examples/scripts" && python3 publish_checks.py "$port" pub-token dave-token dave)

echo "=== durable: the agent publishes to a cut and resumed client of a server on PostgreSQL"
source "$root/Examples/scripts/postgres.sh"
pg_start "$work"
"$server_bin" --port 0 --tokens "erin-token=erin" --publisher-tokens "pub-token=backend" --store "$pg_url" \
    --node-id durable-1 > "$work/durable.log" 2>&1 &
pids+=($!)
durable_port="$(listening_port "$work/durable.log" "agent-server listening on")"
"$client_bin" run --url "ws://127.0.0.1:$durable_port/eventack" --token erin-token --runs "" --await-runs 1 \
    --cut-after 4 --timeout 60 > "$work/erin.log" 2>&1 &
erin=$!
pids+=($erin)
for _ in $(seq 1 50); do grep -q "connected at" "$work/erin.log" && break; sleep 0.1; done
python3 "$root/Examples/python-agent/agent.py" --url "http://127.0.0.1:$durable_port" --token pub-token \
    --principal erin --run trip-durable --analysis-seconds 2 --progress-every 1 | tee "$work/agent-erin.log"
wait "$erin" || { cat "$work/erin.log"; exit 1; }
grep -q '"verdict": "confirmed"' "$work/agent-erin.log"
grep -q "resumed true" "$work/erin.log" || { echo "erin's client never resumed"; exit 1; }
grep "deliveries:" "$work/erin.log"

# The client's log lists each event it delivered ("event SEQ RUN KIND ..."): the agent's six, once each, in order.
check_once_in_order() { # log run
    python3 - "$1" "$2" << 'PY'
import sys
log, run = sys.argv[1], sys.argv[2]
events = [line.split() for line in open(log) if line.startswith("event ") and line.split()[2] == run]
kinds = [fields[3] for fields in events]
seqs = [int(fields[1]) for fields in events]
expected = ["agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_thinking", "agent_completed"]
assert kinds == expected, f"{log}: {kinds}"
assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), f"{log}: seqs {seqs}"
print(f"{run}: the agent's 6 events delivered once each, in order (seqs {seqs})")
PY
}

echo "=== a cluster: two nodes share the store; the node the agent publishes through is killed with SIGKILL mid-run"
ports=("$(free_port)" "$(free_port)")
node_pids=("" "")
tokens="frank-token=frank,gina-token=gina"
export NODE_ARGS="--publisher-tokens pub-token=backend"
for i in 0 1; do start_node "$i" "$pg_url" cluster-operator; pids+=(${node_pids[$i]}); done
http() { echo "http://127.0.0.1:${ports[$1]}"; }
ws() { echo "ws://127.0.0.1:${ports[$1]}/eventack"; }
kill_mid_analysis() { # agent-log node
    for _ in $(seq 1 200); do grep -q "published think-2" "$1" && break; sleep 0.05; done
    sleep 1
    kill -9 "${node_pids[$2]}"
    echo "node-$2 killed (SIGKILL) during the agent's analysis"
}

# The Python agent publishes a run for USER through AGENT_URLS (the first one first) while its client is on CLIENT_URLS;
# node KILL is killed mid-run; the agent retries on the other node, and the client gets every event once, in order.
agent_through_a_dying_node() { # user run client_urls agent_urls kill
    "$client_bin" run --url "$3" --token "$1-token" --runs "" --await-runs 1 --timeout 90 > "$work/$1.log" 2>&1 &
    local client=$!
    pids+=($client)
    for _ in $(seq 1 50); do grep -q "connected at" "$work/$1.log" && break; sleep 0.1; done
    python3 "$root/Examples/python-agent/agent.py" --url "$4" --token pub-token --principal "$1" --run "$2" \
        --analysis-seconds 4 --progress-every 1 > "$work/agent-$1.log" 2>&1 &
    local agent=$!
    kill_mid_analysis "$work/agent-$1.log" "$5"
    wait "$agent" || { cat "$work/agent-$1.log"; exit 1; }
    wait "$client" || { cat "$work/$1.log"; exit 1; }
    cat "$work/agent-$1.log"
    grep -q '"verdict": "confirmed"' "$work/agent-$1.log"
    check_once_in_order "$work/$1.log" "$2"
}

# 1. The agent publishes through node-0, which also holds frank's session: both die together. Frank's client resumes
#    on node-1, and the agent's retries reach node-1, which knows the run and its ids from the store.
agent_through_a_dying_node frank trip-cluster-1 "$(ws 0),$(ws 1)" "$(http 0),$(http 1)" 0
# The first request again, now on node-1: every id is recognised from the store, with the seqs node-0 gave it.
python3 - "$(http 1)" "$work/agent-frank.log" << 'PY'
import json, re, sys, urllib.request
url, log = sys.argv[1], sys.argv[2]
first = {"events": [
    {"id": "start", "kind": "agent_started", "payload": {"agent": "travel-planner"}},
    {"id": "think-1", "kind": "agent_thinking", "payload": {"text": "Looking for flights to Lisbon"}},
    {"id": "tool-1", "kind": "tool_executing", "confirm": "display",
     "payload": {"call": "c1", "tool": "search_flights", "input": {"to": "LIS"}}}]}
request = urllib.request.Request(f"{url}/v1/runs/trip-cluster-1/events", data=json.dumps(first).encode(),
    headers={"Authorization": "Bearer pub-token", "Content-Type": "application/json"}, method="POST")
answer = json.load(urllib.request.urlopen(request))["events"]
taken = {m[0]: m[1] for m in re.findall(r"published (\S+) seq \{'s_[0-9a-f]+': (\d+)\}", open(log).read())}
assert all(e["duplicate"] for e in answer), answer
assert [str(list(e["seq"].values())[0]) for e in answer] == [taken[e["id"]] for e in answer], (answer, taken)
print("the first request retried on node-1 after node-0's death: 3 duplicates, with node-0's seqs")
PY

# 2. Node-0 is back; gina's session is on it, the agent publishes through node-1 (relayed to node-0) and node-1 dies:
#    the agent's retries go to node-0 itself.
start_node 0 "$pg_url" cluster-operator
pids+=(${node_pids[0]})
agent_through_a_dying_node gina trip-cluster-2 "$(ws 0),$(ws 1)" "$(http 1),$(http 0)" 1
echo "publish passed (logs in $work)"
