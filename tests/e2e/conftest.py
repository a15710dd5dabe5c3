"""Browser tests: a real dashboard started as the README says (`recon dashboard`, which serves
`dashboard/server.py`: the app behind its guard) driven by Playwright with Debian's Chromium.

The app runs once per session on a free 127.0.0.1 port, on the small test MSP, with its own temporary
SQLite database. Without /usr/bin/chromium the tests skip with the reason, unless RECON_REQUIRE_E2E=1
(CI sets it), where they fail instead.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"]
MINI_MSP = ROOT / "tests" / "fixtures" / "mini_msp"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
START_TIMEOUT_S = 90


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"streamlit did not answer within {START_TIMEOUT_S}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The app's own temporary SQLite database."""
    return f"sqlite:///{tmp_path_factory.mktemp('database') / 'recon.db'}"


# Who signs in during the browser tests (created in the database before the app starts, so the app's
# first start creates no one-time admin): name -> (role, password, manager name on contracts).
USERS = {
    "admin": ("admin", "e2e-admin-password", ""),
    "dana": ("account_manager", "e2e-dana-password", "Dana Lee"),
    "auditor": ("auditor", "e2e-auditor-password", ""),
}


@pytest.fixture(scope="session")
def users(database_url: str) -> dict[str, tuple[str, str, str]]:
    from recon import access
    from recon.access.storage import StoreAuthStorage
    from recon.store import Store

    store = Store(database_url)
    storage = StoreAuthStorage(store)
    for name, (role, password, manager) in USERS.items():
        storage.add_user(access.new_user(name, role, password, manager_name=manager, rounds=4))
    store.close()
    return USERS


def settle(page, timeout_ms: int = 120_000) -> None:
    """Wait until the script run is over (Streamlit marks its state on the app root) and no element is
    still a loading placeholder; charts and grids draw right after."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
    page.wait_for_function("!document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=timeout_ms)
    page.wait_for_timeout(500)


def sign_in(page, name: str = "admin") -> None:
    """Fill the sign-in form (every page load is a new Streamlit session) and wait for the Overview."""
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password", exact=True).fill(USERS[name][1])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Overview", level=1).wait_for(timeout=120_000)
    settle(page)


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory, database_url: str,
            users: dict[str, tuple[str, str, str]]) -> Iterator[str]:
    """The URL of a dashboard serving the test MSP on a temporary SQLite database (users in place), with
    one named connection: a PSA database holding the test MSP (``tests.dashboard.psa``)."""
    from tests.dashboard.psa import write_psa_project

    home = tmp_path_factory.mktemp("dashboard")
    port = free_port()
    env = {**os.environ, "RECON_DATABASE_URL": database_url, "RECON_SAMPLE_DIR": str(MINI_MSP),
           "RECON_CONNECTIONS_FILE": str(write_psa_project(home)), "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"}
    env.pop("FORWARDED_ALLOW_IPS", None)  # `recon dashboard` sets what the guard needs itself
    # as the README starts it (and `make run`): `recon dashboard`, which serves dashboard/server.py
    command = [sys.executable, "-m", "recon.cli", "dashboard", "--port", str(port)]
    with serving(command, ROOT, env, home / "streamlit.log", port) as url:
        yield url


@contextmanager
def serving(command: list[str], cwd: Path, env: dict[str, str], log: Path, port: int) -> Iterator[str]:
    """Run ``command`` (a dashboard server on ``port``) with its output in ``log``; its URL once it
    answers, and the server stopped afterwards."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture()
def keep_current_data(database_url: str) -> Iterator[None]:
    """For a test that reconciles other data in the shared app (which makes it everyone's current data,
    issue 22): afterwards the app's first current data (the test MSP) is made current again, so the next
    tests' sessions open the test MSP."""
    import sqlalchemy as sa

    from recon.store import Store
    from recon.store.tables import CurrentData, table

    yield
    store = Store(database_url)
    current = table(CurrentData)
    with store.engine.connect() as connection:
        oldest = sa.select(current.c.run_id, current.c.recipe).order_by(current.c.id).limit(1)
        first = connection.execute(oldest).first()
    if first is not None:
        store.make_current(first.run_id, first.recipe, by="tests")
    store.close()


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[object]:
    """Debian's Chromium under Playwright (never a downloaded browser build)."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("RECON_REQUIRE_E2E") == "1":
            pytest.fail(f"browser tests are required (RECON_REQUIRE_E2E=1) but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def app_page(chromium_browser, app_url):
    """A fresh browser page (a new Streamlit session) of 1440 x 1000."""
    context = chromium_browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(90_000)  # a loaded 2-core CI machine: slow, not broken
    yield tab
    context.close()
