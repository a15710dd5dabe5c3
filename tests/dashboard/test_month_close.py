"""A month's close without surprises under AppTest (issue 22): what an upload replaces is said before it
runs, and only the same kind and vendor is replaced. The test MSP with its vendor usage in one file per
vendor (as ``sample_data/`` has it)."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from recon import access
from recon.access.storage import StoreAuthStorage
from recon.exports.safe import WORD_JOINER
from recon.store import Store
from tests.dashboard.signin import signed_in_app

ROOT = Path(__file__).resolve().parents[2]
MINI_MSP = ROOT / "tests" / "fixtures" / "mini_msp"


def split_usage(folder: Path) -> Path:
    """The test MSP in ``folder`` with usage split by vendor (usage_pax8.csv, usage_datto.csv, ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in MINI_MSP.iterdir():
        if source.name != "usage.csv":
            shutil.copy(source, folder / source.name)
    usage = pd.read_csv(MINI_MSP / "usage.csv", dtype=str, keep_default_na=False)
    for vendor, rows in usage.groupby("vendor"):
        rows.to_csv(folder / f"usage_{str(vendor).lower()}.csv", index=False)
    return folder


@pytest.fixture()
def close(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AppTest:
    monkeypatch.setenv("RECON_SAMPLE_DIR", str(split_usage(tmp_path / "data")))
    monkeypatch.setenv("RECON_DATABASE_URL", f"sqlite:///{tmp_path / 'recon.db'}")
    return signed_in_app()


def shown(markdown: str) -> str:
    """Markdown as the page shows it: names from data are escaped for markdown (``dashboard.ui.md``)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace(WORD_JOINER, "")


def usage_upload(folder: Path) -> tuple[str, bytes, str]:
    """Pax8's usage again, one quantity corrected."""
    usage = pd.read_csv(folder / "usage_pax8.csv", dtype=str, keep_default_na=False)
    usage.loc[0, "quantity"] = "26"
    return "pax8_usage_corrected.csv", usage.to_csv(index=False).encode(), "text/csv"


def test_an_upload_replaces_only_the_same_vendor_and_says_so_first(close: AppTest, tmp_path: Path):
    before = {file.name for file in close.session_state["workspace.active"].inputs.files}
    assert {"usage_pax8.csv", "usage_datto.csv", "usage_sentinelone.csv"} <= before
    close.switch_page("app_pages/sources.py").run()
    close.file_uploader(key="sources.uploads").set_value([usage_upload(tmp_path / "data")]).run()
    assert not close.exception
    plan = shown(" ".join(item.value for item in close.info))
    assert "replaces 1 file(s)" in plan and "usage_pax8.csv" in plan, plan
    assert "keeps 8 file(s)" in plan, plan
    assert not close.warning  # nothing is lost
    assert not close.button(key="sources.reconcile").disabled
    close.button(key="sources.reconcile").click().run()
    assert not close.exception and not close.error
    after = {file.name for file in close.session_state["workspace.active"].inputs.files}
    assert after == (before - {"usage_pax8.csv"}) | {"pax8_usage_corrected.csv"}


def test_a_run_that_drops_sources_is_asked_about(close: AppTest, tmp_path: Path):
    close.switch_page("app_pages/sources.py").run()
    close.file_uploader(key="sources.uploads").set_value([usage_upload(tmp_path / "data")]).run()
    close.radio(key="sources.mode").set_value("only").run()
    lost = shown(" ".join(item.value for item in close.warning))
    assert "all contracts" in lost and "all Datto vendor usage" in lost and "all invoices" in lost, lost
    assert close.button(key="sources.reconcile").disabled
    close.checkbox(key="sources.mode.confirm_loss").check().run()
    assert not close.button(key="sources.reconcile").disabled


def reconcile_upload(at: AppTest, folder: Path) -> None:
    at.switch_page("app_pages/sources.py").run()
    at.file_uploader(key="sources.uploads").set_value([usage_upload(folder)]).run()
    at.button(key="sources.reconcile").click().run()
    assert not at.exception and not at.error


def sidebar_text(at: AppTest) -> str:
    return " ".join([*(item.value for item in at.sidebar.caption), *(item.value for item in at.sidebar.info)])


def test_the_current_data_is_shared_and_sticky(close: AppTest, tmp_path: Path):
    """Someone's upload is what the next person's session opens; a later sign-in, even after a settings
    change, stores no run of the sample data and replaces nothing; who made the data current is shown."""
    database = Store(f"sqlite:///{tmp_path / 'recon.db'}")
    assert close.session_state["workspace.active"].run_id == 1  # the first start: the data directory
    assert "by **admin**" in sidebar_text(close)
    reconcile_upload(close, tmp_path / "data")
    uploaded = close.session_state["workspace.active"]
    assert uploaded.run_id == 2

    database.save_settings(replace(database.load_settings(), payment_terms_days=45), by="someone")
    other = signed_in_app(access.FINANCE, name="fin")
    assert not other.exception
    assert other.session_state["workspace.active"].run_id == 2  # the upload, its bytes read from the store
    assert other.session_state["workspace.active"].inputs.files == uploaded.inputs.files
    assert "by **admin**" in sidebar_text(other)
    assert list(database.list_runs()["id"]) == [2, 1]  # the sign-in stored nothing
    assert other.button(key="filters.rerun")  # the settings changed: offered, not done

    other.button(key="filters.rerun").click().run()  # fin re-runs: run #3 becomes current
    assert other.session_state["workspace.active"].run_id == 3
    close.run()  # admin's session keeps its run, and is told
    assert close.session_state["workspace.active"].run_id == 2
    assert "**fin** made run #3 the current data" in sidebar_text(close)
    close.button(key="filters.open_current").click().run()
    assert close.session_state["workspace.active"].run_id == 3
    log = StoreAuthStorage(database).access_log()
    actions = [(entry.user, entry.action) for entry in log]
    assert ("admin", "upload") in actions and ("admin", "reconcile") in actions and ("fin", "reconcile") in actions


def _rerun_probe() -> None:
    from dashboard import session

    session.active_run()
    session.rerun_with_current_choices()


def test_a_re_run_shows_its_progress(close: AppTest):
    """Issue 22, item 7: confirming a mapping and re-running shows what is happening while it runs."""
    probe = AppTest.from_function(_rerun_probe, default_timeout=120)
    probe.session_state["access.session"] = close.session_state["access.session"]
    probe.run()
    assert not probe.exception
    status = probe.main.children[0]
    assert (type(status).__name__, status.label) == ("Status", "Re-run done: run #1")
    assert [type(item).__name__ for item in status.children.values()] == ["Progress"]
