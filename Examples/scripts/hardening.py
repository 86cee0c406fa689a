#!/usr/bin/env python3
"""Attacks a running AgentServer the way issue 14's review did, one check per defect, and fails (exit 1) on the
first defect that is back. Needs only the Python standard library: a minimal WebSocket client is below.

usage: [SERVER_PID=PID] hardening.py PORT USER_TOKEN OTHER_USER_TOKEN OPERATOR_TOKEN SERVER_LOG [--bench]
The server must run with the defaults of its limits (128 anonymous connections, 5 s head timeout, 64 sessions per
user, 8 runs per session, 4096 queued frames) and without --bench; with --bench, only the benchmark endpoint is
checked, against a server started with --bench --bench-timeout-ms 2000.
"""
import base64
import select
import json
import os
import socket
import struct
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsclient  # noqa: E402

PORT, TOKEN, OTHER, OPERATOR, SERVER_LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
BASE = f"http://127.0.0.1:{PORT}"
HELLO = {"type": "hello", "versions": ["1.1"], "client": {"name": "hardening", "version": "1"}}
failures = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (f": {detail}" if detail and not ok else ""), flush=True)
    if not ok:
        failures.append(name)


def http(method, path, token=None, body=None, timeout=5):
    request = urllib.request.Request(BASE + path, method=method, data=None if body is None else json.dumps(body).encode())
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def WebSocket(token, subprotocol="eventack.v1", rcvbuf=None):
    return wsclient.WebSocket(PORT, token, subprotocol, rcvbuf)


def error_code(ws, timeout=5):
    message = ws.recv_until(lambda m: m.get("type") == "error", timeout)
    return message.get("code") if isinstance(message, dict) else message


def server_alive():
    return http("GET", "/health")[0] == 200


def acking_client(token):
    """A client that acknowledges every event it receives, until closed; returns (ws, session, thread)."""
    ws = WebSocket(token)
    session = ws.handshake()["session"]

    def run():
        while True:
            message = ws.recv(30)
            if message == "close":
                return
            if isinstance(message, dict) and message.get("type") == "event":
                try:
                    ws.send({"type": "ack", "receipt": {"upTo": message["seq"]}})
                except OSError:
                    return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return ws, session, thread


if "--bench" in sys.argv:
    # 1. The benchmark endpoint validates its input, holds no state a failure leaves behind, and counts only acks
    # of its own session.
    stuck = WebSocket(TOKEN)
    stuck_session = stuck.handshake()["session"]
    status, body, _ = http("POST", "/bench", token=TOKEN,
                           body={"session": stuck_session, "events": 10**12, "variant": "max"})
    check("events=10^12 is refused with 400", status == 400, f"{status} {body[:100]}")
    status, body, _ = http("POST", "/bench", token=TOKEN,
                           body={"session": stuck_session, "events": 10, "variant": "warp"})
    check("an unknown variant is refused with 400", status == 400, str(status))
    for attempt in (1, 2):
        status, body, _ = http("POST", "/bench", token=TOKEN, timeout=20,
                               body={"session": stuck_session, "events": 300, "variant": "max"})
        check(f"a benchmark on a session that never acks times out (504), attempt {attempt}", status == 504,
              f"{status} {body[:100]}")
    # Another user acks the stuck session's seqs on their own connection: it must not complete the benchmark.
    other, other_session, _ = acking_client(OTHER)
    other.send({"type": "ack", "receipt": {"upTo": 300}})
    status, _, _ = http("POST", "/bench", token=TOKEN, timeout=20,
                        body={"session": stuck_session, "events": 5, "variant": "max"})
    check("another user's acks do not complete someone else's benchmark", status == 504, str(status))
    good, good_session, _ = acking_client(TOKEN)
    results = []
    first = threading.Thread(target=lambda: results.append(http(
        "POST", "/bench", token=TOKEN, timeout=30,
        body={"session": good_session, "events": 20000, "variant": "max"})[0]))
    first.start()
    time.sleep(0.2)
    second = http("POST", "/bench", token=TOKEN, body={"session": good_session, "events": 10, "variant": "max"})[0]
    first.join()
    check("two benchmarks on one session: the second gets 409", second == 409, str(second))
    check("and the first completes", results == [200], str(results))
    check("the server is still up", server_alive())
    for ws in (stuck, other, good):
        ws.close()
    print(f"hardening (bench): {len(failures)} failed" + (": " + ", ".join(failures) if failures else ""))
    sys.exit(1 if failures else 0)

