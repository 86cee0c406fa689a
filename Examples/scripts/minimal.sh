#!/usr/bin/env bash
# Issue 24: the integration libraries import. Builds Examples/Minimal (a server on EventAckHummingbird and a client on
# EventAckNIOClient, a page each), starts the server on a free loopback port, runs the client against it and checks
# that the client got its run and every confirmation echoed, that the server gave the run a confirmed verdict, and
# that README.md shows the two apps as they are.
set -euo pipefail
cd "$(dirname "$0")/../.."
work="$(mktemp -d /tmp/eventack-minimal.XXXXXX)"
server_pid=""
trap '[ -n "$server_pid" ] && kill "$server_pid" 2> /dev/null || true' EXIT
swift build --package-path Examples/Minimal 2>&1 | tail -1
bin="$(swift build --package-path Examples/Minimal --show-bin-path)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$bin/MinimalServer" "$port" > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do grep -q "minimal server listening" "$work/server.log" && break; sleep 0.1; done
timeout 60 "$bin/MinimalClient" "ws://127.0.0.1:$port/eventack" | tee "$work/client.log"
for _ in $(seq 1 50); do grep -q "confirmed" "$work/server.log" && break; sleep 0.1; done
grep -v Hummingbird "$work/server.log"
grep -q "^event 3 agent_completed" "$work/client.log" || { echo "the client did not get the run"; exit 1; }
grep -q "every confirmation echoed" "$work/client.log" || { echo "the client's confirmations were not echoed"; exit 1; }
grep -q ": confirmed$" "$work/server.log" || { echo "the server gave the run no confirmed verdict"; exit 1; }
# The README shows exactly this code.
python3 - << 'CHECK'
readme = open("README.md").read()
for app in ("MinimalServer", "MinimalClient"):
    code = open(f"Examples/Minimal/Sources/{app}/main.swift").read().rstrip()
    assert "```swift\n" + code + "\n```" in readme, f"README.md does not show {app} as it is"
CHECK
echo "minimal apps passed"
