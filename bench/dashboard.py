"""How the dashboard responds with a 1M-line run (issue 6, item 4): ``python bench/dashboard.py [--size 1M]``.

Starts ``streamlit run dashboard/server.py`` on the cached benchmark sample (``RECON_SAMPLE_DIR``) with a
fresh SQLite database holding one admin user, and drives it with Playwright and Debian's Chromium
(headless; never a downloaded browser):

1. a first session signs in and opens the Overview: the server reads the files, reconciles and stores
   the run (timed, for context: this is the one-off cost of a new run), clicking "Sign in" at once
   or ``--first-typing`` seconds after the form showed (the server imports Great Expectations meanwhile);
   timed to the Overview rendered and (the run is stored while the Overview shows it) to the run stored;
2. the run is then in the database and in the server's caches. A new session in a new browser (an
   empty browser cache and no cookie: Plotly's and the grid's scripts are fetched and compiled) times the
   app loading up to its sign-in form, then its first Overview render from the click on "Sign in",
   clicked at once and (as a person does) a couple of seconds after the form showed: the sign-in page
   has the browser load the chart library meanwhile;
3. a new tab of the first browser is a new Streamlit session already signed in (the session is bound to
   the browser's cookie, issue 23: no sign-in form), the cache warm, as a user opening the app again:
   timed from opening the address to the Overview rendered, three times. The last tab then switches to
   Discrepancies, Client and Receivables and visits every page a second time (served from the caches).

A page counts as rendered when Streamlit reports the script run over and no placeholder is left (the
same ``settle`` the browser tests use). Prints one line per step; no timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from run import ROOT, data_dir  # bench/run.py: the cached samples

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"]
FIRST_RUN_TIMEOUT_MS = 15 * 60_000
USER, PASSWORD = "bench", "bench-admin-password"
# A person takes a few seconds to type a user name and password; the sign-in page has the browser load
# the chart library meanwhile (dashboard/login.py), which only a click at once can overtake.
TYPING_SECONDS = 2.0
TAB_ATTEMPTS = 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def add_admin(database: Path) -> None:
    """The user the benchmark signs in as (created before the app starts, as the browser tests do)."""
    from recon import access
    from recon.access.storage import StoreAuthStorage
    from recon.store import Store

    store = Store(f"sqlite:///{database}")
    StoreAuthStorage(store).add_user(access.new_user(USER, "admin", PASSWORD, rounds=4))
    store.close()


def start_app(sample: Path, database: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The dashboard on a free port, serving ``sample`` and storing runs in ``database``."""
    add_admin(database)
    port = free_port()
    from recon.memory import with_lean_allocator

    env = with_lean_allocator({**os.environ, "RECON_SAMPLE_DIR": str(sample),
                               "RECON_DATABASE_URL": f"sqlite:///{database}"})  # as `recon dashboard` starts it
    command = [sys.executable, "-m", "streamlit", "run", "dashboard/server.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats",
               "false", "--server.fileWatcherType", "none"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit(f"streamlit did not start:\n{log.read_text()[-3000:]}")


def settle(page, timeout_ms: int) -> None:
    """Until the script run is over and no loading placeholder is left (as tests/e2e does)."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
    page.wait_for_function("!document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=timeout_ms)


def timed_app_loading(page, url: str, timeout_ms: int = 120_000) -> float:
    """Seconds from opening the app's address to its sign-in form being shown (a new session)."""
    started = time.perf_counter()
    page.goto(url)
    form = page.get_by_label("User name")
    form.or_(page.get_by_role("heading", level=1, name="Overview")).first.wait_for(timeout=timeout_ms)
    if not form.is_visible():  # a browser whose cookie carries a signed-in session lands on the Overview
        raise RuntimeError("the app opened signed in (this browser is): there is no sign-in form to time")
    return time.perf_counter() - started


def timed_signed_in_opening(page, url: str, timeout_ms: int = 120_000) -> float:
    """Seconds from opening the app's address in a browser already signed in (a new tab: its cookie
    carries the session) to the Overview, where the app lands, being rendered."""
    started = time.perf_counter()
    page.goto(url)
    page.get_by_role("heading", level=1, name="Overview").first.wait_for(timeout=timeout_ms)
    settle(page, timeout_ms)
    return time.perf_counter() - started


def timed_sign_in(page, timeout_ms: int = 120_000, typing_seconds: float = 0.0) -> float:
    """Seconds from clicking "Sign in" to the Overview (where the app lands) being rendered, the click
    coming ``typing_seconds`` after the form showed (0: at once, as no person signs in)."""
    time.sleep(typing_seconds)
    page.get_by_label("User name").fill(USER)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    started = time.perf_counter()
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", level=1, name="Overview").first.wait_for(timeout=timeout_ms)
    settle(page, timeout_ms)
    return time.perf_counter() - started


def timed_switch(page, name: str, timeout_ms: int = 120_000) -> float:
    """Seconds from clicking ``name`` in the sidebar (same session) to its render being complete."""
    started = time.perf_counter()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=name).click()
    page.get_by_role("heading", level=1, name=name).first.wait_for(timeout=timeout_ms)
    settle(page, timeout_ms)
    return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds so far of process ``pid`` and its children, ended or running (the Great
    Expectations worker process), from Linux's /proc; 0 for a process gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in children)


