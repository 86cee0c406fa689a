"""Drives headless Chromium through the chat page and the dashboard (issue 27) and checks, through /report, that
display confirmations mean "was on screen": the events that were visible are display-confirmed, the ones never
scrolled to are not, the valued answer is value-confirmed, the rejected one failed `rejected`, and every event was
delivered once across a connection cut and a page reload.

    python3 browser_e2e.py BASE_URL USER_TOKEN OPERATOR_TOKEN SCREENSHOT_DIR PROXY_PID
    python3 browser_e2e.py --cluster-dashboard NODE_URL OPERATOR_TOKEN WORK_DIR

BASE_URL is a cutting_proxy.py in front of the server: SIGUSR1 to PROXY_PID cuts the browser's connection.
"""

import json
import os
import signal
import statistics
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By



def chromium(shots, profile="profile"):
    options = webdriver.ChromeOptions()
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,640",
                     "--disable-gpu", f"--user-data-dir={shots}/{profile}"]:
        options.add_argument(argument)
    options.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


if sys.argv[1] == "--cluster-dashboard":
    # The operator's dashboard on a node of a cluster lists every node with its heartbeat.
    base, operator_token, shots = sys.argv[2:5]
    driver = chromium(shots, "profile-cluster")
    try:
        driver.get(base + "/dashboard.html")
        driver.find_element(By.NAME, "token").send_keys(operator_token + "\n")
        deadline = time.time() + 30
        while time.time() < deadline:
            rows = driver.find_elements(By.CSS_SELECTOR, "#nodes tr[data-stale]")
            if len(rows) == 2:
                break
            time.sleep(0.2)
        names = sorted(row.find_element(By.CSS_SELECTOR, "td").text for row in rows)
        assert names == ["node-0", "node-1"], f"the cluster dashboard lists nodes {names}"
        assert all(row.get_attribute("data-stale") == "false" for row in rows), "a live node shown as stale"
        print(f"cluster dashboard: nodes {', '.join(names)} listed live with their heartbeats")
    finally:
        driver.quit()
    sys.exit(0)

base, user_token, operator_token, shots, proxy_pid = sys.argv[1:6]


def report(token=user_token):
    request = urllib.request.Request(f"{base}/report", headers={"Authorization": f"Bearer {token}"})
    return json.load(urllib.request.urlopen(request))


def run_report(run):
    found = [r for r in report()["runs"] if r["run"] == run]
    assert found, f"run {run} is not in the report"
    return found[0]


