#!/usr/bin/env bash
# Chaos over a cluster (issue 23): PostgreSQL 15, 3 AgentServer nodes behind a small TCP balancer with no stickiness
# (balancer.py), and waves of 9 clients of 3 users whose runs start on whichever live node the balancer picks —
# while each node in turn is killed (SIGKILL) and started again, PostgreSQL is crashed (every process SIGKILLed, then
# started: crash recovery) and later frozen for 4 s (SIGSTOP, SIGCONT). Then check_chaos.py checks:
#   - no session reset; each seq delivered once and in order;
#   - each run's events exactly those its agent emitted, by content (kinds and payloads), none of another run;
#   - every run whose agent survived (it logged "run finished emitting") ended at its client and has exactly one
#     verdict, confirmed, in the store (`eventack_runs`) and so in /cluster/report;
#   - every node healthy (/ready 200) at the end, and every node said 503 while PostgreSQL was down;
# and prints the runs, events and faults, failover times (kill → client resumed elsewhere) and database recovery
# times (PostgreSQL accepting connections again → every node ready). Everything it starts is stopped by process id.
# CHAOS_TIMEOUT bounds the clients (default 240 s). Needs the examples' binaries (binaries.sh builds them).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
work="$(mktemp -d /tmp/eventack-chaos.XXXXXX)"
chmod 755 "$work"
timeout_s="${CHAOS_TIMEOUT:-240}"
pids=()
node_pids=("" "" "")
balancer_pid=""
source "$root/Examples/scripts/postgres.sh"

cleanup() {
    for pid in "${pids[@]}" "${node_pids[@]}" "$balancer_pid"; do
        [ -n "$pid" ] && kill -9 "$pid" 2> /dev/null || true
    done
    pg_signal CONT
    pg_stop
}
trap cleanup EXIT
now_ms() { date +%s%3N; }
event() { echo "$1 $(now_ms)" >> "$work/faults.txt"; echo "[$(date +%T)] $1"; }

echo "=== PostgreSQL 15"
pg_start "$work"
echo "postgres pid $pg_pid at $pg_url"

source Examples/scripts/binaries.sh

tokens="alice-token=alice,bob-token=bob,carol-token=carol"
ports=("$(free_port)" "$(free_port)" "$(free_port)")
kill_node() {
    kill -9 "${node_pids[$1]}"
    wait "${node_pids[$1]}" 2> /dev/null || true
    node_pids[$1]=""
}
# Runs whose agent died with its node are ended by the node holding their session 25 s after their last event
# (EA-RUN-2), before their clients' own 45 s stall detection gives up on them. (Much shorter is wrong here: with an
# 8 s timeout, runs whose agents were alive but waiting — their forwards through a frozen PostgreSQL, their emits
# refused by a full write-ahead queue, which now count as signs of life — were ended too.)
export NODE_ARGS="--run-idle-timeout-ms 25000"
for i in 0 1 2; do start_node "$i" "$pg_url" chaos-operator; done
python3 "$root/Examples/scripts/balancer.py" "$(IFS=,; echo "${ports[*]}")" > "$work/balancer.log" 2>&1 &
balancer_pid=$!
balancer_port="$(listening_port "$work/balancer.log" "balancer listening on")"
[ -n "$balancer_port" ] || { cat "$work/balancer.log"; exit 1; }
echo "nodes on ${ports[*]}, balancer on $balancer_port"

# /ready of every node, every 100 ms, for the recovery times and the 503s.
(
    while true; do
        for i in 0 1 2; do
            code="$(curl --noproxy '*' -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:${ports[$i]}/ready" || true)"
            echo "$(now_ms) $i $code"
        done
        sleep 0.1
    done
) > "$work/ready.txt" 2>&1 &
pids+=($!)
ready_pid=$!

users=(alice bob carol)
wave=0
start_wave() {
    local i user
    for i in 0 1 2 3 4 5 6 7 8; do
        user="${users[$((i % 3))]}"
        "$client_bin" run --url "ws://127.0.0.1:$balancer_port/eventack" --token "$user-token" \
            --runs quick,tool_error,quick --abandon-stalled --run-idle-timeout 45 --timeout "$timeout_s" \
            > "$work/client-$wave-$i.log" 2>&1 &
        client_pids+=($!)
    done
    wave=$((wave + 1))
}
client_pids=()

echo "=== waves of 9 clients every 3 s while nodes die and PostgreSQL fails"
chaos_started="$(now_ms)"
start_wave; sleep 2
for i in 0 1 2; do
    event "kill node-$i"
    kill_node "$i"
    start_wave; sleep 2
    start_wave; sleep 2
    start_node "$i" "$pg_url" chaos-operator
    event "started node-$i"
    start_wave; sleep 2
done
event "crash postgres"
pg_crash
start_wave; sleep 3
pg_restart
event "started postgres"
start_wave; sleep 3
start_wave; sleep 3
event "freeze postgres"
pg_signal STOP
start_wave; sleep 4
pg_signal CONT
event "thawed postgres"
start_wave; sleep 3
event "kill node-1"
kill_node 1
start_wave; sleep 3
start_node 1 "$pg_url" chaos-operator
event "started node-1"
start_wave

echo "=== waiting for $((${#client_pids[@]})) clients"
failed=0
for pid in "${client_pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
sleep 2
kill "$ready_pid" 2> /dev/null || true
[ "$failed" = 0 ] || echo "$failed client processes exited non-zero"

echo "=== the cross-node report and the store's verdicts"
curl --noproxy '*' -sf -H "Authorization: Bearer chaos-operator" \
    "http://127.0.0.1:${ports[0]}/cluster/report" > "$work/cluster-report.json"
psql -q -h 127.0.0.1 -p "$pg_port" -U eventack -d eventack -At -F ' ' \
    -c "SELECT session_id, run, verdict FROM eventack_runs ORDER BY n" > "$work/verdicts.txt"
for i in 0 1 2; do
    curl --noproxy '*' -s -o /dev/null -w "%{http_code}\n" "http://127.0.0.1:${ports[$i]}/ready" > "$work/ready-end-$i.txt"
done
python3 "$root/Examples/scripts/check_chaos.py" "$work" "$chaos_started"

echo "=== graceful shutdown of the nodes"
stop_nodes_gracefully
pg_stop
echo "cluster-chaos passed (logs in $work)"
