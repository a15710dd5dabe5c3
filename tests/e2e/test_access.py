"""Access in a real browser: no page (nor any of its data) without signing in, whatever the URL; an
account manager's downloads (CSV, statement XLSX and PDF) hold only their clients; signing out ends it."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from pypdf import PdfReader

from .conftest import SCREENSHOTS, USERS, settle, sign_in

PATHS = ("", "client", "discrepancies", "receivables", "sources", "mappings", "runs", "settings", "admin",
         "sign-in", "no-such-page", "?page=overview")
DANAS_CLIENTS = ("Acme Corporation", "Birch Dental LLC")
NOT_DANAS = ("Cobalt", "Delta Legal", "Evergreen", "evergreenclinic", "Nimbus", "Sam Ortiz", "Priya Shah")


def sign_in_form_only(page) -> None:
    page.get_by_label("User name").wait_for(timeout=120_000)
    settle(page)
    assert page.get_by_test_id("stMetric").count() == 0
    assert page.get_by_test_id("stDataFrame").count() == 0
    assert page.get_by_test_id("stSidebarNav").count() == 0
    text = page.locator("body").inner_text()
    for name in (*DANAS_CLIENTS, *NOT_DANAS, "Billed revenue", "Dana Lee"):
        assert name not in text, name


@pytest.mark.parametrize("path", PATHS)
def test_no_page_is_reachable_without_signing_in(app_page, app_url, path):
    app_page.goto(f"{app_url}/{path}")
    sign_in_form_only(app_page)
    if path == "":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        app_page.screenshot(path=str(SCREENSHOTS / "sign-in.png"))


def test_a_wrong_password_is_refused_and_the_right_one_opens_the_app(app_page, app_url):
    app_page.goto(app_url)
    app_page.get_by_label("User name").fill("admin")
    app_page.get_by_label("Password", exact=True).fill("not the password")
    app_page.get_by_role("button", name="Sign in").click()
    app_page.get_by_text("Wrong user name or password.").wait_for()
    sign_in_form_only(app_page)
    sign_in(app_page, "admin")
    assert app_page.get_by_test_id("stSidebarNav").get_by_role("link", name="Admin").is_visible()


def test_a_bookmarked_page_asks_to_sign_in_then_opens(app_page, app_url):
    app_page.goto(f"{app_url}/discrepancies")
    sign_in_form_only(app_page)
    assert app_page.get_by_text("Page not found").count() == 0  # the form, not a dialog over it
    app_page.get_by_label("User name").fill("auditor")
    app_page.get_by_label("Password", exact=True).fill(USERS["auditor"][1])
    app_page.get_by_role("button", name="Sign in").click()
    app_page.get_by_role("heading", name="Discrepancies", level=1).wait_for(timeout=120_000)
    assert app_page.url.endswith("/discrepancies")


def test_signing_out_ends_the_session(app_page, app_url):
    app_page.goto(app_url)
    sign_in(app_page, "auditor")
    app_page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    sign_in_form_only(app_page)


def download(page, button) -> bytes:
    with page.expect_download() as started:
        button.click()
    return started.value.path().read_bytes() if started.value.path() else b""


def assert_only_danas(content: str, what: str) -> None:
    leaked = [name for name in NOT_DANAS if name in content]
    assert not leaked, f"{what} holds {leaked}"
    assert any(client in content for client in DANAS_CLIENTS), what


def test_an_account_managers_downloads_hold_only_their_clients(app_page, app_url):
    app_page.goto(app_url)
    sign_in(app_page, "dana")
    nav = app_page.get_by_test_id("stSidebarNav")
    assert [link.inner_text().split("\n")[-1] for link in nav.get_by_role("link").all()] == [
        "Overview", "Client", "Discrepancies", "Fixes", "Receivables"]  # (each link's text starts with its icon)
    clients_csv = download(app_page, app_page.get_by_role("button", name="Download CSV").last)
    assert_only_danas(clients_csv.decode(), "clients.csv")

    nav.get_by_role("link", name="Discrepancies").click()
    app_page.get_by_role("heading", name="Discrepancies", level=1).wait_for()
    settle(app_page)
    found_csv = download(app_page, app_page.get_by_role("button", name="Download CSV").first).decode()
    assert_only_danas(found_csv, "discrepancies.csv")
    assert re.search(r"^period,client,", found_csv)

    nav.get_by_role("link", name="Client").click()
    app_page.get_by_role("heading", name="Client", level=1).wait_for()
    settle(app_page)
    statement = download(app_page, app_page.get_by_role("button", name=re.compile(r"Statement \(XLSX\)")))
    book = openpyxl.load_workbook(io.BytesIO(statement))
    cells = " ".join(str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                     for cell in row if cell is not None)
    assert_only_danas(cells, "statement.xlsx")
    pdf = download(app_page, app_page.get_by_role("button", name=re.compile(r"Statement \(PDF\)")))
    assert_only_danas("\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages), "statement.pdf")
