#!/usr/bin/env bash
# A bounded soak (SOAK_SECONDS, default 150, at most 300): one AgentServer, with normal clients confirming quick
# runs, clients resuming over and over, slow readers and misbehaving clients at the same time (soak.py). Prints the
# server's resident memory every 5 s and every normal run's verdict; fails unless every normal run is confirmed
# and memory reaches a plateau. Stops the server by process id.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${SOAK_SECONDS:-150}"
[ "$seconds" -le 300 ] || seconds=300
if [ -n "${SOAK_BUILD:-}" ]; then
    # A build of its own: binaries handed down by .ci/run are debug ones.
    unset EVENTACK_SERVER_BIN EVENTACK_CLIENT_BIN
    EXAMPLES_CONFIG="$SOAK_BUILD"
fi
source Examples/scripts/binaries.sh
log="$(mktemp /tmp/eventack-soak.XXXXXX)"
tokens="normal0-token=normal0,normal1-token=normal1,normal2-token=normal2,normal3-token=normal3"
tokens="$tokens,churn0-token=churn0,churn1-token=churn1,slow-token=slow,bad-token=bad"
"$server_bin" --port 0 --tokens "$tokens" --operator-token soak-operator --resume-window-ms 10000 > "$log" 2>&1 &
server_pid=$!
trap 'kill -9 $server_pid 2>/dev/null || true' EXIT
port="$(listening_port "$log" "agent-server listening on")"
[ -n "$port" ] || { cat "$log"; echo "server did not start"; exit 1; }
echo "soak: server pid $server_pid on port $port, $seconds s, $server_bin"
python3 Examples/scripts/soak.py "$port" "$server_pid" "$seconds"
kill -TERM "$server_pid"
wait "$server_pid"
trap - EXIT
echo "soak passed (server log $log)"
