#!/usr/bin/env bash
# The publish API against its own OpenAPI document (Spec/publish-api.yaml) with schemathesis (PyPI, installed into a
# throwaway virtualenv): every operation, generated valid and invalid bodies, every check — no 5xx, every status
# and body as documented, invalid data refused, valid data taken, 405 for undeclared methods. Runs with a real
# client in the session, an open run (st-open) for publishing and progress, and a decided one (st-done) for the
# run and its confirmations stream, so that the operations reach their logic instead of 404. SCHEMATHESIS_EXAMPLES
# sets the examples per operation (default 40). (POST /v1/runs mostly meets principals and sessions that do not exist
# — 404, as documented; publish.sh opens runs for real. Pinning `body.principal` makes schemathesis send bodies with
# both a session and a principal, which the document itself forbids.)
set -euo pipefail
cd "$(dirname "$0")/../.."
source Examples/scripts/binaries.sh
work="$(mktemp -d /tmp/eventack-schemathesis.XXXXXX)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -9 "$pid" 2> /dev/null || true; done; }
trap cleanup EXIT
echo "=== installing schemathesis into $work/venv"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q schemathesis
"$work/venv/bin/schemathesis" --version

"$server_bin" --port 0 --tokens "alice-token=alice" --publisher-tokens "pub-token=backend" > "$work/server.log" 2>&1 &
pids+=($!)
port="$(listening_port "$work/server.log" "agent-server listening on")"
url="http://127.0.0.1:$port"
"$client_bin" run --url "ws://127.0.0.1:$port/eventack" --token alice-token --runs "" --await-runs 1000 --quiet \
    --timeout 1200 > "$work/client.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do grep -q "connected at" "$work/client.log" && break; sleep 0.1; done
auth=(-H "Authorization: Bearer pub-token")
curl -sf "${auth[@]}" -X POST "$url/v1/runs" -d '{"principal": "alice", "run": "st-open", "idleTimeoutMs": 3600000}'
curl -sf "${auth[@]}" -X POST "$url/v1/runs" -d '{"principal": "alice", "run": "st-done"}'
curl -sf "${auth[@]}" -X POST "$url/v1/runs/st-done/events" \
    -d '{"events": [{"id": "1", "kind": "agent_started"}, {"id": "2", "kind": "agent_completed", "payload": {"result": "r"}}]}'
for _ in $(seq 1 50); do
    curl -sf "${auth[@]}" "$url/v1/runs/st-done" | grep -q '"verdict":{"verdict":"confirmed"' && break
    sleep 0.1
done
echo

cat > "$work/schemathesis.toml" << TOML
base-url = "$url"
headers = { Authorization = "Bearer pub-token" }
request-timeout = 10
max-stream-events = 10
generation.max-examples = ${SCHEMATHESIS_EXAMPLES:-40}

[[operations]]
include-operation-id = ["publishEvents", "runProgress"]
parameters = { "path.run" = "st-open" }

[[operations]]
include-operation-id = ["getRun", "followConfirmations"]
parameters = { "path.run" = "st-done" }
TOML
"$work/venv/bin/schemathesis" --config-file "$work/schemathesis.toml" run Spec/publish-api.yaml --checks all \
    2>&1 | tee "$work/schemathesis.log" | tail -40
grep -q "No issues found\|passed" "$work/schemathesis.log"
if grep -qE "^[[:space:]]*❌ ST[0-9]+" "$work/schemathesis.log"; then
    echo "schemathesis found failures (log in $work/schemathesis.log)"
    exit 1
fi
echo "schemathesis passed (logs in $work)"