def measure(url: str, first_typing: float = 0.0, server: int | None = None,
            first_only: bool = False) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    figures: dict[str, float] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        first = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
        timed_app_loading(first, url)
        first_click = "clicked at once" if not first_typing else f"clicked {first_typing:.0f} s after the form showed"
        cpu_before = cpu_seconds(server) if server else 0.0
        rendered = timed_sign_in(first, FIRST_RUN_TIMEOUT_MS, typing_seconds=first_typing)
        figures[f"first session: read, reconcile, store the run, render the Overview ({first_click})"] = rendered
        # The run is stored while the Overview shows it (dashboard.data.Saving): done when the sidebar gives
        # its number.
        started = time.perf_counter()
        first.get_by_test_id("stSidebar").get_by_text(re.compile(r"run #\d+")).first.wait_for(
            timeout=FIRST_RUN_TIMEOUT_MS)
        figures["first session: ... and the run stored (its number in the sidebar), from the click"] = \
            rendered + time.perf_counter() - started
        if server:
            figures["first session: the server's CPU meanwhile (user + system, its GX worker process included)"] = \
                cpu_seconds(server) - cpu_before
        if first_only:
            browser.close()
            return figures
        clicks = ((0.0, "clicked at once"), (TYPING_SECONDS, f"clicked {TYPING_SECONDS:.0f} s after the form showed"))
        for attempt, (typing, how) in enumerate(clicks, start=1):
            cold = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
            figures[f"new session, new browser (empty cache): the app loads up to its sign-in form (#{attempt})"] = \
                timed_app_loading(cold, url)
            figures[f"new session, new browser (empty cache): first Overview render after signing in, {how}"] = \
                timed_sign_in(cold, typing_seconds=typing)
            cold.context.close()
        # A new tab of the same browser is a new Streamlit session, signed in by the browser's cookie, with
        # the browser's cache warm: what a user opening the app again sees. Three, as a tab's timing varies.
        for attempt in range(1, TAB_ATTEMPTS + 1):
            page = first.context.new_page()
            figures[f"new session, new tab of the signed-in browser: opened to the Overview rendered (#{attempt})"] = \
                timed_signed_in_opening(page, url)
            if attempt < TAB_ATTEMPTS:  # the last tab goes on to the page switches
                page.close()
        for name in ("Discrepancies", "Client", "Receivables"):
            figures[f"switch to {name} (first visit)"] = timed_switch(page, name)
        for name in ("Overview", "Discrepancies", "Client", "Receivables"):
            figures[f"switch to {name} (second visit)"] = timed_switch(page, name)
        browser.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1M")
    parser.add_argument("--first-typing", type=float, default=0.0, metavar="SECONDS",
                        help="the first session clicks 'Sign in' this long after the form showed (default: at once)")
    parser.add_argument("--first-only", action="store_true",
                        help="time the first session only (a fresh server and database each time)")
    args = parser.parse_args()
    sample = data_dir(args.size)
    with tempfile.TemporaryDirectory(prefix="recon-dashboard-bench-") as home:
        process, url = start_app(sample, Path(home) / "recon.db", Path(home) / "streamlit.log")
        try:
            figures = measure(url, args.first_typing, process.pid, args.first_only)
        finally:
            process.terminate()
            process.wait(timeout=30)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"
    print(f"dashboard with the {args.size} sample ({sample.relative_to(ROOT)}; load average {load} after):")
    for step, seconds in figures.items():
        print(f"  {step}: {seconds:.2f} s")


if __name__ == "__main__":
    main()
