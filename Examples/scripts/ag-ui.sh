#!/usr/bin/env bash
# AG-UI agents behind EventAck (issue 26): installs the test agent's Python packages (Examples/ag-ui-agent: FastAPI on
# the official ag-ui-protocol package) into a virtual environment, starts it and an AgentServer that runs it as a
# configured agent, then:
#   - a user's client is cut mid-run and resumes; the run (a step, reasoning, a message streamed in deltas around a
#     tool call with streamed arguments, state, RUN_FINISHED) reaches it whole: every AG-UI event once, in order, the
#     deltas reassemble to the agent's text, the run confirmed at every level asked (a message's end, the tool's
#     result and the run's end at display), outcome succeeded;
#   - each failing mode of the agent ends its run failed with its reason, at the client (a RUN_ERROR of the server's)
#     and in GET /v1/runs/{run}: an HTTP 500 and a stream cut mid-message (agent_stream_failed), an event out of order
#     (unpaired_call: the event is not published), an agent that hangs (agent_stream_failed after the read timeout),
#     an event over the frame limit (frame_too_large), a line without end (agent_stream_failed once it passes twice
#     the frame limit, before the SSE parser holds more);
#   - a user may start a configured agent's run for themself, not for another user, nor a run of an unconfigured agent.
# Exits non-zero on any failure. Everything it starts is stopped by process id.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
source Examples/scripts/binaries.sh
work="$(mktemp -d /tmp/eventack-ag-ui.XXXXXX)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -9 "$pid" 2> /dev/null || true; done; }
trap cleanup EXIT

echo "=== the AG-UI agent (ag-ui-protocol from PyPI) in $work/venv"
start_ag_ui_agent

"$server_bin" --port 0 --tokens "hank-token=hank,ivy-token=ivy" --publisher-tokens "pub-token=backend" \
    --ag-ui-agents "travel=http://127.0.0.1:$agent_port/" --ag-ui-read-timeout-ms 2000 > "$work/server.log" 2>&1 &
server_pid=$!
pids+=($server_pid)
port="$(listening_port "$work/server.log" "agent-server listening on")"
[ -n "$port" ] || { cat "$work/server.log"; exit 1; }
url="http://127.0.0.1:$port"

# Starts a client of USER that waits for one run to end (cut after CUT frames if given); sets client_pid.
start_client() { # user log [cut]
    "$client_bin" run --url "ws://127.0.0.1:$port/eventack" --token "$1-token" --runs "" --await-runs 1 \
        ${3:+--cut-after "$3"} --timeout 60 > "$2" 2>&1 &
    client_pid=$!
    pids+=($client_pid)
    for _ in $(seq 1 50); do grep -q "connected at" "$2" && break; sleep 0.1; done
}
open_run() { # token run mode [principal]
    curl -s -o "$work/open-$2.json" -w "%{http_code}" -X POST "$url/v1/runs" -H "Authorization: Bearer $1" \
        -d "{\"principal\": \"${4:-hank}\", \"run\": \"$2\", \"agent\": {\"name\": \"travel\",
             \"input\": {\"forwardedProps\": {\"mode\": \"$3\", \"delayMs\": 30}}}}"
}

echo "=== a run of the agent; the user's client is cut after 8 frames and resumes"
start_client hank "$work/hank-ok.log" 8
[ "$(open_run pub-token agui-ok ok)" = 201 ] || { cat "$work/open-agui-ok.json"; exit 1; }
wait "$client_pid" || { cat "$work/hank-ok.log"; exit 1; }
grep -q "resumed true" "$work/hank-ok.log" || { echo "the client never resumed"; exit 1; }
python3 - "$work/hank-ok.log" "$url" << 'PY'
import json, sys, time, urllib.request
log, url = sys.argv[1], sys.argv[2]
events = []
for line in open(log):
    if line.startswith("event ") and line.split()[2] == "agui-ok":
        seq, run, kind, level, payload = line.rstrip("\n").split(" ", 5)[1:6]
        events.append((int(seq), kind, level.strip("[]"), json.loads(payload)))
kinds = [kind for _, kind, _, _ in events]
expected = ["RUN_STARTED", "STEP_STARTED", "REASONING_START", "REASONING_MESSAGE_START", "REASONING_MESSAGE_CONTENT",
    "REASONING_MESSAGE_END", "REASONING_END", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TOOL_CALL_START",
    "TOOL_CALL_ARGS", "TOOL_CALL_ARGS", "TOOL_CALL_END", "TOOL_CALL_RESULT", "STATE_SNAPSHOT", "STATE_DELTA"] + \
    ["TEXT_MESSAGE_CONTENT"] * 7 + ["TEXT_MESSAGE_END", "STEP_FINISHED", "RUN_FINISHED"]
