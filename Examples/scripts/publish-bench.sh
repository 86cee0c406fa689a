#!/usr/bin/env bash
# The publish API benchmark (issue 25's goals), on one node over loopback, release builds: `wrk` (Debian; installed
# if missing) drives POST /v1/runs/RUN/events with a Lua script (Examples/scripts/publish.lua) that stamps each
# payload with CLOCK_MONOTONIC; one `eventack-client listen` in the run's session receives and acks everything and
# prints a row: events delivered, seconds from the first delivery to the last, events/s, and publish → delivery
# p50/p99 in µs. Variants:
#   latency    one connection, one event per request (requests in sequence: the p50 on loopback)
#   single     CONNECTIONS (32) keep-alive connections, one event per request (requests/s)
#   batch100   8 connections, 100 events per request (throughput into one node)
# Each runs DURATION (10) seconds, BENCH_RUNS (3) times; medians last, and wrk's own lines (requests/s) beside them.
# Compare with the embedded emit path in the same session: `BENCH_VARIANTS=max bash Examples/scripts/bench.sh`.
# CLUSTER=1: two durable nodes on one PostgreSQL (installed and started like postgres.sh does), the client on node A;
#   latency-here   one connection to node A, one event per request (durable: a 200 means committed)
#   latency-relay  the same to node B, which relays each request to node A (EA-PUB-11)
#   batch100-here  8 connections to node A, 100 events per request
#   batch100-relay the same to node B
#   batch100-runs  8 connections to node A, each publishing to a run of its own (the client's session has 8 runs)
# (CLUSTER_VARIANTS picks some of them.)
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
command -v wrk > /dev/null || { apt-get update -qq && apt-get install -y -qq wrk > /dev/null; }
unset EVENTACK_SERVER_BIN EVENTACK_CLIENT_BIN
EXAMPLES_CONFIG=release source Examples/scripts/binaries.sh
work="$(mktemp -d /tmp/eventack-publish-bench.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2> /dev/null || true; done
    if [ -n "${pg_pid:-}" ]; then pg_stop; fi
}
trap cleanup EXIT
start_server() { # name [options…]: starts a node, sets port_NAME
    local name="$1"
    shift
    "$server_bin" --port 0 --tokens "bench-token=bench" --publisher-tokens "bench-publisher=bench" --window 1000 \
        --max-queued-events 100000 --run-idle-timeout-ms 0 "$@" > "$work/server-$name.log" 2>&1 &
    pids+=($!)
    printf -v "port_$name" '%s' "$(listening_port "$work/server-$name.log" "agent-server listening on")"
}
if [ "${CLUSTER:-0}" = 1 ]; then
    source "$root/Examples/scripts/postgres.sh"
    pg_start "$work"
    start_server a --store "$pg_url" --node-id bench-a
    start_server b --store "$pg_url" --node-id bench-b
    port="$port_a"
else
    start_server a
    port="$port_a"
fi
url="http://127.0.0.1:$port"
duration="${DURATION:-10}"
rows="$work/rows.tsv"
run_variant() { # name connections batch [port wrk sends to] [runs]
    local name="$1" connections="$2" batch="$3" run="bench-$1-$RANDOM$RANDOM" target="http://127.0.0.1:${4:-$port}"
    local runs="" threads="$((connections < 2 ? 1 : 2))" extra
    if [ -n "${5:-}" ]; then
        for extra in $(seq 1 "$5"); do runs="${runs:+$runs,}$run-$extra"; done
        threads="$5"
    fi
    "$client_bin" listen --url "ws://127.0.0.1:$port/eventack" --token bench-token --variant "$name" \
        > "$work/listen.log" 2>&1 &
    local listener=$!
    pids+=($listener)
    for _ in $(seq 1 100); do grep -q "^session " "$work/listen.log" && break; sleep 0.1; done
    local session
    session="$(awk '/^session /{print $2; exit}' "$work/listen.log")"
    for name in $run ${runs//,/ }; do
        curl -sf -X POST "$url/v1/runs" -H "Authorization: Bearer bench-publisher" \
            -d "{\"session\": \"$session\", \"run\": \"$name\", \"idleTimeoutMs\": 3600000}" > /dev/null
    done
    RUN="$run" RUNS="$runs" BATCH="$batch" TOKEN=bench-publisher wrk -t "$threads" -c "$connections" \
        -d "${duration}s" -s "$root/Examples/scripts/publish.lua" "$target" > "$work/wrk.log" 2>&1
    wait "$listener"
    local row
    row="$(grep "^eventack-publish" "$work/listen.log")"
    local rps
    rps="$(awk '/Requests\/sec/{print $2}' "$work/wrk.log")"
    printf '%s wrk_requests_per_s=%s batch=%s connections=%s %s\n' "$row" "$rps" "$batch" "$connections" \
        "$(grep "^requests" "$work/wrk.log" | tr ',' ';')" | tee -a "$rows"
}
printf 'system\tvariant\tmsgs\tseconds\tmsgs/s\tp50_us\tp99_us\tnotes\n'
for _ in $(seq 1 "${BENCH_RUNS:-3}"); do
    if [ "${CLUSTER:-0}" = 1 ]; then
        for variant in ${CLUSTER_VARIANTS:-latency-here latency-relay batch100-here batch100-relay}; do
            case "$variant" in
                latency-here) run_variant latency-here 1 1 "$port_a" ;;
                latency-relay) run_variant latency-relay 1 1 "$port_b" ;;
                batch100-here) run_variant batch100-here 8 100 "$port_a" ;;
                batch100-relay) run_variant batch100-relay 8 100 "$port_b" ;;
                batch100-runs) run_variant batch100-runs 8 100 "$port_a" 8 ;;
            esac
        done
    else
        run_variant latency 1 1
        run_variant single "${CONNECTIONS:-32}" 1
        run_variant batch100 8 100
    fi
done
python3 - "$rows" << 'PY'
import statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
for variant in ("latency", "single", "batch100", "latency-here", "latency-relay", "batch100-here", "batch100-relay",
                "batch100-runs"):
    mine = [r for r in rows if r[1] == variant]
    if not mine:
        continue
    med = lambda i: statistics.median(float(r[i]) for r in mine if r[i] != "-")
    rps = statistics.median(float(r[7].split("wrk_requests_per_s=")[1].split()[0]) for r in mine)
    print(f"eventack-publish\t{variant}\t{int(med(2))}\t{med(3):.3f}\t{med(4):.0f}\t{med(5):.0f}\t{med(6):.0f}\t"
          f"median of {len(mine)}; wrk_requests_per_s={rps:.0f}")
PY
