"""The Sources page's Connect tab under AppTest, against real connections: a SQLite PSA database holding
the test MSP, and the Pax8 stand-in (a real HTTP server). Nothing of the pull, validation or store is mocked.

A pull is reconciled through the upload's own door, so it must give what reconciling the same data as
files gives: the same findings, and the pulled sources stored as imports with their SHA-256.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from recon import access
from recon.access.storage import StoreAuthStorage
from recon.connectors import Period, load_connections, pull
from recon.engine import reconcile
from recon.money import display_money
from recon.store import Store
from tests.dashboard.apptest import assert_clean
from tests.dashboard.psa import MINI_MSP, MONTH, write_psa_project
from tests.dashboard.signin import APP, TIMEOUT_S, ensure_user, signed_in_app
from tests.recon.connectors import vendors
from tests.recon.connectors.conftest import connections_toml, write_project
from tests.recon.connectors.standin import StandIn

SOURCES_PAGE = APP.parent / "app_pages" / "sources.py"


@pytest.fixture()
def workspace(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The app on the test MSP with its own database, run from an empty working directory."""
    monkeypatch.setenv("RECON_SAMPLE_DIR", str(MINI_MSP))
    monkeypatch.setenv("RECON_DATABASE_URL", f"sqlite:///{tmp_path / 'recon.db'}")
    monkeypatch.delenv("RECON_CONNECTIONS_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture()
def psa(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PSA database, defined as the connection ``psa`` in the file ``$RECON_CONNECTIONS_FILE`` names."""
    project = workspace / "project"
    project.mkdir()
    definitions = write_psa_project(project)
    monkeypatch.setenv("RECON_CONNECTIONS_FILE", str(definitions))
    return definitions


@pytest.fixture()
def pax8_server() -> Iterator[StandIn]:
    with StandIn(vendors.Pax8()) as server:
        yield server


def sources(role: str = access.ADMIN) -> AppTest:
    at = signed_in_app(role)
    at.switch_page("app_pages/sources.py").run()
    assert_clean(at)
    return at


def plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def pull_month(at: AppTest, month: str = MONTH, connection: str = "psa") -> AppTest:
    at.selectbox(key="sources.connection").select(connection)
    at.text_input(key="sources.period").input(month)
    return at.button(key="sources.pull").click().run()


def stored(workspace: Path) -> Store:
    return Store(f"sqlite:///{workspace / 'recon.db'}")


def test_the_page_has_an_upload_and_a_connect_tab(psa: Path):
    at = sources()
    assert [tab.label for tab in at.tabs] == ["Upload", "Connect"]
    assert at.get("file_uploader")  # the upload flow is unchanged, under its tab
    assert at.selectbox(key="sources.connection").options == ["psa · SQL database"]


def test_without_connections_the_tab_says_where_to_define_them(workspace: Path):
    at = sources()
    [info] = [item.value for item in at.info if "No connection is defined yet" in item.value]
    assert "connections.toml" in plain(info) and "RECON_CONNECTIONS_FILE" in info
    assert ".streamlit/secrets.toml" in info and "RECON_CONN_<NAME>_<KEY>" in info
    [example] = at.code
    assert "[connections.psa]" in example.value and 'type = "pax8"' in example.value
    assert not [button for button in at.button if button.key in ("sources.pull", "sources.test_connection")]


def test_a_connections_file_that_cannot_be_used_is_one_message(workspace: Path):
    (workspace / "connections.toml").write_text('[connections.psa]\ntype = "sql"\nurl = "sqlite:///x.db"\n'
                                                'password = "hunter2-in-the-wrong-file"\n')
    at = signed_in_app()
    at.switch_page("app_pages/sources.py").run()
    assert not at.exception
    [error] = [plain(item.value) for item in at.error]
    assert error.startswith("The connections cannot be read: connections.toml: [connections.psa] holds the secret")
    assert "hunter2" not in error


def test_testing_a_connection_says_what_answered(psa: Path):
    at = sources()
    at.button(key="sources.test_connection").click().run()
    assert_clean(at)
    [success] = [plain(item.value) for item in at.success]
    assert success == f"SQL database connection 'psa': connected to sqlite at sqlite:///{psa.parent / 'psa.db'}"


def test_a_mistyped_database_path_is_an_error_not_a_traceback(psa: Path):
    psa.write_text(psa.read_text().replace("psa.db", "typo.db"))
    at = sources()
    at.button(key="sources.test_connection").click().run()
    assert not at.exception and not at.success
    [error] = [plain(item.value) for item in at.error]
    assert error.startswith("SQL database connection 'psa': cannot connect to sqlite:///") and "typo.db" in error
    pull_month(at)
    assert not at.exception and "sources.pulls" not in at.session_state
    assert "cannot connect" in plain(at.error[0].value)


def test_refused_credentials_are_a_clear_error_without_the_secret(workspace: Path, pax8_server: StandIn,
                                                                  monkeypatch: pytest.MonkeyPatch):
    write_project(workspace, connections_toml(pax8=pax8_server.url))  # ./connections.toml + its secrets
    monkeypatch.setenv("RECON_CONN_PAX8_CLIENT_SECRET", "wrong-pax8-secret-value")  # the environment wins
    at = sources()
    at.button(key="sources.test_connection").click().run()
    assert not at.exception
    [error] = [plain(item.value) for item in at.error]
    assert error.startswith("Pax8 connection 'pax8' refused the credentials (HTTP 401 on /oauth/token)")
    assert "wrong-pax8-secret-value" not in error
    pull_month(at, vendors.MONTH, "pax8")
    assert not at.exception and "refused the credentials" in plain(at.error[0].value)


def test_a_month_that_is_not_yyyy_mm_is_refused(psa: Path):
    at = pull_month(sources(), "2026-13")
    assert not at.exception
    assert plain(at.error[0].value) == "period must be YYYY-MM, got '2026-13'"


def test_the_month_defaults_to_the_last_closed_one(psa: Path):
    assert sources().text_input(key="sources.period").value == Period.last_closed(date.today()).label


def test_a_pull_is_validated_like_an_upload(psa: Path):
    at = pull_month(sources())
    assert_clean(at)
    [bar] = at.get("progress")
    assert bar.proto.text == f"Pulled 7 source(s) from psa for {MONTH}"
    captions = [plain(item.value) for item in at.caption]
    assert "Read as pulled from psa: usage with a column mapping" in " ".join(captions)
    # usage has no non-negative checks (PRODUCT.md 4a: a refund's quantity, a rebate's cost are negative)
    assert ("12 rows in · 10 used · 2 quarantined · lines 13 = header 1 + used 10 + quarantined 2 + blank 0 · "
            "17 check(s) passed, **2 failed**") in captions
    quarantined = next(frame.value for frame in at.dataframe if "reason" in frame.value)
    assert len(quarantined) == 2 and set(quarantined["column"]) == {"quantity", "client"}
    usage_preview = next(frame.value for frame in at.dataframe if "subscription_id" in frame.value)
    assert usage_preview["unit_cost"].iloc[0] == 19.8  # money shown as an amount, not in integer units
    pulled = pull(load_connections()["psa"], MONTH)  # the same pull outside the app: the same report and hashes
    counts = [f"{r.rows_in:,} rows in · {r.rows_used:,} used · {r.rows_quarantined:,} quarantined" for r in
              (loaded.report for loaded in pulled.loaded)]
    assert [caption.split(" · ", 3)[:3] for caption in captions if " rows in · " in caption] == [
        line.split(" · ") for line in counts]
    hashes = {file.name: hashlib.sha256(file.content).hexdigest() for file in pulled.files}
    assert hashes == {record.file: record.sha256 for record in pulled.imports}
    assert sum(f"SHA-256 `{digest}`" in caption for digest in hashes.values() for caption in captions) == 7


def test_a_pull_reconciles_to_the_findings_of_the_same_files(psa: Path, workspace: Path):
    at = pull_month(sources())
    at.radio(key="sources.pull_mode").set_value("only").run()
    if at.checkbox:  # a pull that drops sources or months of the current data is asked about first
        at.checkbox(key="sources.pull_mode.confirm_loss").check().run()
    at.button(key="sources.reconcile_pulled").click().run()
    assert_clean(at)
    assert at.success[0].value.startswith(
        "Reconciled 1 period(s): 3 actionable + 1 informational discrepancies (run #2)")
    assert at.session_state["workspace.active"].inputs.label == f"psa@{MONTH}"
    report = next(frame.value for frame in at.dataframe if "balanced" in frame.value)
    assert list(report["file"]) == [f"psa@{MONTH}:query {kind}" for kind in (
        "contracts", "usage", "invoices", "time_entries", "payments", "catalog", "client_aliases")]
    assert all(report["balanced"]) and all(len(digest) == 64 for digest in report["sha256"])

    database = stored(workspace)
    files_run, pulled_run = database.load_run(1), database.load_run(2)  # the test MSP's files; the pull
    assert pulled_run.label.startswith(f"psa@{MONTH}")
    own = pulled_run.imports[~pulled_run.imports["from_history"].astype(bool)]  # stored charges drawn on aside (4a)
    assert list(own["file"]) == list(report["file"])
    assert list(own["sha256"]) == list(report["sha256"])
    columns = ["fingerprint", "type", "variance"]
    from_files = files_run.discrepancies.query("period == @MONTH")[columns].sort_values("fingerprint")
    from_pull = pulled_run.discrepancies[columns].sort_values("fingerprint")
    pd.testing.assert_frame_equal(from_pull.reset_index(drop=True), from_files.reset_index(drop=True))
    assert len(from_pull) == 4  # unbilled usage, time and a price above contract; a negative margin

    expected = reconcile(pull(load_connections()["psa"], MONTH).sources()).metrics.overall
    at.switch_page("app_pages/overview.py").run()
    assert_clean(at)
    billed = next(item.value for item in at.metric if item.label == "Billed revenue")
    assert billed == display_money(expected.billed_revenue)
    log = StoreAuthStorage(database).access_log()
    assert [(entry.action, entry.user, entry.target) for entry in log[:2]] == [
        ("reconcile", "admin", "run #2"), ("pull", "admin", "psa")]  # newest first
    assert log[1].detail == f"{MONTH}: 7 source(s), 64 rows, 2 quarantined"


def test_a_pulled_source_replaces_its_kind_in_the_current_data(workspace: Path, pax8_server: StandIn):
    write_project(workspace, connections_toml(pax8=pax8_server.url))
    at = pull_month(sources(), vendors.MONTH, "pax8")
    assert_clean(at)
    assert at.radio(key="sources.pull_mode").value == "replace"
    assert "Datto vendor usage" in " ".join(item.value for item in at.warning)  # usage.csv mixes vendors
    at.checkbox(key="sources.pull_mode.confirm_loss").check().run()
    at.button(key="sources.reconcile_pulled").click().run()
    assert_clean(at)
    files = at.session_state["workspace.active"].inputs.files
    assert [file.name for file in files if file.kind == "usage"] == ["pax8@2026-02:invoice items",
                                                                     "pax8@2026-02:usage lines"]
    assert {file.name for file in files} >= {"contracts.csv", "invoices.csv"}  # the rest of the current data
    report = next(frame.value for frame in at.dataframe if "balanced" in frame.value)
    usage = report.set_index("file").loc["pax8@2026-02:invoice items"]
    assert usage["read_as"] == "pulled from pax8: preset pax8-invoice-items"
    assert (usage["rows_in"], usage["rows_used"], usage["rows_quarantined"]) == (3, 2, 1)


def test_clearing_pulled_data_keeps_the_run(psa: Path):
    at = pull_month(sources())
    assert at.session_state["sources.pulls"]
    at.button(key="sources.clear_pulls").click().run()
    assert_clean(at)
    assert "sources.pulls" not in at.session_state
    assert at.session_state["workspace.active"].inputs.label == "mini_msp"


def test_finance_may_pull_and_an_account_manager_may_not(psa: Path):
    finance = pull_month(sources(access.FINANCE))
    assert_clean(finance)
    assert finance.session_state["sources.pulls"]["psa"].period == MONTH
    principal = ensure_user("account-manager", access.ACCOUNT_MANAGER)
    at = AppTest.from_file(str(SOURCES_PAGE), default_timeout=TIMEOUT_S)
    at.session_state["access.session"] = access.start_session(principal, datetime.now(UTC))
    at.run()
    [refused] = [item.value for item in at.exception]  # AccessDeniedError, redacted where the config says so
    assert refused == "account-manager (account_manager) may not upload" or "redacted" in refused
    assert not at.button and not at.get("tabs")


def test_an_autotask_connection_is_offered_tested_and_pulled(workspace: Path):
    app = vendors.Autotask()
    with StandIn(app) as server:
        app.base = server.url
        write_project(workspace, connections_toml(autotask=server.url))
        at = sources()
        assert at.selectbox(key="sources.connection").options == ["at · Autotask PSA"]
        at.button(key="sources.test_connection").click().run()
        assert_clean(at)
        assert any("Autotask PSA answered at" in plain(item.value) for item in at.success)
        at = pull_month(at, vendors.MONTH, "at")
    assert_clean(at)
    kept = at.session_state["sources.pulls"]["at"]
    assert sorted(file.kind for file in kept.files) == ["catalog", "contracts", "invoices", "time_entries"]
