#!/usr/bin/env bash
# End to end over real WebSockets on loopback: builds Examples/AgentServer and Examples/LinuxClient, starts the
# server on a free port, runs 20 concurrent clients for 4 users (some cut mid-run and must resume, two reject the
# value of their answers, one runs the 40-second analysis), kills one client process mid-run and starts it again
# (it resumes its session from its state file), connects one through a proxy that splits every message the server
# sends into fragments with a ping between them (fragmenting_proxy.py), then checks the server's /report:
#   - every run is confirmed, except the deliberately rejected ones;
#   - no event is pending or failed for any other reason;
#   - each client received only events of the runs it started (no cross-user delivery);
#   - the 40-second run is confirmed, with no failure, and lasted at least 40 s.
# Everything it starts is stopped by process id. Bounded: gives up after E2E_TIMEOUT seconds (default 300).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
work="$(mktemp -d /tmp/eventack-e2e.XXXXXX)"
timeout_s="${E2E_TIMEOUT:-300}"
pids=()
server_pid=""
proxy_pid=""

cleanup() {
    for pid in "${pids[@]}" $server_pid $proxy_pid; do kill -9 "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

source Examples/scripts/binaries.sh

echo "=== starting the server on a free port"
tokens="alice-token=alice,bob-token=bob,carol-token=carol,dave-token=dave"
"$server_bin" --port 0 --tokens "$tokens" --operator-token e2e-operator --resume-window-ms 15000 \
    > "$work/server.log" 2>&1 &
server_pid=$!
port="$(listening_port "$work/server.log" "agent-server listening on" 200)"
[ -n "$port" ] || { cat "$work/server.log"; echo "server did not start"; exit 1; }
url="ws://127.0.0.1:$port/eventack"
echo "server pid $server_pid on port $port"

echo "=== an unauthenticated upgrade is refused; the same request with a known token is upgraded"
upgrade() { # token → HTTP status of the upgrade request
    curl --noproxy '*' -s -o /dev/null --max-time 2 -w '%{http_code}' -H 'Connection: Upgrade' \
        -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
        -H 'Sec-WebSocket-Protocol: eventack.v1' -H "Authorization: Bearer $1" "http://127.0.0.1:$port/eventack" || true
}
refused="$(upgrade wrong)"
accepted="$(upgrade alice-token)"
echo "unknown token: HTTP $refused; alice-token: HTTP $accepted"
[ "$refused" != "101" ] || { echo "an unknown token was upgraded"; exit 1; }
[ "$accepted" = "101" ] || { echo "a known token was not upgraded"; exit 1; }

echo "=== a proxy that fragments every message the server sends"
python3 "$root/Examples/scripts/fragmenting_proxy.py" 0 "$port" > "$work/proxy.log" 2>&1 &
proxy_pid=$!
proxy_port="$(listening_port "$work/proxy.log" "proxy listening on" 50)"
[ -n "$proxy_port" ] || { cat "$work/proxy.log"; echo "the proxy did not start"; exit 1; }

users=(alice bob carol dave)
start_client() { # name user args… (CLIENT_URL: connect there instead, starting runs on the server itself)
    local name="$1" user="$2"
    shift 2
    "$client_bin" run --url "${CLIENT_URL:-$url}" --runs-url "$url" --token "$user-token" --timeout "$timeout_s" \
        "$@" > "$work/$name.log" 2>&1 &
    pids+=($!)
    echo "$name $user $* (pid $!)"
}

echo "=== 20 clients, 4 users"
for i in $(seq 1 19); do
    user="${users[$((i % 4))]}"
    case "$i" in
        1) start_client "c$i" "$user" --runs complex --cut-after 5 ;;         # 40-second run, cut and resumed
        2 | 3) start_client "c$i" "$user" --runs quick --reject ;;          # deliberately rejected
        4 | 5 | 6 | 7 | 8) start_client "c$i" "$user" --runs quick,tool_error --cut-after 4 --cuts 2 ;;
        9 | 10) start_client "c$i" "$user" --runs tool_error,quick ;;
        11) CLIENT_URL="ws://127.0.0.1:$proxy_port/eventack" start_client "c$i" "$user" --runs quick,tool_error ;;
        *) start_client "c$i" "$user" --runs quick,quick ;;
    esac
done
# Client 20 is killed (SIGKILL) mid-run, then started again: the new process resumes the session from the state
# file the first one wrote before every frame it sent.
"$client_bin" run --url "$url" --token dave-token --runs quick,quick --timeout "$timeout_s" \
    --state-file "$work/c20.state" > "$work/c20-killed.log" 2>&1 &
killed_pid=$!
for _ in $(seq 1 50); do
    grep -q "^event 3 " "$work/c20-killed.log" && break
    sleep 0.1
done
kill -9 "$killed_pid"
echo "c20 killed (pid $killed_pid) after: $(grep -c '^event' "$work/c20-killed.log") events"
start_client c20 dave --runs quick,quick --state-file "$work/c20.state"

echo "=== waiting for the clients"
failed=0
for pid in "${pids[@]}"; do
    wait "$pid" || { echo "client pid $pid exited with $?"; failed=1; }
done
pids=()
[ "$failed" = 0 ] || { tail -5 "$work"/c*.log; exit 1; }
grep -q "resuming session" "$work/c20.log" || { echo "the restarted client did not resume"; exit 1; }

echo "=== checking /report"
operator=(-H "Authorization: Bearer e2e-operator")
curl --noproxy '*' -sf "${operator[@]}" "http://127.0.0.1:$port/report" > "$work/report.json"
curl --noproxy '*' -sf "${operator[@]}" "http://127.0.0.1:$port/report.txt" > "$work/report.txt"
python3 "$root/Examples/scripts/check_report.py" "$work"

echo "=== graceful shutdown"
kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""
[ "$status" = 0 ] || { tail -20 "$work/server.log"; echo "server exited $status on SIGTERM"; exit 1; }
grep -q "final report" "$work/server.log" || { tail -20 "$work/server.log"; echo "no final report"; exit 1; }
if grep -q "ServiceGroupError" "$work/server.log"; then echo "shutdown printed a service error"; exit 1; fi
echo "end to end passed (logs in $work)"
