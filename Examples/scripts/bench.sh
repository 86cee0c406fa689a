#!/usr/bin/env bash
# The load benchmark: one agent server, one client, N events of a 200-byte payload over one loopback WebSocket,
# receipt-acked, as fast as the window allows (max) and paced at RATE (10,000) events/s — each event when it is due,
# as the peers' producers send — 3 runs each. The server's emitter runs on the event loop of the session's connection
# (as its agents do: ReconcilerService.writerExecutor(of:)). Prints one
# tab-separated row per run and the medians:
#   system variant msgs seconds msgs/s p50_us p99_us notes
# and, for the peers' harness (EXTRA_CMD='bash Examples/scripts/bench.sh' ../shared/bench/peers/run.sh), each median
# again as a `RESULT` line.
# Definitions as the harness's: each payload carries a CLOCK_MONOTONIC emit stamp; p50/p99 are emit → the client SDK
# delivering the event to the app; `seconds` runs from the first emit to the server receiving the last receipt ack.
# The notes add the confirmation latency (emit → the server holding the ack that covers the event, ack_p50_us) and
# CPU per event of the server and of the client (SDK, WebSocket and the consumer loop).
# N (or BENCH_EVENTS) sets the events (default 200000), BENCH_RUNS the repetitions (default 3), RATE the paced rate.
# The in-flight window is the harness's WINDOW (default 1000; BENCH_WINDOW overrides it).
# BENCH_STORE=postgres runs the same with sessions written ahead to a throwaway PostgreSQL 15 (synchronous_commit on;
# rows `eventack-durable`, with PostgreSQL's CPU per event beside the server's): each event waits for a commit before
# it is sent, so throughput is about window / (commit + ack delay).
# BENCH_VARIANTS picks the variants (default "max paced"). SCRAPE_MS=100 scrapes the operator's /report, the bench
# user's /report and /metrics every 100 ms while each run lasts, as a monitoring system would (the notes then count
# the scrapes): compare the paced p99 with and without it to see whether reports reach the data path.
# PRIO (the harness's: empty, nice or rt) runs the server, the client and PostgreSQL at the priority the harness gives
# the peers' servers and clients, as its README asks of a project's own rows.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
events="${BENCH_EVENTS:-${N:-200000}}"
runs="${BENCH_RUNS:-3}"
# Release builds of its own, whatever binaries the environment hands down.
unset EVENTACK_SERVER_BIN EVENTACK_CLIENT_BIN
EXAMPLES_CONFIG=release source Examples/scripts/binaries.sh
case "${PRIO:-}" in
"") prio=() ;;
nice) prio=(nice -n -10) ;;
rt) prio=(chrt -f 10) ;;
*) echo "PRIO must be empty, nice or rt" >&2; exit 2 ;;
esac
log="$(mktemp /tmp/eventack-bench.XXXXXX)"
system=eventack
store_options=()
server_pid=""
if [ "${BENCH_STORE:-}" = postgres ]; then
    source "$root/Examples/scripts/postgres.sh"
    pg_work="$(mktemp -d /tmp/eventack-bench-pg.XXXXXX)"
    pg_start "$pg_work"
    # The postmaster and its helpers; the backends, forked when the server connects, inherit the priority.
    for pid in "$pg_pid" $(pgrep -P "$pg_pid"); do
        case "${PRIO:-}" in
        nice) renice -n -10 -p "$pid" > /dev/null ;;
        rt) chrt -f -p 10 "$pid" ;;
        esac
    done
    store_options=(--store "$pg_url" --node-id bench)
    system=eventack-durable
fi
cleanup() {
    [ -n "$server_pid" ] && kill -9 "$server_pid" 2> /dev/null || true
    if [ -n "${pg_pid:-}" ]; then pg_stop; fi
}
trap cleanup EXIT
window="${BENCH_WINDOW:-${WINDOW:-1000}}"
rate="${RATE:-10000}"
"${prio[@]}" "$server_bin" --port 0 --tokens "bench-token=bench" --operator-token bench-operator --window "$window" --max-queued-events 4096 --bench \
    "${store_options[@]}" \
    > "$log" 2>&1 &
server_pid=$!
port="$(listening_port "$log" "agent-server listening on")"
rows="$(mktemp)"
printf 'system\tvariant\tmsgs\tseconds\tmsgs/s\tp50_us\tp99_us\tnotes\n'
for variant in ${BENCH_VARIANTS:-max paced}; do
    for _ in $(seq 1 "$runs"); do
        ticks="$([ -n "${pg_pid:-}" ] && pg_cpu_ticks || echo 0)"
        scraper=""
        if [ -n "${SCRAPE_MS:-}" ]; then
            scraped="$(mktemp)"
            python3 "$root/Examples/scripts/scrape.py" "http://127.0.0.1:$port" "$SCRAPE_MS" "$scraped" &
            scraper=$!
        fi
        row="$("${prio[@]}" "$client_bin" bench --url "ws://127.0.0.1:$port/eventack" --token bench-token --events "$events" \
            --variant "$variant" --rate "$rate")"
        if [ -n "$scraper" ]; then
            kill -TERM "$scraper" && wait "$scraper" || true
            row="$row scrapes=$(cat "$scraped")"
        fi
        if [ -n "${pg_pid:-}" ]; then
            used=$(($(pg_cpu_ticks) - ticks))
            row="$row pg_cpu_us_per_msg=$(python3 -c "print(f'{$used * 1e6 / $(getconf CLK_TCK) / $events:.2f}')")"
        fi
        printf '%s\n' "${row/#eventack/$system}" | tee -a "$rows"
    done
done
# Medians per variant (odd run counts: the middle value of each column).
python3 - "$rows" "$system" "$window" <<'PY'
import statistics, sys
system, window = sys.argv[2], sys.argv[3]
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
for variant in ("max", "paced"):  # whichever ran
    mine = [r for r in rows if r[1] == variant]
    if not mine:
        continue
    med = lambda i: statistics.median(float(r[i]) for r in mine)
    note = lambda key: statistics.median(float(r[7].split(key + "=")[1].split()[0]) for r in mine)
    pg = f" pg_cpu_us_per_msg={note('pg_cpu_us_per_msg'):.2f}" if "pg_cpu_us_per_msg=" in mine[0][7] else ""
    pg += f" scrapes={note('scrapes'):.0f}" if "scrapes=" in mine[0][7] else ""
    latency = mine[0][7].split("latency=")[1].split()[0]
    row = (f"{system}\t{variant}\t{int(med(2))}\t{med(3):.3f}\t{med(4):.0f}\t{med(5):.0f}\t{med(6):.0f}\t"
           f"median of {len(mine)}; server_cpu_us_per_msg={note('server_cpu_us_per_msg'):.2f}"
           f" client_cpu_us_per_msg={note('client_cpu_us_per_msg'):.2f}{pg}"
           f" ack_p50_us={note('ack_p50_us'):.0f} ack_p99_us={note('ack_p99_us'):.0f}")
    print(row)
    # For ../shared/bench/peers/run.sh (EXTRA_CMD): the same row in its format. One hop (events are made in the
    # server process); p50/p99 as the harness defines them (send stamp → consumer receipt).
    print("RESULT\t" + row + f" one_hop latency={latency} window={window}")
PY
kill -TERM "$server_pid"
wait "$server_pid" 2>/dev/null || true