# 9. HTTP semantics on the upgrade: 401 with a reason, not 400.
for token, expected in ((None, 401), ("wrong-token", 401), (TOKEN, 101)):
    ws = WebSocket(token)
    check(f"upgrade with {'no' if token is None else 'an unknown' if token == 'wrong-token' else 'a valid'} token "
          f"gets {expected}", ws.status == expected, f"got {ws.status}: {ws.head[:200]}")
    if expected == 401:
        check("the 401 says why (WWW-Authenticate)", "www-authenticate" in ws.head.lower(), ws.head[:300])
    ws.close()

# 3. The report needs a token; a user sees only their sessions; the operator sees all.
mine = WebSocket(TOKEN)
mine_session = mine.handshake()["session"]
theirs = WebSocket(OTHER)
their_session = theirs.handshake()["session"]
status, _, _ = http("GET", "/report")
check("/report without a token is 401", status == 401, str(status))
status, _, _ = http("GET", "/report.txt", token="nope")
check("/report.txt with an unknown token is 401", status == 401, str(status))
status, body, _ = http("GET", "/report", token=TOKEN)
sessions = [s["session"] for s in json.loads(body)["sessions"]] if status == 200 else []
check("a user's /report shows their sessions only", mine_session in sessions and their_session not in sessions,
      f"{status} {sessions[:5]}")
status, body, _ = http("GET", "/report", token=OPERATOR)
sessions = [s["session"] for s in json.loads(body)["sessions"]] if status == 200 else []
check("the operator's /report shows every user's sessions", mine_session in sessions and their_session in sessions,
      f"{status}")

# 1. No benchmark endpoint unless started with --bench.
status, _, _ = http("POST", "/bench", token=TOKEN, body={"session": mine_session, "events": 10**12, "variant": "max"})
check("POST /bench does not exist without --bench", status == 404, str(status))

# 6. Frames the spec says to answer: over 1 MiB, invalid UTF-8, binary — answered, and the connection survives.
mine.send_frame(b'{"type":"ping","id":1,"pad":"' + b"x" * (1_100_000) + b'"}')
check("a 1.1 MB frame is answered with frame_too_large", error_code(mine) == "frame_too_large")
mine.send_frame(b'{"type":"ping","id":2,"x":"\xff\xfe"}')
check("invalid UTF-8 is answered with malformed_json", error_code(mine) == "malformed_json")
mine.send_frame(b"\x00\x01\x02", opcode=2)
check("a binary frame is answered with malformed_json", error_code(mine) == "malformed_json")
mine.send({"type": "ping", "id": 3})
pong = mine.recv_until(lambda m: m.get("type") == "pong")
check("the connection survives all three", isinstance(pong, dict) and pong.get("id") == 3, str(pong))

# 4. Runs per session are bounded; refusals are 429 JSON.
statuses = [http("POST", "/runs", token=TOKEN, body={"session": mine_session, "scenario": "quick"})[0]
            for _ in range(12)]
check("runs beyond the per-session bound get 429", statuses.count(202) == 8 and statuses.count(429) == 4, str(statuses))
status, body, headers = http("POST", "/runs", token=TOKEN, body={"session": mine_session})
check("the 429 is JSON with a code", status == 429 and json.loads(body).get("error") == "too_many_runs", body[:200])
status, _, _ = http("POST", "/runs", token=TOKEN, body={"session": their_session})
check("another user's session is 404", status == 404, str(status))

# 8. Peer-chosen strings are escaped in logs: a forged line in a nack reason stays on its line.
event = mine.recv_until(lambda m: m.get("type") == "event" and m.get("confirm") != "receipt", timeout=10)
if isinstance(event, dict):
    mine.send({"type": "ack", "receipt": {"upTo": event["seq"]}})
    mine.send({"type": "nack", "seq": event["seq"], "level": "display", "reason": "x\nFORGED-LOG-LINE",
               "detail": "y\nFORGED-DETAIL"})
    time.sleep(1)
    with open(SERVER_LOG, errors="replace") as log:
        forged = [line for line in log if line.startswith("FORGED")]
    check("a nack reason with a newline forges no log line", not forged, str(forged[:2]))
    status, body, _ = http("GET", "/report.txt", token=OPERATOR)
    check("nor a line of /report.txt", not any(l.startswith("FORGED") for l in body.decode().splitlines()))
