#!/usr/bin/env bash
# The publish API (Spec/PUBLISH.md) end to end, on one node: a Python agent (Examples/python-agent, the standard
# library only) publishes to a user whose client is cut and resumes, keeps a long analysis alive with progress, and
# follows the confirmations to the verdict; a user with two sessions gets the run in both; an agent that goes silent
# has its run ended with agent_silent; publish_checks.py covers the token refusals, a duplicate-id burst, a full
# window (429, then success) and the ids' rules; then the agent again against a durable server (PostgreSQL 15,
# sessions written ahead: a 200 means committed). Exits non-zero on any failure.
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
echo "publish passed (logs in $work)"
