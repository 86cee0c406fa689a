#!/usr/bin/env bash
# The load benchmark: one agent server, one client, N events of a 200-byte payload over one loopback WebSocket,
# receipt-acked, as fast as the window allows (max) and paced at 10,000 events/s, 3 runs each. Prints one
# tab-separated row per run and the medians:
#   system variant msgs seconds msgs/s p50_us p99_us notes
# Latency is from emit to the server receiving the receipt ack that covers the event, on the server's clock.
# BENCH_EVENTS overrides N (default 200000), BENCH_RUNS the repetitions (default 3).
set -euo pipefail
cd "$(dirname "$0")/../.."
events="${BENCH_EVENTS:-200000}"
runs="${BENCH_RUNS:-3}"
swift build -c release --package-path Examples/AgentServer 2>&1 | tail -1 >&2
swift build -c release --package-path Examples/LinuxClient 2>&1 | tail -1 >&2
server_bin="$(swift build -c release --package-path Examples/AgentServer --show-bin-path)/AgentServer"
client_bin="$(swift build -c release --package-path Examples/LinuxClient --show-bin-path)/LinuxClient"
log="$(mktemp /tmp/eventack-bench.XXXXXX)"
"$server_bin" --port 0 --tokens "bench-token=bench" --max-queued-events 4096 --bench > "$log" 2>&1 &
server_pid=$!
trap 'kill -9 $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q "agent-server listening on" "$log" && break; sleep 0.1; done
port="$(grep -o 'agent-server listening on [0-9]*' "$log" | awk '{print $4}')"
rows="$(mktemp)"
printf 'system\tvariant\tmsgs\tseconds\tmsgs/s\tp50_us\tp99_us\tnotes\n'
for variant in max paced; do
    for _ in $(seq 1 "$runs"); do
        "$client_bin" bench --url "ws://127.0.0.1:$port/eventack" --token bench-token --events "$events" \
            --variant "$variant" | tee -a "$rows"
    done
done
# Medians per variant (odd run counts: the middle value of each column).
python3 - "$rows" <<'PY'
import statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
for variant in ("max", "paced"):
    mine = [r for r in rows if r[1] == variant]
    if not mine:
        continue
    med = lambda i: statistics.median(float(r[i]) for r in mine)
    cpu = statistics.median(float(r[7].split("server_cpu_us_per_msg=")[1].split()[0]) for r in mine)
    print(f"eventack\t{variant}\t{int(med(2))}\t{med(3):.3f}\t{med(4):.0f}\t{med(5):.0f}\t{med(6):.0f}\t"
          f"median of {len(mine)}; server_cpu_us_per_msg={cpu:.2f}")
PY
kill -TERM "$server_pid"
wait "$server_pid" 2>/dev/null || true
