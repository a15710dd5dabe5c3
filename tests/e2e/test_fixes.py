"""Issue 21 in a real browser: a finance lead approves two proposed fixes on the Fixes page, applies them,
and they reach the ConnectWise stand-in (a quantity PATCH and an adjustment), stored as applied.

Its own dashboard server (one for the module): a month whose contract lines come from ``contracts.csv``,
routed by ``contract_files`` to a ConnectWise connection pointing at the writable stand-in, the private key
in the environment as a deployment sets it.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator

import pytest

from recon import access
from recon.access.storage import StoreAuthStorage
from recon.connectors.config import env_name
from recon.store import Store
from recon.store.fixes import FixLedger
from tests.recon.connectors import psa_writes, vendors
from tests.recon.connectors.conftest import connections_toml
from tests.recon.connectors.standin import StandIn
from tests.recon.connectors.test_cli_fixes import FILES

from .conftest import ROOT, SCREENSHOTS, USERS, free_port, serving, settle, sign_in


@pytest.fixture(scope="module")
def connectwise() -> Iterator[StandIn]:
    app = psa_writes.WritableConnectWise()
    with StandIn(app) as server:
        app.base = server.url
        yield server


@pytest.fixture(scope="module")
def fixes_app(tmp_path_factory: pytest.TempPathFactory, connectwise: StandIn) -> Iterator[tuple[str, str]]:
    """(the dashboard's URL, its database URL)."""
    home = tmp_path_factory.mktemp("fixes-dashboard")
    (home / "data").mkdir()
    for name, text in FILES.items():
        (home / "data" / name).write_text(text)
    definitions = home / "connections.toml"
    definitions.write_text(connections_toml(connectwise=connectwise.url) + 'contract_files = ["contracts.csv"]\n')
    database = f"sqlite:///{home / 'recon.db'}"
    store = Store(database)
    role, password, _ = USERS["admin"]
    StoreAuthStorage(store).add_user(access.new_user("admin", role, password, rounds=4))
    store.close()
    env = {**os.environ, "RECON_DATABASE_URL": database, "RECON_SAMPLE_DIR": str(home / "data"),
           "RECON_CONNECTIONS_FILE": str(definitions), env_name("cw", "private_key"): vendors.CW_PRIVATE,
           "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"}
    env.pop("FORWARDED_ALLOW_IPS", None)
    port = free_port()
    with serving([sys.executable, "-m", "recon.cli", "dashboard", "--port", str(port)], ROOT, env,
                 home / "streamlit.log", port) as url:
        yield url, database


def test_approve_two_fixes_apply_them_and_see_them_sent(chromium_browser, fixes_app: tuple[str, str],
                                                        connectwise: StandIn) -> None:
    url, database = fixes_app
    context = chromium_browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(90_000)
    try:
        page.goto(url)
        sign_in(page, "admin")
        page.goto(f"{url}/fixes")
        page.get_by_role("heading", name="Fixes", level=1).wait_for()
        settle(page)
        grid = page.get_by_test_id("stDataFrame").first
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)  # the first row's selection box
        settle(page)
        page.mouse.click(box["x"] + 16, box["y"] + 35 + 35 + 17)  # the second row's
        page.get_by_text("Approve 2 of the 2 selected fix(es)").wait_for()
        page.get_by_role("button", name="Approve", exact=True).click()
        page.get_by_text("Write 2 approved fix(es) to the PSA").wait_for()
        settle(page)
        assert connectwise.app.writes == []
        page.get_by_role("button", name="Apply", exact=True).click()
        page.get_by_text(re.compile(r"status\s+applied")).wait_for()  # the fix shown is now applied
        settle(page)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "fixes-applied.png"))
    finally:
        context.close()
    assert sorted(path.rsplit("/", 1)[-1] for _, path, _ in connectwise.app.writes) == ["101", "adjustments"]
    store = Store(database)
    current = FixLedger(store).fixes(int(store.list_runs()["id"].max()))
    assert set(current["status"]) == {"applied"} and set(current["approved_by"]) == {"admin"}
    assert set(store.resolutions()["status"]) == {"billed"}
    store.close()
