#!/usr/bin/env bash
# The demo: builds the examples, starts the agent server on a free loopback port, runs one client that starts a
# quick run and a run whose tool fails, with its connection cut mid-run (it resumes), then prints the server's
# confirmation report and shuts the server down gracefully. Add `complex` to DEMO_RUNS for the 40-second run.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${DEMO_RUNS:-quick,tool_error}"
echo "building the examples (the first build takes a few minutes)…" >&2
source Examples/scripts/binaries.sh
log="$(mktemp /tmp/eventack-demo.XXXXXX)"
"$server_bin" --port 0 --operator-token demo-operator > "$log" 2>&1 &
server_pid=$!
trap 'kill -9 $server_pid 2>/dev/null || true' EXIT
port="$(listening_port "$log" "agent-server listening on")"
echo "== agent-server on port $port; client: eventack-client run --runs $runs --cut-after 4"
"$client_bin" run --url "ws://127.0.0.1:$port/eventack" --token alice-token --runs "$runs" --cut-after 4
echo
echo "== GET /report.txt (alice's view; the operator token shows every user)"
curl --noproxy '*' -s -H "Authorization: Bearer alice-token" "http://127.0.0.1:$port/report.txt"
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
