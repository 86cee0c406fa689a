#!/usr/bin/env python3
"""The soak's clients (see soak.sh): for DURATION seconds against one AgentServer, at the same time
- normal clients run `quick` agent runs one after another and confirm every event (receipt, display, value);
- reconnecting clients resume their session over and over (connection churn);
- slow readers start runs and never read, until the server closes them, then come back;
- misbehaving clients send garbage, invalid acks, binary and oversized frames, and unread pings;
while the server's resident memory is sampled. At the end every normal run must be confirmed, and memory must
reach a plateau. Prints `soak: …` lines; exit 1 on failure.

usage: soak.py PORT SERVER_PID DURATION_SECONDS
"""
import json
import os
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsclient  # noqa: E402

PORT, PID, DURATION = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
OPERATOR = "soak-operator"
stop = threading.Event()
lock = threading.Lock()
counts = {"connections": 0, "normal_runs": 0, "slow_closed": 0, "garbage_frames": 0}
normal_runs = []  # (token, run)


def bump(key, by=1):
    with lock:
        counts[key] += by


def http(method, path, token, body=None):
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode())
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def rss_kib():
    with open(f"/proc/{PID}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def normal(token):
    """Runs quick runs one after another and confirms everything, each on a fresh connection."""
    while not stop.is_set():
        try:
            ws = wsclient.WebSocket(PORT, token)
            session = ws.handshake()["session"]
            bump("connections")
            status, body = http("POST", "/runs", token, {"session": session, "scenario": "quick"})
            if status != 202:
                time.sleep(0.5)
                ws.close()
                continue
            run = json.loads(body)["run"]
            highest, values = 0, []
            while True:
                message = ws.recv(15)
                if not isinstance(message, dict):
                    break
                if message.get("type") != "event":
                    continue
                highest = max(highest, message["seq"])
                if message["confirm"] == "value":
                    values.append({"seq": message["seq"], "signal": "soak"})
                ack = {"type": "ack", "receipt": {"upTo": highest}, "display": {"upTo": highest}}
                if values:
                    ack["value"] = values[-1:]
                ws.send(ack)
                if message.get("endsRun"):
                    break
            # Wait for the echo of the last confirmations, then close (what EventAckClient.close() does).
            ws.recv_until(lambda m: m.get("type") == "synced" and m.get("value", {}).get("upTo", 0) >= 0, 3)
            ws.send({"type": "bye"})
            ws.close()
            with lock:
                normal_runs.append((token, run))
            bump("normal_runs")
        except (OSError, ValueError, KeyError):
            time.sleep(0.2)


def reconnecting(token):
    """Resumes one session over and over: each connection says hello, reads its welcome and drops."""
    resume = None
    while not stop.is_set():
        try:
            ws = wsclient.WebSocket(PORT, token)
            welcome = ws.handshake(resume)
            if isinstance(welcome, dict) and welcome.get("type") == "welcome":
                resume = {"session": welcome["session"], "token": welcome["token"], "receipt": {"upTo": 0}}
            ws.close()
            bump("connections")
        except (OSError, ValueError):
            time.sleep(0.1)


def slow_reader(token):
    """Starts runs and never reads, with a small receive buffer, while asking for pongs as fast as it can: the
    server's outbound queue fills and the server must cut it (a peer that does not read), then it comes back."""
    while not stop.is_set():
        try:
            ws = wsclient.WebSocket(PORT, token, rcvbuf=4096)
            session = ws.handshake()["session"]
            bump("connections")
            http("POST", "/runs", token, {"session": session, "scenario": "quick"})
            ws.sock.settimeout(2)
            deadline = time.time() + 30
            while time.time() < deadline and not stop.is_set():
                for _ in range(50):
                    ws.send({"type": "ping", "id": 1})  # sends, never reads
                time.sleep(0.001)
            ws.close()
        except OSError:
            bump("slow_closed")
            time.sleep(0.2)


def misbehaving(token):
    frames = [b"{not json", b'{"type":"ack","receipt":{"upTo":999999}}', b'{"type":"ack","receipt":{"upTo":3,"ranges":[[2,2]]}}',
              b'{"type":"event","seq":1}', b'{"type":"ping","id":1,"x":"\xff"}', b'{"type":"nack","seq":1,"level":"display","reason":"a\\nb"}']
    while not stop.is_set():
        try:
            ws = wsclient.WebSocket(PORT, token)
            ws.handshake()
            bump("connections")
            for index in range(200):
                ws.send_frame(frames[index % len(frames)])
                if index % 50 == 0:
                    ws.send_frame(b"\x00" * 100, opcode=2)
            ws.send_frame(b'{"type":"ping","id":1,"pad":"' + b"x" * 1_100_000 + b'"}')
            bump("garbage_frames", 201)
            ws.close()
        except OSError:
            time.sleep(0.1)


threads = [threading.Thread(target=normal, args=(f"normal{i}-token",)) for i in range(4)]
threads += [threading.Thread(target=reconnecting, args=(f"churn{i}-token",)) for i in range(2)]
threads += [threading.Thread(target=slow_reader, args=("slow-token",)) for _ in range(2)]
threads += [threading.Thread(target=misbehaving, args=("bad-token",))]
for thread in threads:
    thread.daemon = True
    thread.start()

samples = []
started = time.time()
while time.time() - started < DURATION:
    time.sleep(5)
    samples.append((time.time() - started, rss_kib()))
    with lock:
        print(f"soak: t={samples[-1][0]:5.0f} s  rss={samples[-1][1] / 1024:6.1f} MiB  connections={counts['connections']}"
              f"  normal runs={counts['normal_runs']}  slow readers closed={counts['slow_closed']}", flush=True)
stop.set()
for thread in threads:
    thread.join(timeout=20)
time.sleep(2)

problems = []
verdicts = {}
for token in sorted({token for token, _ in normal_runs}):
    status, body = http("GET", "/report", token)
    for run in json.loads(body)["runs"] if status == 200 else []:
        verdicts[run["run"]] = run["verdict"]
not_confirmed = [(run, verdicts.get(run)) for _, run in normal_runs if verdicts.get(run) != "confirmed"]
print(f"soak: {len(normal_runs)} normal runs, {len(normal_runs) - len(not_confirmed)} confirmed; "
      f"{counts['connections']} connections; {counts['garbage_frames']} garbage frames", flush=True)
if not normal_runs:
    problems.append("no normal run completed")
if counts["slow_closed"] == 0:
    problems.append("no slow reader was cut: the server's not-reading path was not exercised")
if not_confirmed:
    problems.append(f"normal runs not confirmed: {not_confirmed[:10]}")
# Plateau: the last third of the samples grows less than 10 % over the middle third's peak.
third = max(1, len(samples) // 3)
middle = max(rss for _, rss in samples[third:2 * third]) if len(samples) >= 3 else samples[0][1]
final = max(rss for _, rss in samples[2 * third:]) if len(samples) >= 3 else samples[-1][1]
print(f"soak: rss start {samples[0][1] / 1024:.1f} MiB, middle-third peak {middle / 1024:.1f} MiB, "
      f"last-third peak {final / 1024:.1f} MiB", flush=True)
if final > middle * 1.10 + 2048:
    problems.append(f"memory keeps growing: {middle / 1024:.1f} → {final / 1024:.1f} MiB")
for problem in problems:
    print("soak: FAIL " + problem)
sys.exit(1 if problems else 0)
