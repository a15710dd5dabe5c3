"""Plain words and one way of counting (issue 22 item 6) under AppTest on the test MSP: the Overview chips
are the change against the previous month in month names, leakage is a loss (negative) on the cards and in
the tables, one selected month draws cleanly, runs are listed with date, time and who, findings are counted
"actionable + informational" where both appear, and what a person reads holds no snake_case or internal
ids."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import recon
from recon import views
from recon.metrics import describe_findings
from recon.money import display_money
from recon.rules import INFORMATIONAL_TYPES
from tests.dashboard.signin import signed_in_app

ROOT = Path(__file__).resolve().parents[2]
MINI_MSP = ROOT / "tests" / "fixtures" / "mini_msp"
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")


@pytest.fixture(scope="module")
def run() -> recon.Reconciliation:
    return recon.reconcile(recon.load_directory(MINI_MSP))


@pytest.fixture()
def app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AppTest:
    monkeypatch.setenv("RECON_SAMPLE_DIR", str(MINI_MSP))
    monkeypatch.setenv("RECON_DATABASE_URL", f"sqlite:///{tmp_path / 'recon.db'}")
    return signed_in_app()


def card(at: AppTest, label: str):
    return next(item for item in at.metric if item.label == label)


def table(at: AppTest, column: str):
    return next(frame for frame in at.dataframe if column in frame.value.columns)


def test_overview_chips_are_the_change_against_the_previous_month(app: AppTest, run):
    by_period = views.filter_run(run).metrics.by_period
    last, previous = by_period.iloc[-1], by_period.iloc[-2]
    assert (last["period"], previous["period"]) == ("2026-04", "2026-03")
    billed = int(last["billed_revenue"]) - int(previous["billed_revenue"])
    leakage = -(int(last["leakage"]) - int(previous["leakage"]))  # a loss: more leakage is a negative change
    assert card(app, "Billed revenue").proto.delta == f"{display_money(billed, signed=True)} vs Mar 2026"
    assert card(app, "Leakage (under-billed)").proto.delta == f"{display_money(leakage, signed=True)} vs Mar 2026"


def test_one_selected_month_draws_cleanly(app: AppTest):
    app.selectbox(key="filters.period_from").select("2026-03").run()
    app.selectbox(key="filters.period_to").select("2026-03").run()
    assert not app.exception
    billed = card(app, "Billed revenue")
    assert not billed.proto.delta and not list(billed.proto.chart_data)  # no chip, no lone sparkline bar
    trend = json.loads(app.get("plotly_chart")[0].proto.spec)
    span = trend["layout"]["xaxis"]["range"]
    assert span[1] - span[0] >= 5  # one month is one ordinary bar, not a block across the chart


def test_leakage_is_a_loss_on_the_cards_and_in_the_tables(app: AppTest, run):
    overall = views.filter_run(run).metrics.overall
    assert card(app, "Leakage (under-billed)").value == f":red[{display_money(-overall.leakage)}]"
    clients = table(app, "leakage").value
    assert (clients["leakage"] <= 0).all() and (clients["leakage"] < 0).any()
    assert float(clients["leakage"].sum()) == pytest.approx(-overall.leakage / 10_000)
    app.switch_page("app_pages/runs.py").run()
    runs = table(app, "found").value
    assert float(runs["leakage"].iloc[0]) == pytest.approx(-overall.leakage / 10_000)


def test_runs_are_listed_with_date_time_and_who(app: AppTest):
    app.switch_page("app_pages/runs.py").run()
    runs = table(app, "found")
    config = json.loads(runs.proto.columns)
    assert config["created_at"]["type_config"]["format"] == "D MMM YYYY, HH:mm"
    assert runs.value["by"].iloc[0] == "admin"


def test_findings_are_counted_actionable_plus_informational_alike_everywhere(app: AppTest, run):
    informational = int(run.discrepancies["type"].isin(INFORMATIONAL_TYPES).sum())
    assert informational
    words = describe_findings(len(run.discrepancies) - informational, informational)
    app.switch_page("app_pages/discrepancies.py").run()
    assert card(app, "Findings").value == words
    app.switch_page("app_pages/runs.py").run()
    assert card(app, "Discrepancies").value == words


def texts(at: AppTest) -> list[str]:
    """Everything a person reads on the page as text: labels, captions, cards and table headers."""
    found = [str(item.value) for kind in ("markdown", "caption", "info", "warning", "success", "subheader")
             for item in getattr(at, kind)]
    found += [f"{item.label} {item.value}" for item in at.metric]
    return found


def test_sources_speak_of_checks_and_standard_columns_not_expectations(app: AppTest):
    app.switch_page("app_pages/sources.py").run()
    assert not app.exception
    labels = {item.label for item in app.metric}
    assert "Checks failed" in labels and "Expectations failed" not in labels
    files = table(app, "read_as").value
    assert not files["read_as"].str.contains("canonical").any()
    assert "standard column names" in set(files["read_as"])
    checks = table(app, "rule").value
    assert "expectation" not in checks.columns  # expect_column_values_to_... is the library's name
    assert not [text for text in texts(app) if "expect_" in text or "canonical" in text]


def test_runs_and_the_access_log_hold_no_codes(app: AppTest, tmp_path: Path):
    app.switch_page("app_pages/runs.py").run()
    found = table(app, "label").value
    assert not {"type", "fingerprint"} & set(found.columns)
    assert not [text for text in texts(app) if re.search(r"run key|[0-9a-f]{12}", text)]
    app.switch_page("app_pages/settings.py").run()
    app.button(key="FormSubmitter:settings.form-Save settings").click().run()
    app.switch_page("app_pages/admin.py").run()
    log = table(app, "action").value
    assert "change settings" in set(log["action"])
    assert not [action for action in log["action"] if SNAKE.search(str(action))]


def test_fixes_name_their_finding_in_words(app: AppTest):
    app.switch_page("app_pages/fixes.py").run()
    app.multiselect(key="fixes.columns").select("finding").run()  # under More columns (issue 22 review)
    fixes = table(app, "fix").value
    assert "finding_type" not in fixes.columns
    assert not [name for name in fixes["finding"] if SNAKE.search(str(name))]


def test_settings_of_a_run_read_as_words_not_field_names(app: AppTest):
    for page in ("runs", "settings"):
        app.switch_page(f"app_pages/{page}.py").run()
        assert not app.exception
        assert not app.get("json")  # was the settings' dictionary: quantity_tolerance, day_weighted, ...
        rows = table(app, "setting").value
        assert "Quantity tolerance (units)" in set(rows["setting"]) and "days held" in set(rows["value"])
        assert not [text for text in [*rows["setting"], *rows["value"]] if SNAKE.search(str(text))]


def test_the_client_page_names_its_months(app: AppTest):
    """Walk at 1024 px (issue 22 review): the Client page said "periods 2026-01 to 2026-04"."""
    app.switch_page("app_pages/client.py").run()
    assert not app.exception
    captions = [item.value for item in app.caption]
    assert any("Jan 2026 to Apr 2026" in text for text in captions), captions
    assert not [text for text in captions if "2026-01" in text]


def test_the_client_page_tables_show_the_money_before_the_words(app: AppTest):
    """Walk at 1024 px: the difference was the fourth column, cut off at the grid's right edge."""
    app.switch_page("app_pages/client.py").run()
    for column in ("detail", "status"):
        assert list(table(app, column).value.columns)[:3] == ["period", "product", "variance"]


def test_the_trial_seats_card_says_its_figure_is_day_weighted(app: AppTest):
    """Found in the tour (/tmp/uitour/90-5-sources.png): "Trial seats 24.7", a fraction read as seats.
    The figure is day-weighted (PRODUCT.md 4a): the card's help says so, and what half a month counts."""
    app.switch_page("app_pages/sources.py").run()
    assert "day-weighted: a seat held half the month counts 0.5" in card(app, "Trial seats").proto.help
