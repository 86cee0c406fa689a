# Sourced by the example scripts: builds Examples/AgentServer and Examples/LinuxClient (debug unless
# EXAMPLES_CONFIG=release) and sets server_bin and client_bin; defines listening_port, free_port and start_ag_ui_agent,
# which they share. When EVENTACK_SERVER_BIN and EVENTACK_CLIENT_BIN are set (.ci/run builds once and exports them),
# uses those: even a build with nothing to do costs SwiftPM ~10-20 s of planning per package, per script.
examples_config="${EXAMPLES_CONFIG:-debug}"
if [ -n "${EVENTACK_SERVER_BIN:-}" ] && [ -n "${EVENTACK_CLIENT_BIN:-}" ]; then
    server_bin="$EVENTACK_SERVER_BIN"
    client_bin="$EVENTACK_CLIENT_BIN"
else
    echo "=== building the examples ($examples_config)" >&2
    for package in AgentServer LinuxClient; do
        swift build -c "$examples_config" --package-path "Examples/$package" 2>&1 | tail -1 >&2
    done
    server_bin="$(swift build -c "$examples_config" --package-path Examples/AgentServer --show-bin-path)/AgentServer"
    client_bin="$(swift build -c "$examples_config" --package-path Examples/LinuxClient --show-bin-path)/LinuxClient"
fi

# Prints a TCP port that is free on loopback now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Starts the AG-UI test agent (Examples/ag-ui-agent: FastAPI on ag-ui-protocol, installed from PyPI into $work/venv)
# and waits until it answers; sets agent_port and appends its process id to pids. Used by ag-ui.sh and browser-e2e.sh.
start_ag_ui_agent() {
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install -q -r Examples/ag-ui-agent/requirements.txt
    agent_port="$(free_port)"
    "$work/venv/bin/python" Examples/ag-ui-agent/agent.py --port "$agent_port" > "$work/agent.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$agent_port/docs" && break; sleep 0.1; done
}

# Waits (up to TENTHS tenths of a second, 100 by default) for a process's log to say "PATTERN PORT"; prints the port
# (nothing if it never did).
listening_port() { # log pattern [tenths]
    for _ in $(seq 1 "${3:-100}"); do
        grep -q "$2" "$1" && break
        sleep 0.1
    done
    grep -o "$2 [0-9]*" "$1" | awk '{print $NF}'
}

# Starts AgentServer node INDEX of a cluster on STORE (a postgres:// URL), its users' tokens $tokens and the operator's
# OPERATOR_TOKEN — ports, node_pids and $work as the caller keeps them, its log appended to $work/node-INDEX.log — and
# waits (up to 30 s) until it says it listens once more than before; NODE_ARGS adds options. Used by cluster.sh and
# cluster-chaos.sh.
start_node() { # index store operator-token
    local i="$1" before
    before="$(grep -c "agent-server listening on" "$work/node-$i.log" 2> /dev/null || true)"
    "$server_bin" --port "${ports[$i]}" --node-id "node-$i" --store "$2" --tokens "$tokens" \
        --operator-token "$3" --resume-window-ms 60000 ${NODE_ARGS:-} >> "$work/node-$i.log" 2>&1 &
    node_pids[$i]=$!
    for _ in $(seq 1 300); do
        [ "$(grep -c "agent-server listening on" "$work/node-$i.log")" -gt "${before:-0}" ] && break
        sleep 0.1
    done
    [ "$(grep -c "agent-server listening on" "$work/node-$i.log")" -gt "${before:-0}" ] ||
        { tail -20 "$work/node-$i.log"; exit 1; }
    echo "node-$i pid ${node_pids[$i]} on port ${ports[$i]}"
}

# SIGTERM to every node of node_pids (an array the caller keeps, its logs in $work/node-I.log), each in turn: each
# must say bye, stop and exit 0. Used by cluster.sh and cluster-chaos.sh.
stop_nodes_gracefully() {
    local i status
    for i in "${!node_pids[@]}"; do
        [ -n "${node_pids[$i]}" ] || continue
        kill -TERM "${node_pids[$i]}"
        status=0
        wait "${node_pids[$i]}" || status=$?
        node_pids[$i]=""
        [ "$status" = 0 ] || { tail -20 "$work/node-$i.log"; echo "node-$i exited $status on SIGTERM"; exit 1; }
    done
}