def wait(condition, what, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


driver = chromium(shots)
js = driver.execute_script


def connection():
    return driver.find_element(By.ID, "connection").text


def cards():
    return [card.get_attribute("data-run") for card in driver.find_elements(By.CSS_SELECTOR, "section.run")]


def ended(run):
    state = driver.find_element(By.CSS_SELECTOR, f'section.run[data-run="{run}"] .run-state')
    return state.get_attribute("data-state") == "ended"


def start(scenario, then=None, agent=None):
    """Starts a simulated run (or asks the AG-UI agent); returns its id once its card shows."""
    before = set(cards())
    if agent:
        driver.find_element(By.CSS_SELECTOR, f'button[data-agent="{agent}"]').click()
    else:
        driver.find_element(By.CSS_SELECTOR, f'button[data-scenario="{scenario}"]').click()
    if then:
        then()
    new = wait(lambda: [run for run in cards() if run not in before], f"the {scenario or agent} run's first event")
    return new[0]


def in_view(run):
    """How many of the run's event rows are at least half inside the conversation's visible box now."""
    return js("""
        const box = document.getElementById('conversation').getBoundingClientRect();
        return [...document.querySelectorAll(`section.run[data-run="${arguments[0]}"] [data-delivered]`)].filter((e) => {
          const r = e.getBoundingClientRect();
          const visible = Math.min(r.bottom, box.bottom) - Math.max(r.top, box.top);
          return visible >= r.height / 2;
        }).length;""", run)


def display(run):
    return run_report(run)["stats"]["display"]


try:
    driver.get(base + "/")
    driver.find_element(By.NAME, "token").send_keys(user_token + "\n")
    wait(lambda: connection() == "connected", "the first connection")

    # A: seen as it streams (the view follows the bottom), then valued.
    run_a = start("quick")
    wait(lambda: ended(run_a), "run A's end")
    wait(lambda: display(run_a)["confirmed"] == 3, "run A's 3 display confirmations")
    driver.find_element(By.CSS_SELECTOR, f'section.run[data-run="{run_a}"] .value .up').click()

    # G: an AG-UI agent's answer streams into one element as it comes, is displayed with it, and is valued.
    run_g = start(None, agent="travel")
    message = f'section.run[data-run="{run_g}"] .message'
    lengths = []
    while not ended(run_g):
        texts = driver.find_elements(By.CSS_SELECTOR, message + " .text")
        lengths.append(len(texts[0].text) if texts else 0)
        time.sleep(0.05)
    text = driver.find_element(By.CSS_SELECTOR, message + " .text").text
    assert text == "I found 3 flights to Lisbon; the cheapest is TAP 1234 on Friday at 9:05, 142 EUR.", text
    partial = sorted({n for n in lengths if 0 < n < len(text)})
    assert len(partial) >= 3, f"the answer did not render as it streamed: lengths seen {partial}"
    streamed = len(driver.find_element(By.CSS_SELECTOR, message).get_attribute("data-seqs").split())
    assert streamed == 10, f"the message shows {streamed} events (start, 8 deltas, end)"
    wait(lambda: display(run_g)["confirmed"] == 3, "the AG-UI run's 3 display confirmations")
    driver.find_element(By.CSS_SELECTOR, message + " .value .up").click()
    wait(lambda: run_report(run_g)["verdict"] == "confirmed", "the AG-UI run confirmed once valued")
    time.sleep(0.3)
    driver.save_screenshot(f"{shots}/chat.png")
    print(f"AG-UI: the answer rendered in {len(partial)} partial steps as its 8 deltas streamed; "
          f"displayed with its message, valued, run confirmed")

    # B: the network cuts the connection mid-run (the proxy aborts it); the client resumes.
    run_b = start("quick", then=lambda: (time.sleep(0.6), os.kill(int(proxy_pid), signal.SIGUSR1)))
    wait(lambda: ended(run_b), "run B's end after the cut")
    assert "disconnected" in js("return window.eventackPage.signals"), "the cut was not seen"
    wait(lambda: connection() == "connected (resumed)", "the resume after the cut")

    # C: the page is reloaded mid-run; it shows the conversation again and goes on; its answer is rejected.
    run_c = start("quick", then=lambda: (time.sleep(0.8), driver.refresh()))
    wait(lambda: connection() == "connected (resumed)", "the resume after the reload")
    wait(lambda: ended(run_c), "run C's end after the reload")
    assert run_a in cards() and run_b in cards(), "the reload lost the earlier runs from the page"
    card_c = f'section.run[data-run="{run_c}"]'
    driver.find_element(By.CSS_SELECTOR, card_c + " .value .down").click()
    driver.find_element(By.CSS_SELECTOR, card_c + ' .value input[name="why"]').send_keys("wrong answer\n")
    for run in (run_b, run_c):
        wait(lambda: display(run)["confirmed"] == 3, f"run {run}'s 3 display confirmations")

    # D: arrives while the user reads the top: not displayed until scrolled to.
    js("document.getElementById('conversation').scrollTop = 0")
    run_d = start("quick")
    wait(lambda: ended(run_d), "run D's end")
    time.sleep(1.5)  # three times the dwell: had it been on screen, it would be confirmed
    assert in_view(run_d) == 0, "run D should have arrived out of view (is the window too tall?)"
    assert display(run_d)["confirmed"] == 0, f"run D was never on screen but: {display(run_d)}"
    js("document.getElementById('conversation').scrollTop = 1e9")
    wait(lambda: display(run_d)["confirmed"] == 3, "run D's display confirmations once scrolled to")

    # E: arrives out of view and is never scrolled to.
    js("document.getElementById('conversation').scrollTop = 0")
    run_e = start("tool_error")
    wait(lambda: ended(run_e), "run E's end")
    time.sleep(1.5)
    assert in_view(run_e) == 0, "run E should be out of view"

    # The checks, through /report.
    runs = {name: run_report(run) for name, run in
            [("A", run_a), ("B", run_b), ("C", run_c), ("D", run_d), ("E", run_e)]}
    for name in "ABCD":
        assert runs[name]["stats"]["display"]["confirmed"] == runs[name]["stats"]["display"]["requested"] == 3, \
            (name, runs[name]["stats"]["display"])
    assert runs["E"]["stats"]["display"]["confirmed"] == 0, runs["E"]["stats"]["display"]
    assert runs["A"]["stats"]["value"]["confirmed"] == 1 and runs["A"]["verdict"] == "confirmed", runs["A"]
    rejected = [f for f in runs["C"]["failures"] if f["code"] == "rejected"]
    assert len(rejected) == 1 and runs["C"]["verdict"] == "failed", runs["C"]
    assert runs["C"]["stats"]["failuresByReason"].get("rejected") == 1, runs["C"]["stats"]
    # Delivered once: this page (after the reload) shows the history it restored and what came after — every seq of
    # the session once, 1…N, N the events the server emitted to it.
    shown = js("return window.eventackPage.shown")
    sessions = {entry.split(":")[0] for entry in shown}
    assert len(sessions) == 1, f"more than one session: {sessions}"
    session = sessions.pop()
    emitted = [s for s in report()["sessions"] if s["session"] == session][0]["stats"]["events"]
    seqs = [int(entry.split(":")[1]) for entry in shown]
    assert seqs == list(range(1, emitted + 1)), f"shown {seqs}, the server emitted {emitted}"
    # And on the page: every seq in exactly one element (streamed deltas share their message's).
    on_page = sorted(int(seq) for seqs in js(
        "return [...document.querySelectorAll('[data-delivered]')].map((e) => e.dataset.seqs)") for seq in seqs.split())
    assert on_page == list(range(1, emitted + 1)), f"the page shows seqs {on_page}"
    print(f"A–D: 12 of 12 display events confirmed, each after it was on screen (D only once scrolled to); E: 0 of 3 "
          f"(never on screen); A valued; C failed `rejected`; {emitted} events delivered once across a cut and a "
          f"reload (seqs 1…{emitted}, each in one element of the reloaded page)")

    # A duplicated tab (window.open copies sessionStorage): it must not take this tab's session (EA-WEB-3).
    original = driver.current_window_handle
    original_session = js("return window.eventackPage.client.sessionID")
    js("window.open(location.href, '_blank')")
    driver.switch_to.window([handle for handle in driver.window_handles if handle != original][0])
    wait(lambda: connection() == "connected", "the duplicated tab's own session")
    duplicate_session = js("return window.eventackPage.client.sessionID")
    assert duplicate_session != original_session, "the duplicated tab resumed the original's session"
    assert "snapshotDiscarded" in js("return window.eventackPage.signals")
    assert js("return document.querySelectorAll('[data-delivered]').length") == 0, "the copy shows the other's events"
    driver.close()
    driver.switch_to.window(original)
    time.sleep(0.5)
    assert connection() == "connected (resumed)" and js("return window.eventackPage.client.sessionID") == original_session
    assert js("return window.eventackPage.signals").count("disconnected") == 0, "the original lost its connection"
    print(f"duplicated tab: started its own session ({duplicate_session}); the original kept {original_session}")

    # Screenshots: the chat at the bottom (E now seen), then the dashboard.
    js("document.getElementById('conversation').scrollTop = 1e9")
    time.sleep(1)
    latencies = js("return window.eventackPage.latencies")  # kept by the page across its reload
    driver.save_screenshot(f"{shots}/chat-end.png")
    driver.set_window_size(1000, 1150)  # the whole dashboard in its screenshot
    driver.get(base + "/dashboard.html")
    driver.find_element(By.NAME, "token").send_keys(operator_token + "\n")
    wait(lambda: js("return window.eventackDashboard.frames") >= 2, "two dashboard frames")
    dashboard_runs = js("return document.querySelectorAll('#runs tr[data-verdict]').length")
    assert dashboard_runs >= 5, f"the dashboard lists {dashboard_runs} runs"
    assert driver.find_element(By.ID, "feed").text == "live"
    driver.save_screenshot(f"{shots}/dashboard.png")
    painted = [entry["painted"] for entry in latencies]
    seen = [entry["confirmed"] for entry in latencies if entry["onScreenWhenPainted"]]
    waited = [entry["confirmed"] for entry in latencies if not entry["onScreenWhenPainted"]]
    print(f"dashboard: live, {dashboard_runs} runs listed")
    print(f"in the browser, {len(latencies)} display events: delivery → painted median "
          f"{statistics.median(painted):.1f} ms (max {max(painted):.1f}); delivery → display confirmed, "
          f"{len(seen)} on screen when painted: median {statistics.median(seen):.1f} ms (max {max(seen):.1f}; the "
          f"rule's dwell is 500 ms); {len(waited)} scrolled to later: median {statistics.median(waited):.0f} ms")
    print(f"screenshots: {shots}/chat.png {shots}/chat-end.png {shots}/dashboard.png")
    severe = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"
              and "favicon" not in entry["message"]]
    assert not severe, f"the browser logged errors: {severe}"
finally:
    driver.quit()
