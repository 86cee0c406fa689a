#!/usr/bin/env bash
# Issue 14's defects, each as a check against a real AgentServer on loopback (Examples/scripts/hardening.py):
# HTTP semantics and authentication, scoped reports, the benchmark endpoint, frames the spec answers, bounded runs,
# sessions and outbound queues, anonymous sockets, escaped logs — then a graceful shutdown that must say bye to a
# connected client, print the final report and exit 0. Starts its own servers; stops them by process id.
set -euo pipefail
cd "$(dirname "$0")/../.."
work="$(mktemp -d /tmp/eventack-hardening.XXXXXX)"
server_pid=""
cleanup() { [ -z "$server_pid" ] || kill -9 "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT

source Examples/scripts/binaries.sh
tokens="alice-token=alice,bob-token=bob"

start_server() { # log, extra args…
    local log="$1"
    shift
    "$server_bin" --port 0 --tokens "$tokens" --operator-token ops-token "$@" > "$log" 2>&1 &
    server_pid=$!
    port="$(listening_port "$log" "agent-server listening on")"
    [ -n "$port" ] || { cat "$log"; echo "server did not start"; exit 1; }
}

stop_server() { # log → checks a clean shutdown
    local log="$1"
    kill -TERM "$server_pid"
    local status=0
    wait "$server_pid" || status=$?
    server_pid=""
    [ "$status" = 0 ] || { tail -20 "$log"; echo "FAIL the server exited $status on SIGTERM"; exit 1; }
    if grep -q "ServiceGroupError\|finished unexpectedly" "$log"; then
        tail -20 "$log"
        echo "FAIL shutdown printed a service error"
        exit 1
    fi
    grep -q "final report" "$log" || { echo "FAIL no final report"; exit 1; }
    echo "ok   SIGTERM: exit 0, final report, no service error"
}

echo "=== the benchmark endpoint (--bench)"
start_server "$work/bench.log" --bench --bench-timeout-ms 2000
python3 Examples/scripts/hardening.py "$port" alice-token bob-token ops-token "$work/bench.log" --bench
stop_server "$work/bench.log"

echo "=== everything else (no --bench)"
start_server "$work/server.log" --log-level warning
SERVER_PID="$server_pid" python3 Examples/scripts/hardening.py "$port" alice-token bob-token ops-token "$work/server.log"

echo "=== shutdown says bye to a connected client first"
python3 - "$port" > "$work/bye.txt" <<'PY' &
import sys
sys.path.insert(0, "Examples/scripts")
import wsclient
ws = wsclient.WebSocket(int(sys.argv[1]), "alice-token")
ws.handshake()
print("connected", flush=True)
message = ws.recv_until(lambda m: m.get("type") == "bye", timeout=30)
print("bye" if isinstance(message, dict) else f"no bye: {message}", flush=True)
PY
listener=$!
for _ in $(seq 1 50); do grep -q connected "$work/bye.txt" 2>/dev/null && break; sleep 0.1; done
stop_server "$work/server.log"
wait "$listener" || true
grep -q "^bye" "$work/bye.txt" || { cat "$work/bye.txt"; echo "FAIL the client got no bye"; exit 1; }
echo "ok   the connected client got bye before the close"
echo "hardening passed (logs in $work)"
