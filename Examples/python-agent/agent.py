#!/usr/bin/env python3
"""An agent backend in Python that publishes a run to a user through EventAck's publish API (Spec/PUBLISH.md),
using only the standard library.

It publishes the five events of our problem reports — agent_started, agent_thinking, a tool call
(tool_executing / tool_completed) and agent_completed — around a long analysis kept alive by progress notes, and
follows the run's confirmations feed until the verdict. Every request that fails (connection refused or reset, a
5xx, a 429) is retried with the same body — the same event ids — so that nothing is published twice and nothing is
lost; a 429's Retry-After is honoured. Exits 0 when the verdict is `confirmed`.

    python3 agent.py --url http://127.0.0.1:8080 --token publisher-token --principal alice
"""

import argparse
import json
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid


class Publisher:
    """The publish API over urllib, retrying what failed with the same body until `give_up_after` seconds."""

    def __init__(self, urls, token, give_up_after=120.0):
        self.urls = urls  # several nodes: a failed request is retried on the next one
        self.token = token
        self.give_up_after = give_up_after
        self.node = 0

    def request(self, method, path, body=None):
        """Returns (status, decoded JSON or None); retries connection failures, 5xx and 429."""
        data = None if body is None else json.dumps(body).encode()
        deadline = time.monotonic() + self.give_up_after
        delay = 0.1
        while True:
            url = self.urls[self.node % len(self.urls)] + path
            request = urllib.request.Request(url, data=data, method=method)
            request.add_header("Authorization", f"Bearer {self.token}")
            if data is not None:
                request.add_header("Content-Type", "application/json")
            wait = delay
            try:
                with urllib.request.urlopen(request, timeout=35) as response:
                    text = response.read()
                    return response.status, (json.loads(text) if text else None)
            except urllib.error.HTTPError as error:
                text = error.read()
                answer = json.loads(text) if text else None
                if error.code == 429:
                    wait = float(error.headers.get("Retry-After", "1"))
                    log(f"429 {answer.get('error')}: {len(answer.get('accepted', []))} accepted, retrying in {wait} s")
                elif error.code >= 500:
                    log(f"{error.code} {answer}: retrying")
                else:
                    return error.code, answer
            except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                log(f"{method} {url}: {error}; retrying on the next node")
                self.node += 1
            if time.monotonic() + wait > deadline:
                raise RuntimeError(f"{method} {path}: no answer within {self.give_up_after} s")
            time.sleep(wait)
            delay = min(delay * 2, 2.0)

    def open_run(self, run, audience, idle_timeout_ms):
        body = dict(audience, run=run, idleTimeoutMs=idle_timeout_ms, requestedAt=int(time.time() * 1000))
        status, answer = self.request("POST", "/v1/runs", body)
        if status not in (200, 201):
            raise RuntimeError(f"could not open the run: {status} {answer}")
        return answer["sessions"]

    def publish(self, run, events):
        status, answer = self.request("POST", f"/v1/runs/{run}/events", {"events": events})
        if status != 200:
            raise RuntimeError(f"publish refused: {status} {answer}")
        for result in answer["events"]:
            log(f"published {result['id']} seq {result['seq']}" + (" (duplicate)" if result["duplicate"] else ""))
        return answer["events"]

    def progress(self, run, note):
        status, answer = self.request("POST", f"/v1/runs/{run}/progress", {"note": note})
        if status != 204:
            raise RuntimeError(f"progress refused: {status} {answer}")


def follow(publisher, run, verdict_box):
    """Reads the run's confirmations feed (SSE) until the verdict, reconnecting with Last-Event-ID."""
    last_id = None
    while True:
        url = publisher.urls[publisher.node % len(publisher.urls)] + f"/v1/runs/{run}/confirmations"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {publisher.token}"})
        if last_id is not None:
            request.add_header("Last-Event-ID", last_id)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                if response.status == 204:
                    return
                event, data = None, []
                for raw in response:
                    line = raw.decode().rstrip("\r\n")
                    if line == "":
                        if event is not None and data:
                            item = json.loads("\n".join(data))
                            if event == "verdict":
                                verdict_box.append(item)
                                log(f"verdict: {json.dumps(item)}")
                                return
                            log(f"{event}: {json.dumps(item)}")
                        event, data = None, []
                    elif line.startswith(":"):
                        continue  # keepalive comment
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif line.startswith("id:"):
                        last_id = line[3:].strip()
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as error:
            log(f"confirmations stream: {error}; reconnecting")
            publisher.node += 1
            time.sleep(0.5)


def log(text):
    print(f"agent: {text}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the server; several, comma-separated")
    parser.add_argument("--token", default="publisher-token")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--principal", default=None, help="publish to every session of this user")
    target.add_argument("--session", default=None, help="publish to this session")
    parser.add_argument("--run", default=None, help="the run id (default: a new one)")
    parser.add_argument("--analysis-seconds", type=float, default=40.0, help="how long the analysis takes")
    parser.add_argument("--progress-every", type=float, default=10.0, help="seconds between progress notes")
    parser.add_argument("--idle-timeout-ms", type=int, default=60_000)
    parser.add_argument("--go-silent", action="store_true", help="stop mid-run, as an agent that died would")
    args = parser.parse_args()

    publisher = Publisher([url.rstrip("/") for url in args.url.split(",")], args.token)
    run = args.run or f"py-{uuid.uuid4().hex[:12]}"
    audience = {"session": args.session} if args.session else {"principal": args.principal or "alice"}
    sessions = publisher.open_run(run, audience, args.idle_timeout_ms)
    log(f"run {run} open in {sessions}")
    verdict = []
    follower = threading.Thread(target=follow, args=(publisher, run, verdict), daemon=True)
    follower.start()

    publisher.publish(run, [
        {"id": "start", "kind": "agent_started", "payload": {"agent": "travel-planner"}},
        {"id": "think-1", "kind": "agent_thinking", "payload": {"text": "Looking for flights to Lisbon"}},
        {"id": "tool-1", "kind": "tool_executing", "confirm": "display",
         "payload": {"call": "c1", "tool": "search_flights", "input": {"to": "LIS"}}},
    ])
    publisher.publish(run, [
        {"id": "tool-1-done", "kind": "tool_completed", "confirm": "display",
         "payload": {"call": "c1", "output": "3 flights found"}},
        {"id": "think-2", "kind": "agent_thinking", "payload": {"text": "Comparing prices and times"}},
    ])
    if args.go_silent:
        log("going silent, as an agent that died would")
        follower.join(timeout=args.idle_timeout_ms / 1000 + 30)
        return 0 if verdict and verdict[0].get("endedBy") == "agent_silent" else 1
    started = time.monotonic()
    while time.monotonic() - started < args.analysis_seconds:
        time.sleep(min(args.progress_every, max(0.0, args.analysis_seconds - (time.monotonic() - started))))
        publisher.progress(run, f"analysing, {int(time.monotonic() - started)} s")
    publisher.publish(run, [
        {"id": "done", "kind": "agent_completed", "confirm": "value",
         "payload": {"result": "TAP 1234, Friday 9:05, 142 EUR"}},
    ])
    follower.join(timeout=120)
    if not verdict:
        log("no verdict")
        return 1
    return 0 if verdict[0]["verdict"] == "confirmed" else 1


if __name__ == "__main__":
    sys.exit(main())
