"""The Sources page's Connect tab in a real browser: test the named connection (a SQLite PSA database
holding the test MSP), pull a month with a progress bar, read its validation report, reconcile it."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.dashboard.psa import MONTH

from .conftest import settle
from .test_dashboard import open_page, screenshot


def test_pull_a_month_through_the_connect_tab(app_page, app_url, keep_current_data):
    open_page(app_page, app_url, "sources")
    app_page.get_by_role("tab", name="Connect").click()
    panel = app_page.get_by_role("tabpanel", name="Connect")
    expect(panel.get_by_role("combobox", name="Connection")).to_have_value("psa · SQL database")

    panel.get_by_role("button", name="Test connection").click()
    expect(panel.get_by_test_id("stAlert").filter(has_text="connected to sqlite at")).to_be_visible()

    month = panel.get_by_role("textbox", name="Month (YYYY-MM)")
    month.fill(MONTH)
    month.press("Enter")
    settle(app_page)
    panel.get_by_role("button", name="Pull", exact=True).click()
    expect(panel.get_by_text(f"Pulled 7 source(s) from psa for {MONTH}")).to_be_visible(timeout=60_000)
    settle(app_page)
    expect(panel.get_by_text(re.compile(r"^\d+ rows in · "))).to_have_count(7)
    expect(panel.get_by_text("12 rows in · 10 used · 2 quarantined", exact=False)).to_be_visible()
    usage = panel.get_by_test_id("stExpander").filter(has_text="Validation and preview").nth(1)  # the usage query
    usage.get_by_text("Validation and preview").click()
    expect(usage.get_by_text("Quarantined rows")).to_be_visible()
    settle(app_page)
    assert app_page.get_by_test_id("stException").count() == 0
    screenshot(app_page, "connect")

    panel.get_by_text(re.compile(r"^Reconcile without ")).click()  # the pull covers one month: asked first
    settle(app_page)
    panel.get_by_role("button", name="Reconcile", exact=True).click()
    app_page.get_by_test_id("stAlert").filter(has_text=re.compile(r"Reconciled 1 period\(s\)")).wait_for()
    settle(app_page)
    expect(app_page.get_by_role("tab", name="Connect")).to_have_attribute("aria-selected", "true")  # still open
    expect(app_page.get_by_text(f"psa@{MONTH}").first).to_be_visible()  # the run's label in the sidebar
    assert app_page.get_by_test_id("stException").count() == 0
    screenshot(app_page, "connect-reconciled")
