#!/usr/bin/env bash
# The browser client in a real browser (issue 27): installs Chromium and its driver from Debian and selenium from
# PyPI, starts the AG-UI test agent and the AgentServer serving Examples/web, and drives headless Chromium through the
# chat page (runs seen, an answer streamed, runs scrolled out of view, valued, rejected, a connection cut, a page
# reload, a duplicated tab) and the dashboard, then a two-node cluster's dashboard; checks the outcome
# through /report; saves screenshots and prints their paths. Also checks tickets and Origin on the upgrade.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v chromium > /dev/null || ! command -v chromedriver > /dev/null ||
    ! dpkg -s fonts-noto-color-emoji > /dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-noto-color-emoji > /dev/null
fi
python3 -c 'import selenium' 2> /dev/null || pip install --quiet selenium

source Examples/scripts/binaries.sh
work="$(mktemp -d /tmp/eventack-browser.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
    [ -n "${pg_pid:-}" ] && pg_stop 2> /dev/null || true
    rm -rf "$work"/profile* "$work/venv" "$work/pg"
}
trap cleanup EXIT

# The AG-UI test agent (Examples/ag-ui-agent), for a run whose answer streams into the page.
start_ag_ui_agent

"$server_bin" --port 0 --tokens alice-token=alice --operator-token op-token --web-root Examples/web \
    --allowed-origins https://chat.example.com --ag-ui-agents "travel=http://127.0.0.1:$agent_port/" \
    > "$work/server.log" 2>&1 &
pids+=($!)
port="$(listening_port "$work/server.log" "agent-server listening on")"
[ -n "$port" ] || { cat "$work/server.log"; exit 1; }
url="http://127.0.0.1:$port"

# Tickets and Origin (§ 16.1), before the browser: a ticket opens one connection; a page of another origin none.
upgrade() { # query origin → status
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url/eventack$1" -H 'Connection: Upgrade' \
        -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
        -H 'Sec-WebSocket-Protocol: eventack.v1' -H "Origin: $2" || true
}
ticket() { curl -s -X POST "$url/v1/tickets" -H 'Authorization: Bearer alice-token' | python3 -c 'import json,sys; print(json.load(sys.stdin)["ticket"])'; }
t="$(ticket)"
[ "$(upgrade "?ticket=$t" https://evil.example)" = 403 ] || { echo "a foreign origin was not refused"; exit 1; }
[ "$(upgrade "?ticket=$t" "$url")" = 101 ] || { echo "a ticket from the server's own origin did not open"; exit 1; }
[ "$(upgrade "?ticket=$t" "$url")" = 401 ] || { echo "a spent ticket opened a second connection"; exit 1; }
[ "$(upgrade "?ticket=$(ticket)" https://chat.example.com)" = 101 ] || { echo "a listed origin was refused"; exit 1; }
[ "$(upgrade "?ticket=tk_0000" "$url")" = 401 ] || { echo "an unknown ticket was accepted"; exit 1; }
echo "tickets: one connection each (a spent or unknown one: 401); Origin: own and listed pages open, others 403"

# The browser goes through a proxy that can cut its connections as a network would (SIGUSR1).
python3 Examples/scripts/cutting_proxy.py 0 "$port" > "$work/proxy.log" 2>&1 &
proxy_pid=$!
pids+=($proxy_pid)
proxy_port="$(listening_port "$work/proxy.log" "proxy listening on")"
[ -n "$proxy_port" ] || { cat "$work/proxy.log"; exit 1; }

python3 Examples/scripts/browser_e2e.py "http://127.0.0.1:$proxy_port" alice-token op-token "$work" "$proxy_pid"

# The dashboard of a cluster: two nodes on PostgreSQL; the operator's page on node 0 lists both nodes.
source Examples/scripts/postgres.sh
pg_start "$work"
node_ports=()
for i in 0 1; do  # one after the other: the first migrates the store
    "$server_bin" --port 0 --node-id "node-$i" --store "$pg_url" --tokens alice-token=alice --operator-token op-token \
        --web-root Examples/web > "$work/node-$i.log" 2>&1 &
    pids+=($!)
    node_ports[$i]="$(listening_port "$work/node-$i.log" "agent-server listening on" 300)"
    [ -n "${node_ports[$i]}" ] || { cat "$work/node-$i.log"; exit 1; }
done
python3 Examples/scripts/browser_e2e.py --cluster-dashboard "http://127.0.0.1:${node_ports[0]}" op-token "$work"
for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
pids=()
pg_stop
