#!/usr/bin/env bash
# Several nodes over one PostgreSQL (issue 12): installs PostgreSQL 15 from Debian if missing, starts it in a
# temporary directory on loopback, starts 3 AgentServer nodes sharing it, runs 24 clients of 4 users (quick,
# tool_error and 40-second complex runs, two rejecting their answers), each connected to one node and starting its
# runs on another (so agents emit from a node other than the client's), kills node-1 — which holds a third of the
# clients' sockets and sessions — with SIGKILL mid-run and starts it again later, then checks:
#   - every client ends every run, gets `synced` for every confirmation, and delivered each seq once, in order,
#     with no event of a run it did not start (isolation);
#   - the cross-node report (GET /cluster/report): every run confirmed except the deliberately rejected ones,
#     nothing pending, every event counted once;
# and prints `cluster: N runs, N events, 0 lost, 0 duplicated` and the failover times. Exit status non-zero
# otherwise. Everything it starts is stopped by process id. CLUSTER_TIMEOUT bounds it (default 300 s).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
work="$(mktemp -d /tmp/eventack-cluster.XXXXXX)"
chmod 755 "$work"
timeout_s="${CLUSTER_TIMEOUT:-300}"
pids=()
node_pids=("" "" "")
source "$root/Examples/scripts/postgres.sh"

cleanup() {
    for pid in "${pids[@]}" "${node_pids[@]}"; do [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true; done
    pg_stop
}
trap cleanup EXIT

echo "=== PostgreSQL 15"
pg_start "$work"
store="$pg_url"
echo "postgres pid $pg_pid at $store"

source Examples/scripts/binaries.sh

tokens="alice-token=alice,bob-token=bob,carol-token=carol,dave-token=dave"
ports=("$(free_port)" "$(free_port)" "$(free_port)")
echo "=== 3 nodes"
for i in 0 1 2; do start_node "$i" "$store" cluster-operator; done
url() { echo "ws://127.0.0.1:${ports[$1]}/eventack"; }

echo "=== 24 clients, 4 users; each connects to one node and starts its runs on another"
users=(alice bob carol dave)
for i in $(seq 0 23); do
    user="${users[$((i % 4))]}"
    first=$((i % 3))
    urls="$(url $first),$(url $(((first + 1) % 3))),$(url $(((first + 2) % 3)))"
    case "$i" in
        0 | 1 | 2 | 3 | 4 | 5) runs=(--runs complex,quick) ;;
        6 | 7) runs=(--runs quick --reject) ;;
        8 | 9 | 10 | 11 | 12 | 13) runs=(--runs quick,tool_error,quick) ;;
        *) runs=(--runs quick,quick,tool_error) ;;
    esac
    # Runs start on a node other than the client's, and never on node-1: an agent dies with its process, and its
    # run can then never end (the client reports it stalled). What this proves is that delivery and confirmation
    # survive the death of the node holding the users' sockets and sessions.
    case "$first" in 0) runs_node=2 ;; 1) runs_node=$(((i / 3) % 2 * 2)) ;; *) runs_node=0 ;; esac
    "$client_bin" run --url "$urls" --runs-url "$(url $runs_node)" --token "$user-token" \
        --timeout "$timeout_s" "${runs[@]}" > "$work/client-$i.log" 2>&1 &
    pids+=($!)
done

# One more client, on node-1, keeps its session in a state file; it is killed just before node-1, so that its
# session has nobody to resume it while its owner is dead, and its agent (on node-0) keeps emitting into the store.
# Started again once node-1 is back, it resumes the session wherever the store says it now lives.
lone=25
lone_urls="$(url 1),$(url 2),$(url 0)"
"$client_bin" run --url "$lone_urls" --runs-url "$(url 0)" --token bob-token --timeout "$timeout_s" \
    --runs complex --state-file "$work/lone.state" > "$work/killed-$lone.log" 2>&1 &
lone_pid=$!

echo "=== node-1 is killed (SIGKILL) mid-run"
# Once every client is connected, and its runs started: the kill lands mid-run.
for _ in $(seq 1 150); do
    [ "$(grep -l "^connected at" "$work"/client-*.log 2> /dev/null | wc -l)" -ge 24 ] \
        && grep -q "^started:" "$work/killed-$lone.log" && break
    sleep 0.2
done
sleep 1
kill -9 "$lone_pid"
# The time is taken before the kill: clients notice within milliseconds.
killed_at="$(date +%s%3N)"
kill -9 "${node_pids[1]}"
node_pids[1]=""
echo "killed node-1 at $killed_at"
sleep 12
echo "=== node-1 starts again; the killed client too, from its state file"
start_node 1 "$store" cluster-operator
"$client_bin" run --url "$lone_urls" --runs-url "$(url 0)" --token bob-token --timeout "$timeout_s" \
    --runs complex --state-file "$work/lone.state" > "$work/client-$lone.log" 2>&1 &
pids+=($!)

echo "=== waiting for the clients"
failed=0
for index in "${!pids[@]}"; do
    wait "${pids[$index]}" || { echo "client process $index exited with $?"; failed=1; }
done
pids=()
[ "$failed" = 0 ] || { tail -n 4 "$work"/client-*.log; exit 1; }
grep -q "resuming session" "$work/client-$lone.log" || { echo "the killed client did not resume"; exit 1; }
grep -h "recovered=\|adopted" "$work"/node-*.log | sed 's/^.*agent-server: //'

echo "=== the cross-node report"
curl --noproxy '*' -sf -H "Authorization: Bearer cluster-operator" \
    "http://127.0.0.1:${ports[0]}/cluster/report" > "$work/cluster-report.json"
python3 "$root/Examples/scripts/check_cluster.py" "$work" "$killed_at" 1

echo "=== graceful shutdown of the nodes"
stop_nodes_gracefully
pg_stop
echo "cluster passed (logs in $work)"
