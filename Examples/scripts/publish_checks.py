"""Checks of the publish API (Spec/PUBLISH.md) that need a client that misbehaves on purpose, run by publish.sh
against a server started with --window 4 --max-queued-events 4 and the tokens it names:

- a user's token may not publish (403), a missing one gets 401;
- a burst of the same request, sent concurrently, publishes each id once (every answer has the same seqs);
- a full window: a session that does not ack fills up, the request waits `waitMs` and answers 429 with the accepted
  prefix and Retry-After; once the client acks, the same request succeeds, its prefix answered as duplicates;
- the client received every seq once, in order.

Usage: publish_checks.py PORT PUBLISHER_TOKEN USER_TOKEN USER."""

import concurrent.futures
import json
import sys
import urllib.error
import urllib.request

from wsclient import WebSocket

port, publisher, user_token, user = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
base = f"http://127.0.0.1:{port}"


def call(method, path, body=None, token=publisher, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, (json.loads(text) if text else None), response.headers
    except urllib.error.HTTPError as error:
        text = error.read()
        return error.code, (json.loads(text) if text else None), error.headers


def check(condition, what):
    if not condition:
        print(f"FAILED: {what}")
        sys.exit(1)
    print(f"ok: {what}")


def events(first, last, run_ends=False):
    items = [{"id": f"e{i}", "kind": "agent_thinking", "payload": {"text": f"step {i}"}} for i in range(first, last + 1)]
    if first == 1:
        items[0] = {"id": "e1", "kind": "agent_started"}
    if run_ends:
        items[-1] = {"id": f"e{last}", "kind": "agent_completed", "payload": {"result": "done"}}
    return items


# Who may publish.
status, answer, _ = call("POST", "/v1/runs", {"principal": user}, token=user_token)
check(status == 403 and answer["error"] == "forbidden", "a user's token is refused with 403 forbidden")
status, answer, headers = call("POST", "/v1/runs", {"principal": user}, token=None)
check(status == 401 and "Bearer" in headers.get("WWW-Authenticate", ""), "no token: 401 with WWW-Authenticate")

# A session that reads but does not ack until told.
socket = WebSocket(port, user_token)
welcome = socket.handshake()
check(welcome and welcome.get("type") == "welcome", "the user's session is open")
session = welcome["session"]
status, answer, _ = call("POST", "/v1/runs", {"session": session, "run": "checks-1"})
check(status == 201 and answer["sessions"] == [session], "the run opens in the session (201)")
status, answer, _ = call("POST", "/v1/runs", {"principal": user, "run": "checks-1"})
check(status == 409 and answer["error"] == "run_exists", "the same run id with other parameters: 409 run_exists")

# A duplicate burst: ten copies of one request at once.
burst = {"events": events(1, 2)}
with concurrent.futures.ThreadPoolExecutor(10) as pool:
    answers = list(pool.map(lambda _: call("POST", "/v1/runs/checks-1/events", burst), range(10)))
seqs = {json.dumps([e["seq"] for e in a["events"]]) for s, a, _ in answers if s == 200}
fresh = sum(1 for s, a, _ in answers for e in a["events"] if not e["duplicate"])
check(all(s == 200 for s, _, _ in answers) and len(seqs) == 1 and fresh == 2,
      f"a burst of 10 identical requests: all 200, one set of seqs {seqs}, each id emitted once")
status, answer, _ = call("POST", "/v1/runs/checks-1/events", {"events": [{"id": "e1", "kind": "agent_thinking"}]})
check(status == 409 and answer["error"] == "id_conflict" and answer["path"] == "$.events[0]",
      "an id again with another body: 409 id_conflict at $.events[0]")
status, answer, _ = call("POST", "/v1/runs/checks-1/events", {"events": [{"id": "x", "kind": "k", "payload": 3}]})
check(status == 400 and answer["path"] == "$.events[0].payload", "a payload that is not an object: 400 at its path")
status, answer, _ = call("POST", "/v1/runs/checks-1/events?waitMs=31000", burst)
check(status == 400 and answer["error"] == "invalid_request", "waitMs out of range: 400")

# The window (4) and queue (4) hold 8 events; 2 are out unacked: 6 more fit, the 7th waits, then 429.
status, answer, headers = call("POST", "/v1/runs/checks-1/events?waitMs=300", {"events": events(1, 12)})
accepted = answer.get("accepted", []) if answer else []
check(status == 429 and answer["error"] == "window_full" and int(headers.get("Retry-After", "0")) >= 1
      and [e["id"] for e in accepted] == [f"e{i}" for i in range(1, 9)],
      f"a full window: 429 window_full with Retry-After and the accepted prefix e1…e8 ({len(accepted)} accepted)")

# The client catches up: it reads and acks until nothing more comes, then the same request succeeds.
received = []


def catch_up():
    """Reads what the server sends and acks it, until a second passes with nothing new."""
    while True:
        before = len(received)
        while True:
            message = socket.recv(0.5)
            if message is None or message == "close":
                break
            if message.get("type") == "event":
                received.append(message["seq"])
        if len(received) == before:
            return
        socket.send({"type": "ack", "receipt": {"upTo": max(received)}})


catch_up()
status, answer, _ = call("POST", "/v1/runs/checks-1/events?waitMs=5000", {"events": events(1, 12, run_ends=True)})
duplicates = [e["id"] for e in answer["events"] if e["duplicate"]] if status == 200 else []
check(status == 200 and duplicates == [f"e{i}" for i in range(1, 9)],
      "after the acks the same request succeeds; its accepted prefix answers duplicate")
catch_up()
check(received == list(range(1, 13)), f"the client got seqs 1…12 once each, in order ({received})")
status, answer, _ = call("POST", "/v1/runs/checks-1/events", {"events": [{"id": "e13", "kind": "agent_thinking"}]})
check(status == 409 and answer["error"] == "run_ended", "a new event after the terminal one: 409 run_ended")
status, answer, _ = call("POST", "/v1/runs/checks-1/events", {"events": events(12, 12, run_ends=True)})
check(status == 200 and answer["events"][0]["duplicate"], "a retry of the request that ended the run: duplicate")
socket.close()
print("publish checks passed")
