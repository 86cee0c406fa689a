"""Scrapes an agent server's reports as a monitoring system would, until SIGTERM: the operator's /report, the bench
user's /report and /metrics, one round every INTERVAL_MS. Writes the number of rounds to OUT when stopped.

Usage: scrape.py BASE_URL INTERVAL_MS OUT (tokens: bench-operator, bench-token, as bench.sh starts the server)."""

import signal
import sys
import time
import urllib.request

base, interval, out = sys.argv[1], int(sys.argv[2]) / 1000, sys.argv[3]
rounds = 0
stopping = False


def stop(*_):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, stop)
targets = [("/report", "bench-operator"), ("/report", "bench-token"), ("/metrics", "bench-operator")]
while not stopping:
    started = time.monotonic()
    for path, token in targets:
        request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    rounds += 1
    time.sleep(max(0.0, interval - (time.monotonic() - started)))
with open(out, "w") as f:
    f.write(str(rounds))
