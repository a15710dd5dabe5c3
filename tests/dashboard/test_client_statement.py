"""The account manager's statement under AppTest (issue 22 item 5): the letterhead set on Settings reaches
the statement the Client page offers, with the balance in words and invoice numbers, and the Client page
shows what the client owes (open and overdue balance from receivables). The test MSP (tests/fixtures)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from recon import views
from recon.engine import reconcile
from recon.ingest.directory import load_directory
from recon.money import display_money
from recon.store import Store
from tests.dashboard.signin import signed_in_app
from tests.recon.exports.logo import png_logo

ROOT = Path(__file__).resolve().parents[2]
MINI_MSP = ROOT / "tests" / "fixtures" / "mini_msp"
COBALT = "Cobalt Logistics"


@pytest.fixture()
def offered(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, Callable[[], object]]]:
    """Every download a page offers (file name -> what makes it), the app on the test MSP."""
    made: dict[str, Callable[[], object]] = {}
    original = MediaFileManager.add_deferred

    def recording(self: MediaFileManager, data_callable: Callable[[], object], mimetype: str | None,
                  coordinates: str, file_name: str | None = None, *, element_id: str = "") -> str:
        made[file_name or ""] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name=file_name,  # type: ignore[arg-type]
                        element_id=element_id)

    monkeypatch.setenv("RECON_SAMPLE_DIR", str(MINI_MSP))
    monkeypatch.setenv("RECON_DATABASE_URL", f"sqlite:///{tmp_path / 'recon.db'}")
    monkeypatch.setattr(MediaFileManager, "add_deferred", recording)
    yield made


def metric(at: AppTest, label: str) -> str:
    return next(item.value for item in at.metric if item.label == label)


def test_the_letterhead_saved_on_settings_reaches_the_clients_statement(offered, tmp_path: Path):
    at = signed_in_app()
    at.switch_page("app_pages/settings.py").run()
    at.text_input(key="settings.company_name").input("Northwind IT Services")
    at.text_area(key="settings.company_address").input("12 Harbour Road\nBristol BS1 4QA")
    at.file_uploader(key="settings.company_logo").set_value([("logo.png", png_logo(), "image/png")])
    at.button(key="FormSubmitter:settings.company-Save letterhead").click().run()
    assert not at.exception and not at.error, [item.value for item in at.error]
    company = Store(f"sqlite:///{tmp_path / 'recon.db'}").company()
    assert (company.name, company.address_lines, company.logo) == (
        "Northwind IT Services", ("12 Harbour Road", "Bristol BS1 4QA"), png_logo())

    at.switch_page("app_pages/client.py").run()
    at.selectbox(key="client.selected").select(COBALT).run()
    assert not at.exception
    assert any("The statement says **Amount due to us: $4,850.00**" in item.value for item in at.markdown)
    pdf = bytes(next(make for name, make in offered.items() if name.endswith("statement.pdf"))())  # type: ignore[call-overload]
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)
    for expected in ("Northwind IT Services", "Bristol BS1 4QA", COBALT, "Amount due to us: $4,850.00", "INV-1013",
                     "Page 1 of 1"):
        assert expected in text, expected
    assert "LABOR" not in text and "MANAGED-SVC" not in text


def test_the_client_page_shows_the_clients_open_and_overdue_balance(offered):
    at = signed_in_app()
    at.switch_page("app_pages/client.py").run()
    at.selectbox(key="client.selected").select(COBALT).run()
    assert not at.exception
    run = reconcile(load_directory(MINI_MSP))
    overall = views.filter_run(run, views.Filters(clients=(COBALT,))).metrics.overall
    assert overall.ar_balance > 0
    assert metric(at, "Open balance") == display_money(overall.ar_balance)
    assert metric(at, "Overdue") == display_money(overall.overdue_balance)
