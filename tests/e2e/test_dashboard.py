"""The dashboard in a real browser: it starts, uploads through the real widget, shows the engine's
numbers, drills down into a client, and every page is photographed into test-artifacts/screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

import recon
from recon.metrics import Overall
from recon.money import display_money
from recon.store import Store

from .conftest import MINI_MSP, SCREENSHOTS, settle, sign_in

PAGES = {"overview": "", "client": "client", "discrepancies": "discrepancies", "receivables": "receivables",
         "sources": "sources", "mappings": "mappings", "runs": "runs", "settings": "settings", "admin": "admin"}


def screenshot(page, name: str) -> None:
    """The whole page: the viewport grows to the app's scroll height (the app scrolls inside itself)."""
    height = page.evaluate("document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight")
    page.set_viewport_size({"width": 1440, "height": max(1000, int(height) + 120)})
    page.wait_for_timeout(700)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def open_page(page, app_url: str, name: str, user: str = "admin") -> None:
    """Load the app (a new session), sign in, and open page ``name`` from the sidebar."""
    page.goto(app_url)
    sign_in(page, user)
    if name != "overview":
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=name.capitalize()).click()
        page.wait_for_url(re.compile(f"/{PAGES[name]}$"))
        page.get_by_role("heading", name=name.capitalize(), level=1).wait_for()
    settle(page)


def metric(page, label: str):
    """The value of the metric card ``label``; check it with ``expect``, which waits for a rerun's figure."""
    card = page.get_by_test_id("stMetric").filter(has=page.get_by_text(label, exact=True)).first
    return card.get_by_test_id("stMetricValue")


@pytest.fixture(scope="module")
def engine_summary() -> Overall:
    return recon.reconcile(recon.load_directory(MINI_MSP)).metrics.overall


def test_app_starts_and_overview_matches_the_engine(app_page, app_url, engine_summary):
    open_page(app_page, app_url, "overview")
    expect(app_page.get_by_role("heading", name="Overview")).to_be_visible()
    for label, figure in (("Billed revenue", "billed_revenue"), ("Expected revenue", "expected_revenue")):
        expect(metric(app_page, label)).to_have_text(display_money(getattr(engine_summary, figure)))
    expect(metric(app_page, "Leakage (under-billed)")).to_have_text(display_money(-engine_summary.leakage))
    overcharge = display_money(engine_summary.overcharge, signed=True)
    expect(metric(app_page, "Overcharge (refunds owed)")).to_have_text(overcharge)
    expect(metric(app_page, "Leakage rate")).to_have_text(f"{(engine_summary.leakage_rate or 0) * 100:.2f}%")
    assert app_page.get_by_test_id("stException").count() == 0


def test_a_filter_changes_the_numbers(app_page, app_url):
    open_page(app_page, app_url, "overview")
    sidebar = app_page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stMultiSelect").filter(has_text="Clients").click()
    app_page.get_by_role("option", name="Acme Corporation").click()
    app_page.keyboard.press("Escape")
    settle(app_page)
    expect(metric(app_page, "Billed revenue")).to_have_text("$13,210.00")  # Acme's alone, not the total


def test_overview_client_row_opens_the_client_page(app_page, app_url):
    open_page(app_page, app_url, "overview")
    grid = app_page.get_by_test_id("stDataFrame").last
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    app_page.mouse.click(box["x"] + 16, box["y"] + 35 + 35 + 17)  # the second row (Birch Dental LLC)
    app_page.wait_for_url(re.compile(r"/client$"))
    settle(app_page)
    expect(app_page.get_by_role("heading", name="Client", level=1)).to_be_visible()
    expect(app_page.get_by_text("Account manager: Dana Lee")).to_be_visible()
    expect(metric(app_page, "Under-billed")).to_have_text("-$78.00")  # Birch
    expect(metric(app_page, "Over-billed")).to_have_text("+$264.00")


def test_client_drill_down_opens(app_page, app_url):
    open_page(app_page, app_url, "client")
    app_page.get_by_test_id("stSelectbox").filter(has_text="Client").first.click()
    app_page.get_by_role("option", name="Cobalt Logistics").click()
    settle(app_page)
    expect(app_page.get_by_text("Account manager: Sam Ortiz")).to_be_visible()
    expect(metric(app_page, "Under-billed")).to_have_text("-$4,850.00")
    with app_page.expect_download() as download:
        app_page.get_by_role("button", name=re.compile("Statement \\(PDF\\)")).click()
    assert download.value.suggested_filename == "Cobalt-Logistics-statement.pdf"


def test_upload_through_the_real_widget(app_page, app_url, keep_current_data):
    open_page(app_page, app_url, "sources")
    files = [str(MINI_MSP / name) for name in ("contracts.csv", "usage.csv", "invoices.csv")]
    app_page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(files)
    expect(app_page.get_by_text(re.compile(r"^Detected:"))).to_have_count(3, timeout=60_000)
    settle(app_page)
    app_page.get_by_role("button", name="Reconcile").click()
    app_page.get_by_test_id("stAlert").filter(has_text=re.compile(r"Reconciled 4 period\(s\)")).wait_for()
    settle(app_page)
    screenshot(app_page, "upload")
    expect(app_page.get_by_text("contracts.csv, usage.csv, invoices.csv").first).to_be_visible()


def test_resolving_a_finding_in_the_browser_reaches_the_database(app_page, app_url, database_url):
    open_page(app_page, app_url, "discrepancies")
    grid = app_page.get_by_test_id("stDataFrame").first
    box = grid.bounding_box()
    app_page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)  # the first row's selection box
    app_page.get_by_text(re.compile(r"Resolve 1 selected finding")).wait_for()
    status = app_page.get_by_test_id("stForm").get_by_role("combobox", name="Status")  # no status is chosen for you
    status.click()
    status.fill("billed")
    app_page.get_by_role("option", name="billed", exact=True).wait_for()
    app_page.keyboard.press("Enter")
    app_page.get_by_label("Note").fill("raised with the client")
    app_page.get_by_role("button", name="Save resolution").click()
    settle(app_page)
    store = Store(database_url)
    for _ in range(60):  # the save is a rerun of the page: poll the database rather than race it
        history = store.history()
        if len(history) and history["note"].iloc[-1] == "raised with the client":
            break
        app_page.wait_for_timeout(500)
    assert list(history[["status", "note", "by"]].iloc[-1]) == ["billed", "raised with the client", "admin"]


@pytest.mark.parametrize("name", list(PAGES))
def test_screenshot_of_every_page(app_page, app_url, name):
    open_page(app_page, app_url, name)
    assert app_page.get_by_test_id("stException").count() == 0
    screenshot(app_page, name)


@pytest.mark.parametrize("name", ["overview", "client", "receivables"])
def test_kpi_values_show_whole_on_a_laptop_beside_the_sidebar(app_page, app_url, name):
    """900 px wide with the sidebar open leaves the page about 440 px: the cards wrap onto more lines
    rather than cut a figure to "$1,15…"."""
    app_page.set_viewport_size({"width": 900, "height": 1000})
    open_page(app_page, app_url, name)
    values = app_page.get_by_test_id("stMetricValue")
    assert values.count() >= 4
    cut = values.evaluate_all("cards => cards.map(card => card.firstElementChild || card)"
                              ".filter(text => text.scrollWidth > text.clientWidth).map(text => text.innerText)")
    assert cut == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    app_page.screenshot(path=str(SCREENSHOTS / f"{name}-900px.png"))