else:
    check("an event to nack arrived", False, str(event))
mine.close()
theirs.close()

# 4. Sessions per user are bounded: with 64 attached, the next hello is refused with session_limit.
holders = []
for _ in range(64):
    ws = WebSocket(OTHER)
    answer = ws.handshake()
    holders.append(ws)
extra = WebSocket(OTHER)
answer = extra.handshake()
check("a 65th attached session of one user is refused with session_limit",
      isinstance(answer, dict) and answer.get("code") == "session_limit", str(answer)[:200])
extra.close()
for ws in holders:
    ws.close()

# 4. A peer that sends but never reads is closed before it can grow the server.
flooder = WebSocket(TOKEN, rcvbuf=4096)
flooder.handshake()
ping = b'{"type":"ping","id":1}'
closed = False
started = time.time()
# Until the server closes it (its 4,096-frame queue and the socket buffers full of unread pongs), at most 90 s: a
# loaded machine reads the pings slower than this loop writes them.
try:
    while time.time() - started < 90:
        for _ in range(1000):
            flooder.send_frame(ping)
except (ConnectionError, OSError, socket.timeout):
    closed = True
check("a peer that pings without reading is closed", closed, f"sent for {time.time() - started:.1f} s")
flooder.close()
check("the server is still up", server_alive())

# 2. Anonymous sockets: over the cap they are refused at once; silent or trickling ones close after the head
# timeout; a legitimate request still gets through meanwhile.
silent = []
for _ in range(200):
    try:
        silent.append(socket.create_connection(("127.0.0.1", PORT), timeout=5))
    except OSError:
        break
trickler = socket.create_connection(("127.0.0.1", PORT), timeout=5)
trickler.sendall(b"GET /health HTTP/1.1\r\n")
check("a legitimate request gets through 200 silent sockets", http("GET", "/health")[0] == 200)


def closed_by_server(sock, wait):
    sock.settimeout(wait)
    try:
        return sock.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


# 200 silent sockets against a cap of 128: about 72 of them (the oldest) are evicted as the newer ones arrive.
evicted = set()
deadline = time.time() + 3
while time.time() < deadline and len(evicted) < 72:
    readable, _, _ = select.select([s for s in silent if s not in evicted], [], [], 0.2)
    evicted.update(s for s in readable if closed_by_server(s, 0.01))
check("beyond the anonymous cap, silent sockets are evicted", len(evicted) >= 50, f"{len(evicted)} of {len(silent)}")
trickle_closed = False
for _ in range(8):
    try:
        trickler.sendall(b"X-Slow: 1\r\n")
    except OSError:
        trickle_closed = True
        break
    if closed_by_server(trickler, 1):
        trickle_closed = True
        break
check("a socket trickling header lines is closed by the head timeout", trickle_closed)
still_open = sum(1 for s in silent[100:] if not closed_by_server(s, 0.05))
check("silent sockets are closed by the head timeout", still_open == 0, f"{still_open} still open")
for s in silent:
    s.close()
trickler.close()

# 7. Memory under connection churn reaches a plateau: 10,000 resumes of one session, then compare resident memory
# (hummingbird-websocket's router leaked ~0.7 KB per upgrade; the server no longer uses it).
pid = os.environ.get("SERVER_PID")
if pid:
    def rss_kib():
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

    def churn(count, resume):
        for _ in range(count):
            ws = WebSocket(TOKEN)
            welcome = ws.handshake(resume)
            if isinstance(welcome, dict) and welcome.get("type") == "welcome":
                resume = {"session": welcome["session"], "token": welcome["token"], "receipt": {"upTo": 0}}
            ws.close()
        return resume

    resume = churn(2_000, None)  # warm up: pools, arenas, tables at their working size
    time.sleep(1)
    before = rss_kib()
    started = time.time()
    threads = [threading.Thread(target=churn, args=(2_500, None)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(1)
    after = rss_kib()
    check(f"10,000 resume connections ({time.time() - started:.0f} s) leave memory flat",
          after - before < 4096, f"{before / 1024:.1f} → {after / 1024:.1f} MiB")

print(f"hardening: {len(failures)} failed" + (": " + ", ".join(failures) if failures else ""))
sys.exit(1 if failures else 0)