assert kinds == expected, f"the client got {kinds}"
seqs = [seq for seq, _, _, _ in events]
assert seqs == list(range(1, len(expected) + 1)), f"seqs {seqs}"
text = "".join(p["delta"] for _, kind, _, p in events if kind == "TEXT_MESSAGE_CONTENT")
assert text == "I found 3 flights to Lisbon; the cheapest is TAP 1234 on Friday at 9:05, 142 EUR.", text
levels = {kind: level for _, kind, level, _ in events}
assert levels["TEXT_MESSAGE_END"] == levels["TOOL_CALL_RESULT"] == levels["RUN_FINISHED"] == "display", levels
assert levels["TEXT_MESSAGE_CONTENT"] == "receipt", levels
for _ in range(100):
    request = urllib.request.Request(f"{url}/v1/runs/agui-ok", headers={"Authorization": "Bearer pub-token"})
    run = json.load(urllib.request.urlopen(request))
    if run["verdict"]["verdict"] != "pending":
        break
    time.sleep(0.1)
assert run["verdict"]["verdict"] == "confirmed" and run["verdict"]["outcome"] == "succeeded", run["verdict"]
stats = run["reports"][0]["stats"]
assert stats["display"]["confirmed"] == 3 and stats["receipt"]["confirmed"] == len(expected), stats
print(f"agui-ok: {len(events)} AG-UI events delivered once each, in order, across the cut; the deltas read "
      f"\"{text}\"; confirmed (3 at display), outcome succeeded")
PY

check_failed() { # run log reason [server url]
    local base="${4:-$url}"
    grep -q "event [0-9]* $1 RUN_ERROR .*\"code\":\"$3\"" "$2" || { echo "$1: no RUN_ERROR $3 at the client"; cat "$2"; exit 1; }
    for _ in $(seq 1 100); do
        curl -s "$base/v1/runs/$1" -H "Authorization: Bearer pub-token" > "$work/$1.json"
        grep -q '"outcome":"failed"' "$work/$1.json" && break
        sleep 0.1
    done
    grep -q '"outcome":"failed"' "$work/$1.json" || { echo "$1: not failed"; cat "$work/$1.json"; exit 1; }
    echo "$1: ended failed, $3, at the client and in GET /v1/runs/$1"
}
for mode in http500 cut invalid hang huge flood; do
    echo "=== the agent fails: $mode"
    start_client hank "$work/hank-$mode.log"
    [ "$(open_run pub-token "agui-$mode" "$mode")" = 201 ] || { cat "$work/open-agui-$mode.json"; exit 1; }
    wait "$client_pid" || { cat "$work/hank-$mode.log"; exit 1; }
    case "$mode" in invalid) reason=unpaired_call ;; huge) reason=frame_too_large ;; *) reason=agent_stream_failed ;; esac
    check_failed "agui-$mode" "$work/hank-$mode.log" "$reason"
done
grep -q "agui-flood RUN_ERROR .*a line of over" "$work/hank-flood.log" || { echo "the endless line was not cut"; exit 1; }
! grep -q "agui-invalid TEXT_MESSAGE_CONTENT .*never-started" "$work/hank-invalid.log" || { echo "the out-of-order event was published"; exit 1; }

echo "=== who may start an agent's run"
start_client ivy "$work/ivy.log"
[ "$(open_run ivy-token agui-ivy ok ivy)" = 201 ] || { cat "$work/open-agui-ivy.json"; exit 1; }
wait "$client_pid" || { cat "$work/ivy.log"; exit 1; }
echo "a user started a configured agent's run for themself: 201, and it ran"
[ "$(open_run ivy-token agui-not-hers ok hank)" = 403 ] || { echo "a user started a run for another user"; exit 1; }
status="$(curl -s -o /dev/null -w "%{http_code}" -X POST "$url/v1/runs" -H "Authorization: Bearer pub-token" \
    -d '{"principal": "hank", "agent": {"name": "elsewhere", "input": {}}}')"
[ "$status" = 404 ] || { echo "an unconfigured agent answered $status"; exit 1; }
echo "a user may not start one for another user (403); an agent not configured is 404 unknown_agent"
echo "=== two nodes on PostgreSQL: the node reading an agent's stream is killed (SIGKILL); the run ends agent_stream_failed"
source "$root/Examples/scripts/postgres.sh"
pg_start "$work"
trap 'cleanup; pg_stop' EXIT
ports=("$(free_port)" "$(free_port)")
node_pids=("" "")
tokens="hank-token=hank,ivy-token=ivy"
export NODE_ARGS="--publisher-tokens pub-token=backend --ag-ui-agents travel=http://127.0.0.1:$agent_port/"
for i in 0 1; do start_node "$i" "$pg_url" cluster-operator; pids+=(${node_pids[$i]}); done
"$client_bin" run --url "ws://127.0.0.1:${ports[1]}/eventack,ws://127.0.0.1:${ports[0]}/eventack" --token ivy-token \
    --runs "" --await-runs 1 --timeout 90 > "$work/ivy-cluster.log" 2>&1 &
