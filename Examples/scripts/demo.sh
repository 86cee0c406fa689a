#!/usr/bin/env bash
# The demo: builds the examples, starts the agent server on a free loopback port, runs one client that starts a
# quick run and a run whose tool fails, with its connection cut mid-run (it resumes), then prints the server's
# confirmation report; then an agent in Python (Examples/python-agent) publishes a run to the same user through the
# publish API — a 40-second analysis kept alive by progress notes (DEMO_ANALYSIS_SECONDS) — while the user's client is
# cut and resumes, and the agent's own account of what was confirmed is set beside the server's. Then the server shuts
# down gracefully. Add `complex` to DEMO_RUNS for the simulated 40-second run.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${DEMO_RUNS:-quick,tool_error}"
echo "building the examples (the first build takes a few minutes)…" >&2
source Examples/scripts/binaries.sh
log="$(mktemp /tmp/eventack-demo.XXXXXX)"
"$server_bin" --port 0 --operator-token demo-operator --publisher-tokens demo-publisher=python-agent > "$log" 2>&1 &
server_pid=$!
trap 'kill -9 $server_pid 2>/dev/null || true' EXIT
port="$(listening_port "$log" "agent-server listening on")"
echo "== agent-server on port $port; client: eventack-client run --runs $runs --cut-after 4"
"$client_bin" run --url "ws://127.0.0.1:$port/eventack" --token alice-token --runs "$runs" --cut-after 4
echo
echo "== GET /report.txt (alice's view; the operator token shows every user)"
curl --noproxy '*' -s -H "Authorization: Bearer alice-token" "http://127.0.0.1:$port/report.txt"
echo
echo "== an agent in Python publishes to alice over HTTP; alice's client is cut after 4 frames and resumes"
"$client_bin" run --url "ws://127.0.0.1:$port/eventack" --token alice-token --runs "" --await-runs 1 --cut-after 4 \
    --quiet > "$log.client" 2>&1 &
client_pid=$!
for _ in $(seq 1 50); do grep -q "connected at" "$log.client" && break; sleep 0.1; done
session="$(grep -o "connected at [0-9]* node [0-9]* session [^ ]*" "$log.client" | head -1 | awk '{print $NF}')"
python3 Examples/python-agent/agent.py --url "http://127.0.0.1:$port" --token demo-publisher --session "$session" \
    --run "demo-trip-$$" --analysis-seconds "${DEMO_ANALYSIS_SECONDS:-40}" --progress-every 10
wait "$client_pid" || { cat "$log.client"; exit 1; }
echo "-- alice's client:"
grep -E "signal: (connected|disconnected)|summary|deliveries" "$log.client"
echo "-- the server's account of the run (GET /v1/runs/demo-trip-$$):"
curl --noproxy '*' -s -H "Authorization: Bearer demo-publisher" "http://127.0.0.1:$port/v1/runs/demo-trip-$$" |
    python3 -c '
import json, sys
run = json.load(sys.stdin)
verdict, stats = run["verdict"], run["reports"][0]["stats"]
levels = ", ".join("%s %d/%d" % (level, stats[level]["confirmed"], stats[level]["requested"]) for level in ("receipt", "display", "value"))
print("verdict %s, outcome %s; confirmed: %s" % (verdict["verdict"], verdict.get("outcome"), levels))'
kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
trap - EXIT
echo "== server log (reconciliation events)"
grep -v "listening" "$log" | tail -15
if [ "$status" != 0 ] || grep -q "ServiceGroupError" "$log"; then
    echo "the server did not stop cleanly (exit $status)"
    exit 1
fi
echo "== the server said bye to its clients, printed its final report and exited 0"
