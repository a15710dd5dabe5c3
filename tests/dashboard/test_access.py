"""Who may see what in the dashboard, under AppTest (issue 7): nothing before signing in, the sign-in
form with throttling and a one-time admin password, session expiry, pages per role, pages that refuse on
their own, and an account manager who never sees another client's name anywhere on any page."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from recon import access
from recon.access.storage import StoreAuthStorage
from recon.store import Store
from tests.dashboard.apptest import assert_clean
from tests.dashboard.signin import APP, TIMEOUT_S, ensure_user, signed_in_app

ROOT = Path(__file__).resolve().parents[2]
MINI_MSP = ROOT / "tests" / "fixtures" / "mini_msp"
PAGES = ROOT / "dashboard" / "app_pages"
# In the test MSP, Dana Lee manages Acme Corporation and Birch Dental LLC; Sam Ortiz and Priya Shah the rest.
DANAS_CLIENTS = ("Acme Corporation", "Birch Dental LLC")
NOT_DANAS = ("Cobalt", "Delta Legal", "Evergreen", "evergreenclinic", "Nimbus", "Sam Ortiz", "Priya Shah")


@pytest.fixture(autouse=True)
def _test_msp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RECON_SAMPLE_DIR", str(MINI_MSP))
    monkeypatch.setenv("RECON_DATABASE_URL", f"sqlite:///{tmp_path / 'recon.db'}")


def storage(tmp_path: Path) -> StoreAuthStorage:
    return StoreAuthStorage(Store(f"sqlite:///{tmp_path / 'recon.db'}"))


def everything(at: AppTest) -> str:
    """All a browser would receive for this page: every element's message (labels, markdown, options,
    metric values, chart specs, dataframe bytes) plus every dataframe as CSV."""
    parts: list[str] = []

    def walk(node: object) -> None:
        for child in getattr(node, "children", {}).values():
            walk(child)
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        if getattr(node, "type", "") == "arrow_data_frame":
            parts.append(node.value.to_csv())  # type: ignore[attr-defined]

    walk(at._tree)
    return "\n".join(parts)


def page_names(at: AppTest) -> list[str]:
    """The pages a visitor can tell apart (before signing in, every page's URL draws the one form)."""
    return list(dict.fromkeys(page["page_name"] for page in at._registered_pages.values()))


def sign_in_with_form(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="login.username").input(name)
    at.text_input(key="login.password").input(password)
    return at.button(key="FormSubmitter:login.form-Sign in").click().run()


# ----------------------------------------------------------------------------------- before signing in

def test_before_signing_in_there_is_only_the_sign_in_form(capsys: pytest.CaptureFixture[str]) -> None:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
    printed = capsys.readouterr().out
    password = re.search(r"one-time password\n\n\s+(\S+)", printed)
    assert password, "the first start prints the admin's one-time password on the server console"
    assert not at.exception
    assert page_names(at) == ["Sign in"]
    page = everything(at)
    assert not at.metric and not at.dataframe
    # the one chart is the empty, hidden one that has the browser load Plotly while the user types
    charts = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    assert [chart["data"] for chart in charts] == [[]]
    assert [chart["layout"].get("annotations") for chart in charts] == [None]
    assert password.group(1) not in page  # printed once in the terminal, never sent to a browser
    for name in (*DANAS_CLIENTS, *NOT_DANAS, "Dana Lee"):
        assert name not in page
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/overview.py")


def test_the_first_admin_signs_in_once_with_the_printed_password_and_must_replace_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
    match = re.search(r"one-time password\n\n\s+(\S+)", capsys.readouterr().out)
    assert match
    one_time = match.group(1)
    sign_in_with_form(at, "admin", one_time)
    assert page_names(at) == ["Choose a password"] and not at.metric
    at.text_input(key="login.current").input(one_time)
    at.text_input(key="login.new").input("my own admin password")
    at.text_input(key="login.again").input("my own admin password")
    at.button(key="FormSubmitter:login.change-Save password").click().run()
    assert_clean(at)
    assert "Admin" in page_names(at) and at.title[0].value == "Overview"
    again = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
    assert "one-time password" not in capsys.readouterr().out  # printed once, at the very first start
    sign_in_with_form(again, "admin", one_time)
    assert page_names(again) == ["Sign in"] and "Wrong user name or password." in again.error[0].value


@pytest.mark.parametrize("url", ["recon:S3cretPw@db/recon", "postgresql://recon:S3cret@Pw@127.0.0.1:1/recon",
                                 "postgresql://recon:S3cretPw@db:notaport/recon",
                                 "postgresql://recon@127.0.0.1:1/recon?password=S3cretPw"])
def test_a_malformed_database_url_never_reaches_the_sign_in_page(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Issue 23 item 8: anyone can open the sign-in page; what it says about a broken database URL holds
    no password, nor a piece of one."""
    monkeypatch.setenv("RECON_DATABASE_URL", url)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
    shown = everything(at) + "".join(str(item.value) for item in at.exception)
    assert "S3cret" not in shown and "Pw" not in shown, shown
    assert not at.exception and "Nobody can sign in" in at.error[0].value


def test_a_wrong_password_gives_one_message_and_no_data(tmp_path: Path) -> None:
    ensure_user("fin", access.FINANCE, password="finance-password")
    at = sign_in_with_form(AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run(), "fin", "guess-guess-guess")
    assert [item.value for item in at.error] == [access.WRONG_CREDENTIALS]
    assert page_names(at) == ["Sign in"] and not at.dataframe
    sign_in_with_form(at, "fin", "finance-password")
    assert_clean(at)
    assert at.title[0].value == "Overview" and at.metric
    log = access.access_log_frame(storage(tmp_path).access_log())
    assert list(log[log["action"] == "login"]["outcome"][:2]) == ["ok", "failed"]


def test_repeated_failures_lock_the_form(tmp_path: Path) -> None:
    ensure_user("fin", access.FINANCE, password="finance-password")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
    for _ in range(5):
        sign_in_with_form(at, "fin", "guess-guess-guess")
    sign_in_with_form(at, "fin", "finance-password")
    assert page_names(at) == ["Sign in"]
    assert "Too many failed logins" in at.error[0].value


def test_an_idle_session_expires_and_is_logged(tmp_path: Path) -> None:
    principal = ensure_user("fin", access.FINANCE)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    at.session_state["access.session"] = access.start_session(principal, long_ago)
    at.run()
    assert page_names(at) == ["Sign in"]
    assert "Your session expired" in at.info[0].value
    assert storage(tmp_path).access_log()[0].detail == "session expired"


def test_a_disabled_user_is_signed_out_at_the_next_click(tmp_path: Path) -> None:
    at = signed_in_app(access.FINANCE, name="fin")
    assert at.title[0].value == "Overview"
    users = storage(tmp_path)
    user = users.get_user("fin")
    assert user is not None
    users.update_user(replace(user, disabled=True))
    at.run()
    assert page_names(at) == ["Sign in"] and not at.metric


def test_signing_out_forgets_the_session(tmp_path: Path) -> None:
    at = signed_in_app(access.FINANCE, name="fin")
    at.sidebar.button(key="login.sign_out").click().run()
    assert page_names(at) == ["Sign in"]
    assert "workspace.active" not in at.session_state and "access.session" not in at.session_state
    assert storage(tmp_path).access_log()[0].action == "logout"


# ----------------------------------------------------------------------------------------------- roles

@pytest.mark.parametrize(("role", "pages"), [
    (access.ADMIN, ["Overview", "Client", "Discrepancies", "Fixes", "Receivables", "Sources", "Mappings", "Runs",
                  "Settings", "Admin"]),
    (access.FINANCE, ["Overview", "Client", "Discrepancies", "Fixes", "Receivables", "Sources", "Mappings", "Runs"]),
    (access.AUDITOR, ["Overview", "Client", "Discrepancies", "Fixes", "Receivables", "Runs"]),
    (access.ACCOUNT_MANAGER, ["Overview", "Client", "Discrepancies", "Fixes", "Receivables"]),
])
def test_each_role_is_offered_its_pages(role: str, pages: list[str]) -> None:
    at = signed_in_app(role, manager_name="Dana Lee")
    assert_clean(at)
    assert page_names(at) == pages


@pytest.mark.parametrize(("page_file", "role"), [
    ("sources.py", access.ACCOUNT_MANAGER), ("mappings.py", access.AUDITOR), ("runs.py", access.ACCOUNT_MANAGER),
    ("settings.py", access.FINANCE), ("admin.py", access.FINANCE),
])
def test_a_restricted_page_refuses_even_when_run_directly(page_file: str, role: str) -> None:
    principal = ensure_user(role.replace("_", "-"), role)
    at = AppTest.from_file(str(PAGES / page_file), default_timeout=TIMEOUT_S)
    at.session_state["access.session"] = access.start_session(principal, datetime.now(UTC))
    at.run()
    assert at.exception and "redacted" in at.exception[0].value  # AccessDeniedError; details only in the log
    assert not at.dataframe and not at.metric and not at.get("file_uploader") and not at.get("form")


def test_an_auditor_reads_but_cannot_resolve() -> None:
    at = signed_in_app(access.AUDITOR)
    at.switch_page("app_pages/discrepancies.py").run()
    at.session_state["discrepancies.table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert_clean(at)
    assert not at.get("form") or all("resolve" not in str(form.proto) for form in at.get("form"))
    assert any("Evidence for" in item.value for item in at.markdown)


def test_a_resolution_and_an_audit_pack_carry_who_and_when(tmp_path: Path) -> None:
    at = signed_in_app(access.FINANCE, name="fin")
    at.switch_page("app_pages/discrepancies.py").run()
    at.session_state["discrepancies.table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    at.selectbox(key="discrepancies.status").select("billed")
    at.text_input(key="discrepancies.note").input("INV-2041")
    at.button(key="FormSubmitter:discrepancies.resolve-Save resolution").click().run()
    assert_clean(at)
    history = Store(f"sqlite:///{tmp_path / 'recon.db'}").history()
    assert list(history["by"]) == ["fin"]
    event = storage(tmp_path).access_log()[0]
    assert (event.user, event.action, event.detail) == ("fin", "resolve", "billed: INV-2041")


# ------------------------------------------------------------------------------- an account manager

def dana() -> AppTest:
    return signed_in_app(access.ACCOUNT_MANAGER, name="dana", manager_name="Dana Lee")


def assert_only_danas(at: AppTest, where: str) -> None:
    assert_clean(at)
    page = everything(at)
    leaked = [name for name in NOT_DANAS if name in page]
    assert not leaked, f"{where} shows {leaked}"


@pytest.mark.parametrize("page_name", ["overview", "client", "discrepancies", "receivables"])
def test_an_account_manager_never_sees_another_clients_name(page_name: str) -> None:
    at = dana()
    at.switch_page(f"app_pages/{page_name}.py").run()
    assert_only_danas(at, page_name)
    assert any(client in everything(at) for client in DANAS_CLIENTS)


def test_an_account_managers_filters_offer_only_their_clients() -> None:
    at = dana()
    assert at.sidebar.multiselect(key="filters.clients").options == list(DANAS_CLIENTS)
    assert at.sidebar.multiselect(key="filters.account_managers").options == ["Dana Lee"]


def test_every_client_page_and_every_evidence_panel_of_an_account_manager_is_theirs() -> None:
    at = dana()
    at.switch_page("app_pages/client.py").run()
    assert at.selectbox(key="client.selected").options == list(DANAS_CLIENTS)
    for client in DANAS_CLIENTS:
        at.selectbox(key="client.selected").select(client).run()
        at.session_state["client.findings"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
        at.run()
        assert_only_danas(at, f"client page of {client}")
        assert [button.label for button in at.get("download_button")][-2:] == ["Statement (XLSX)", "Statement (PDF)"]
    at.switch_page("app_pages/discrepancies.py").run()
    rows = len(next(frame.value for frame in at.dataframe if "label" in frame.value))
    at.session_state["discrepancies.table"] = {"selection": {"rows": list(range(rows)), "columns": [], "cells": []}}
    at.run()
    assert_only_danas(at, "evidence of every finding")


def test_an_account_manager_cannot_resolve_another_clients_finding(tmp_path: Path) -> None:
    signed_in_app(access.FINANCE)  # finance opens the month: the run is stored
    at = dana()
    stored = Store(f"sqlite:///{tmp_path / 'recon.db'}")
    everyone = stored.load_run(int(stored.list_runs()["id"].iloc[0])).discrepancies
    foreign = everyone[~everyone["client"].isin(DANAS_CLIENTS)]["fingerprint"].iloc[0]
    probe = AppTest.from_function(_resolve_probe, args=(str(foreign),), default_timeout=TIMEOUT_S)
    probe.session_state["access.session"] = at.session_state["access.session"]
    probe.session_state["app.context"] = at.session_state["app.context"]
    probe.run()
    assert probe.exception  # AccessDeniedError: "1 of these findings are not yours to resolve"
    assert stored.history().empty
    own = everyone[everyone["client"].isin(DANAS_CLIENTS)]["fingerprint"].iloc[0]
    control = AppTest.from_function(_resolve_probe, args=(str(own),), default_timeout=TIMEOUT_S)
    control.session_state["access.session"] = at.session_state["access.session"]
    control.session_state["app.context"] = at.session_state["app.context"]
    control.run()
    assert not control.exception
    assert list(stored.history()["by"]) == ["dana"]


def _resolve_probe(fingerprint: str) -> None:
    from dashboard import session

    session.resolve([fingerprint], "billed", "not mine")


# --------------------------------------------------------------------------------- identity provider

OIDC_SECRETS = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                         "microsoft": {"client_id": "id", "client_secret": "secret",
                                       "server_metadata_url": "https://login.example/.well-known/openid-configuration"}}}


def oidc_app(user: dict[str, object]) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.secrets = OIDC_SECRETS
    at.user = user
    return at.run()


def test_with_an_identity_provider_the_form_is_a_sign_in_button() -> None:
    at = oidc_app({"is_logged_in": False})
    assert page_names(at) == ["Sign in"]
    assert not at.text_input and [button.label for button in at.button] == ["Sign in"]


def test_the_identity_provider_proves_who_and_the_user_record_grants_the_role(tmp_path: Path) -> None:
    ensure_user("ann@msp.example", access.AUDITOR)
    at = oidc_app({"is_logged_in": True, "email": "Ann@MSP.example", "email_verified": True, "name": "Ann"})
    assert_clean(at)
    assert page_names(at) == ["Overview", "Client", "Discrepancies", "Fixes", "Receivables", "Runs"]
    assert storage(tmp_path).access_log()[0].detail == "identity provider"


@pytest.mark.parametrize("user", [
    {"is_logged_in": True, "email": "eve@elsewhere.example", "email_verified": True},
    {"is_logged_in": True, "email": "ann@msp.example", "email_verified": False},
    {"is_logged_in": True},
])
def test_an_unknown_or_unverified_identity_sees_nothing(user: dict[str, object]) -> None:
    ensure_user("ann@msp.example", access.AUDITOR)
    at = oidc_app(user)
    assert page_names(at) == ["Sign in"] and not at.metric and not at.dataframe
    assert "has no access to MSP Billing Recon" in at.error[0].value


# --------------------------------------------------------------------------------------------- admin

def test_the_admin_page_adds_users_with_a_one_time_password_and_shows_the_access_log(tmp_path: Path) -> None:
    at = signed_in_app(access.ADMIN, name="root")
    at.switch_page("app_pages/admin.py").run()
    assert_clean(at)
    at.text_input(key="admin.add.name").input("sam")
    at.selectbox(key="admin.add.role").select(access.ACCOUNT_MANAGER)
    at.text_input(key="admin.add.manager").input("Sam Ortiz")
    at.button(key="FormSubmitter:admin.add-Add user").click().run()
    assert_clean(at)
    password = at.code[0].value
    outcome = access.authenticate(storage(tmp_path), "sam", password, "test", datetime.now(UTC))
    assert outcome.principal == access.Principal("sam", access.ACCOUNT_MANAGER, manager_name="Sam Ortiz")
    assert outcome.must_change_password
    at.run()  # shown once: the next run no longer has it
    assert not at.code
    users = next(frame.value for frame in at.dataframe if "sign_in" in frame.value)
    assert "password_hash" not in users and set(users["user"]) == {"root", "sam"}
    log = next(frame.value for frame in at.dataframe if "action" in frame.value)
    assert {"user added", "login"} <= set(log["action"]) and password not in log.to_csv()  # actions in words


def test_a_user_just_added_is_in_the_users_table_and_can_be_changed_at_once() -> None:
    """UI tour 2: the run that added a user (and showed the one-time password) drew the users table and the
    "Change a user" list from before the add, so the admin did not see the new user there until another
    click."""
    at = signed_in_app(access.ADMIN, name="root")
    at.switch_page("app_pages/admin.py").run()
    at.text_input(key="admin.add.name").input("sam")
    at.selectbox(key="admin.add.role").select(access.AUDITOR)
    at.button(key="FormSubmitter:admin.add-Add user").click().run()
    assert_clean(at)
    assert at.code  # the one-time password, shown in this run
    users = next(frame.value for frame in at.dataframe if "sign_in" in frame.value)
    assert set(users["user"]) == {"root", "sam"}
    assert "sam" in at.selectbox(key="admin.change.user").options


def test_a_password_reset_shows_at_once_in_the_users_table(tmp_path: Path) -> None:
    """UI tour 2: the users table was drawn before the "New one-time password" button ran, so the run that
    showed the new password still listed the user as active instead of must change password."""
    ensure_user("sam", access.AUDITOR, password="sam-old-password-1")
    at = signed_in_app(access.ADMIN, name="root")
    at.switch_page("app_pages/admin.py").run()
    at.selectbox(key="admin.change.user").select("sam").run()
    at.button(key="admin.change.reset").click().run()
    assert_clean(at)
    assert at.code  # the one-time password, shown in this run
    users = next(frame.value for frame in at.dataframe if "sign_in" in frame.value).set_index("user")
    assert users.loc["sam", "status"] == "must change password"


def test_an_admin_cannot_lock_themself_out() -> None:
    at = signed_in_app(access.ADMIN, name="root")
    at.switch_page("app_pages/admin.py").run()
    at.selectbox(key="admin.change.user").select("root").run()
    at.selectbox(key="admin.change.role.root").select(access.FINANCE)
    at.button(key="admin.change.save").click().run()
    assert "cannot take away your own admin role" in at.error[0].value


# A script's lines: the app's sign-in form drawn (AppTest), and GX's import in the background waited for if begun.
SIGN_IN_FORM_DRAWN = f"""from streamlit.testing.v1 import AppTest
at = AppTest.from_file({str(APP)!r}, default_timeout={TIMEOUT_S})
at.run()
assert not at.exception, at.exception
assert [button.label for button in at.button] == ["Sign in"], [button.label for button in at.button]
for thread in threading.enumerate():
    if thread.name == "import-great-expectations":
        thread.join(120)
"""


def in_a_fresh_interpreter(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``script`` run by a new Python (this one imported GX long ago) on the mini MSP and a new database;
    it must end well."""
    environment = {**os.environ, "RECON_SAMPLE_DIR": str(MINI_MSP),
                   "RECON_DATABASE_URL": f"sqlite:///{tmp_path / 'recon.db'}"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_the_sign_in_page_has_great_expectations_imported_while_the_visitor_types(tmp_path: Path):
    """A fresh server (a fresh interpreter: this one imported GX long ago) starts importing Great
    Expectations once the sign-in form is drawn, so the first files validated after signing in do not
    wait for it. Without that, nothing on the sign-in page imports it (the check fails)."""
    script = f"""
import sys, threading
{SIGN_IN_FORM_DRAWN}print("imported:", "great_expectations" in sys.modules)
"""
    done = in_a_fresh_interpreter(script, tmp_path)
    assert "imported: True" in done.stdout, done.stdout[-2000:]  # (nothing else on this page imports it)


def test_the_server_runs_the_suites_in_a_worker_process_started_with_it(tmp_path: Path):
    """``dashboard/server.py`` (what ``recon dashboard`` serves) starts the Great Expectations worker process
    as it starts, so GX is imported on the other core while the first visitor signs in: the sign-in page
    then imports nothing, and files read after signing in are judged in the worker (GX never imported in
    the server's process). Without the worker, the sign-in page imports GX here (the check fails)."""
    script = f"""
import runpy, sys, threading
runpy.run_path({str(ROOT / "dashboard" / "server.py")!r})  # as `streamlit run dashboard/server.py` does
from recon.ingest import quality
import recon
print("worker:", quality.has_worker())
{SIGN_IN_FORM_DRAWN}from pathlib import Path
loaded = recon.load_directory(Path({str(MINI_MSP)!r}))
print("judged:", sum(len(report.expectations) for report in loaded.reports) > 0)
print("imported here:", "great_expectations" in sys.modules)
"""
    done = in_a_fresh_interpreter(script, tmp_path)
    assert "worker: True" in done.stdout, done.stdout[-2000:]
    assert "judged: True" in done.stdout and "imported here: False" in done.stdout, done.stdout[-2000:]