client_pid=$!
pids+=($client_pid)
for _ in $(seq 1 50); do grep -q "connected at" "$work/ivy-cluster.log" && break; sleep 0.1; done
# Opened through node-0, which relays it to node-1 (it holds ivy's session): node-1 reads the agent's stream.
status="$(curl -s -o "$work/open-cluster.json" -w "%{http_code}" -X POST "http://127.0.0.1:${ports[0]}/v1/runs" \
    -H "Authorization: Bearer pub-token" -d '{"principal": "ivy", "run": "agui-orphan", "agent": {"name": "travel",
    "input": {"forwardedProps": {"mode": "hang", "delayMs": 30}}}}')"
[ "$status" = 201 ] || { cat "$work/open-cluster.json"; exit 1; }
for _ in $(seq 1 100); do grep -q "agui-orphan REASONING_END" "$work/ivy-cluster.log" && break; sleep 0.1; done
kill -9 "${node_pids[1]}"
killed_at="$(date +%s)"
wait "$client_pid" || { cat "$work/ivy-cluster.log"; exit 1; }
check_failed agui-orphan "$work/ivy-cluster.log" agent_stream_failed "http://127.0.0.1:${ports[0]}"
grep -q "resumed true" "$work/ivy-cluster.log" || { echo "ivy's client never resumed on node-0"; exit 1; }
echo "agui-orphan: ended $(($(date +%s) - killed_at)) s after the node reading its stream was killed (its idle timeout is 60 s)"

echo "=== the gateway's cost: one message of 1,000 deltas, end to end (a measurement, not a check)"
start_client hank "$work/hank-bench.log"
cpu_before="$(awk '{print $14 + $15}' "/proc/$server_pid/stat")"
started="$(date +%s%N)"
curl -s -o /dev/null -X POST "$url/v1/runs" -H "Authorization: Bearer pub-token" \
    -d '{"principal": "hank", "run": "agui-bench", "agent": {"name": "travel",
         "input": {"forwardedProps": {"mode": "deltas", "deltas": 1000, "delayMs": 0}}}}'
wait "$client_pid" || { tail -5 "$work/hank-bench.log"; exit 1; }
ended="$(date +%s%N)"
cpu_after="$(awk '{print $14 + $15}' "/proc/$server_pid/stat")"
events="$(grep -c "^event [0-9]* agui-bench " "$work/hank-bench.log")"
[ "$events" = 1004 ] || { echo "the benchmark run delivered $events events, not 1004"; exit 1; }
python3 -c "
import os, sys
events, ns, ticks = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
hz = os.sysconf('SC_CLK_TCK')
print(f'agui-bench: {events} events end to end in {ns / 1e6:.0f} ms ({events / (ns / 1e9):.0f} events/s); '
      f'server CPU {ticks / hz * 1e6 / events:.0f} µs per AG-UI event (SSE in, checked, published, delivered, acked)')
" "$events" "$((ended - started))" "$((cpu_after - cpu_before))"
# The same 1,004 events through the publish API's batched path (100 per request), in the same server.
start_client hank "$work/hank-batched.log"
curl -s -o /dev/null -X POST "$url/v1/runs" -H "Authorization: Bearer pub-token" \
    -d '{"principal": "hank", "run": "batched-bench", "profile": "ag-ui"}'
python3 - "$work/batches" << 'PY'
import json, sys
events = [{"type": "RUN_STARTED", "threadId": "t", "runId": "b"}, {"type": "TEXT_MESSAGE_START", "messageId": "m"}]
events += [{"type": "TEXT_MESSAGE_CONTENT", "messageId": "m", "delta": f"w{i} "} for i in range(1000)]
events += [{"type": "TEXT_MESSAGE_END", "messageId": "m"}, {"type": "RUN_FINISHED", "threadId": "t", "runId": "b"}]
items = [{"id": f"b{i}", "kind": e["type"], "payload": e} for i, e in enumerate(events)]
for n in range(0, len(items), 100):
    open(f"{sys.argv[1]}-{n // 100:02d}.json", "w").write(json.dumps({"events": items[n:n + 100]}))
PY
cpu_before="$(awk '{print $14 + $15}' "/proc/$server_pid/stat")"
started="$(date +%s%N)"
for batch in "$work"/batches-*.json; do
    curl -sf -o /dev/null -X POST "$url/v1/runs/batched-bench/events" -H "Authorization: Bearer pub-token" \
        --data-binary "@$batch"
done
wait "$client_pid" || { tail -5 "$work/hank-batched.log"; exit 1; }
ended="$(date +%s%N)"
cpu_after="$(awk '{print $14 + $15}' "/proc/$server_pid/stat")"
python3 -c "
import os, sys
events, ns, ticks = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
print(f'batched-bench: the same {events} events through POST …/events, 100 per request: {ns / 1e6:.0f} ms; '
      f'server CPU {ticks / os.sysconf(\"SC_CLK_TCK\") * 1e6 / events:.0f} µs per event')
" 1004 "$((ended - started))" "$((cpu_after - cpu_before))"
echo "ag-ui passed (logs in $work)"
