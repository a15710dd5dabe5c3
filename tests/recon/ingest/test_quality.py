"""The expectation suites (Great Expectations) decide quarantine and report per file, in memory."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.ingest.files import load_file
from recon.ingest.quality import ISO_4217, suite_checks
from recon.sources import ValidationReport, empty_source

REPO = Path(__file__).resolve().parents[3]


def reasons(loaded) -> dict[int, str]:
    return dict(zip(loaded.issues["line"].tolist(), loaded.issues["reason"].tolist(), strict=True))


def outcome(report: ValidationReport, rule: str):
    (found,) = [item for item in report.expectations if item.rule == rule]
    return found


def test_failing_rows_are_quarantined_with_field_detail_and_expectation() -> None:
    text = (
        "client,sku,unit_price,quantity,start_date,end_date,currency,billing_frequency\n"
        "Acme,M365-BP,22.00,25,2026-01-01,,USD,monthly\n"  # 2: fine
        "Acme,EDR,-6.50,30,2026-01-01,,usd,monthly\n"  # 3: negative price; 'usd' is USD
        "Acme,RMM,5.00,-3,1999-12-31,,USD,monthly\n"  # 4: negative quantity, date too early
        "Acme,BKP,3.00,2,2026-03-01,2026-02-01,XYZ,fortnightly\n"  # 5: ends before start, bad code, choice
        ",VOIP,9.00,1,2026-03-01,someday,USD,monthly\n"
    )  # 6: no client, unreadable end date
    loaded = load_file(text.encode(), "contracts.csv", "contracts")
    assert reasons(loaded) == {
        3: "unit_price: '-6.50' is negative (expect_column_values_to_be_between)",
        4: "quantity: '-3' is negative (expect_column_values_to_be_between); "
        "start_date: '1999-12-31' is outside 2000-01-01..2100-12-31 (expect_column_values_to_be_between)",
        5: "billing_frequency: 'fortnightly' is not one of monthly, bimonthly, quarterly, semiannual, annual, "
        "biennial, triennial, one_time "
        "(expect_column_values_to_not_be_null); "
        "end_date: '2026-02-01' is before start_date '2026-03-01' "
        "(expect_column_pair_values_a_to_be_greater_than_b); "
        "currency: 'XYZ' is not an ISO 4217 currency code (expect_column_values_to_be_in_set)",
        6: "client: required value is empty (expect_column_values_to_not_be_null); "
        "end_date: cannot read date 'someday' (expect_column_values_to_not_be_null)",
    }
    assert loaded.issues.set_index("line").loc[5, "column"] == "billing_frequency"
    assert loaded.frame["sku"].tolist() == ["M365-BP"]
    report = loaded.report
    assert (report.rows_in, report.rows_used, report.rows_quarantined) == (5, 1, 4)
    assert report.balanced and not report.refused
    price = outcome(report, "unit_price >= 0")
    assert (price.expectation, price.success, price.failed, price.checked) == (
        "expect_column_values_to_be_between",
        False,
        1,
        5,
    )
    end_date = outcome(report, "end_date a date where given")
    assert (end_date.failed, end_date.checked) == (1, 2)  # judged only where the file gave an end date
    assert outcome(report, "required columns present").success
    assert outcome(report, "unit_price is money").observed == "int64"


def test_report_lists_every_expectation_of_the_suite_once() -> None:
    text = "client,sku,quantity,period_start\nAcme,X,3,2026-01-05\n"
    report = load_file(text.encode(), "usage.csv", "usage").report
    assert report.failed == ()
    rules = [item.rule for item in report.expectations]
    assert len(rules) == len(set(rules))
    assert {
        "required columns present",
        "client present and text",
        "quantity is a number",
        "period_start within 2000-01-01..2100-12-31",
    } <= set(rules)
    assert "unit_cost >= 0" not in rules  # the file gave no unit cost: nothing to judge
    assert "quantity >= 0" not in rules  # a vendor's credit is negative by nature (PRODUCT.md 4a)
    frame = report.expectations_frame()
    assert list(frame.columns) == [
        "expectation",
        "column",
        "rule",
        "success",
        "checked",
        "failed",
        "observed",
    ]
    assert json.loads(json.dumps(report.to_dict()))["rows_in"] == 1


def test_unique_time_entry_ids_and_invoice_line_ids() -> None:
    time = (
        "date,client,hours,billable,entry_id\n2026-03-01,Acme,1,Billable,TE-1\n2026-03-02,Acme,2,Billable,TE-2\n"
        "2026-03-02,Acme,2,Billable,TE-2\n2026-03-03,Acme,1,Billable,\n2026-03-03,Acme,1,Billable,\n"
    )
    loaded = load_file(time.encode(), "time_entries.csv", "time_entries")
    assert reasons(loaded) == {
        3: "entry_id: 'TE-2' appears more than once in this file (expect_column_values_to_be_unique)",
        4: "entry_id: 'TE-2' appears more than once in this file (expect_column_values_to_be_unique)",
    }  # rows without an id are not judged
    invoices = (
        "invoice_number,invoice_date,client,sku,quantity,unit_price,line_id\n"
        "INV-1,2026-03-01,Acme,X,1,10,1\nINV-1,2026-03-01,Acme,X,1,10,2\nINV-2,2026-03-01,Acme,X,1,10,1\n"
        "INV-1,2026-03-01,Acme,X,1,10,1\n"
    )
    loaded = load_file(invoices.encode(), "invoices.csv", "invoices")
    assert sorted(reasons(loaded)) == [2, 5]
    assert "'INV-1' / '1' appears more than once" in loaded.issues["reason"].iloc[0]


def test_equal_invoice_lines_without_line_ids_are_kept_for_the_duplicate_rule() -> None:
    text = (
        "invoice_number,invoice_date,client,sku,quantity,unit_price\n"
        "INV-1,2026-03-01,Acme,X,1,10\nINV-1,2026-03-01,Acme,X,1,10\n"
    )
    loaded = load_file(text.encode(), "invoices.csv", "invoices")
    assert len(loaded.frame) == 2 and loaded.issues.empty


def test_suites_cover_every_source() -> None:
    for kind in ("contracts", "usage", "invoices", "time_entries", "payments", "catalog", "client_aliases"):
        checks = suite_checks(kind, empty_source(kind), {})
        assert checks[0].rule == "required columns present", kind
    assert {"USD", "EUR", "GBP", "CAD", "AUD", "NZD", "CHF", "JPY"} <= ISO_4217
    assert "XXX" not in ISO_4217


GX_RUN = """
import socket, sys
attempts = []
def refuse(self, address, *args, **kwargs):
    attempts.append(address)
    raise OSError("network blocked by the test")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
sys.path.insert(0, {repo!r})
from recon.ingest.files import load_file
text = "client,sku,quantity,period_start\\nAcme,X,3,2026-01-05\\nBeta,Y,1,someday\\n"
loaded = load_file(text.encode(), "usage.csv", "usage")
import os
assert os.environ["GX_ANALYTICS_ENABLED"] == "False"
assert loaded.record.rows_quarantined == 1, loaded.issues
print("attempts", attempts)
"""


def _tree(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


def test_gx_runs_in_memory_writes_no_file_and_opens_no_connection(tmp_path: Path) -> None:
    work, home, temp = tmp_path / "work", tmp_path / "home", tmp_path / "tmp"
    for folder in (work, home, temp):
        folder.mkdir()
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(temp), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("GX_ANALYTICS_ENABLED", None)
    before = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    done = subprocess.run(
        [sys.executable, "-c", GX_RUN.format(repo=str(REPO))],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "attempts []" in done.stdout
    assert "Calculating Metrics" not in done.stderr  # no progress bars either
    assert _tree(work) == [] and _tree(home) == [] and _tree(temp) == []
    after = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert after == before


def test_validation_does_not_mutate_the_frame_it_checks() -> None:
    from recon.ingest import quality

    frame = pd.DataFrame(
        {"alias": pd.Series(["A", "A"], dtype="string"), "client": pd.Series(["X", "Y"], dtype="string")}
    )
    cells = {"alias": pd.Series(["A", "A"], dtype="string"), "client": pd.Series(["X", "Y"], dtype="string")}
    before = frame.copy()
    validation = quality.validate("client_aliases", frame, cells)
    pd.testing.assert_frame_equal(frame, before)
    assert validation.reasons.ne("").all()


def test_an_empty_file_validates_to_an_empty_balanced_report() -> None:
    loaded = load_file(b"client,sku,quantity,period_start\n\n\n", "usage.csv", "usage")
    assert loaded.report.rows_in == 0 and loaded.report.blank_rows == 2 and loaded.report.balanced


def test_importing_recon_does_not_import_great_expectations() -> None:
    # GX takes seconds to import: only a validation pays for it, not `recon runs` or a dashboard page.
    code = "import sys, recon, recon.cli; print('great_expectations' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


SAMPLE_RUN_MODULES = """
import sys
sys.path.insert(0, {repo!r})
sys.argv = ["recon", "run", "--data", {data!r}, "--out", {out!r}, "--no-store"]
from recon.cli import app
try:
    app()
except SystemExit as ended:
    assert not ended.code, ended.code
print("gx imported by the run", "great_expectations" in sys.modules)  # (its worker process did)
from recon.ingest import quality
quality._gx()  # as the dashboard's server imports it (pyspark, if installed, hidden from it)
print("imported", sorted(name for name in ("scipy.stats", "altair") if name in sys.modules))
from great_expectations.expectations.core import expect_column_kl_divergence_to_be_less_than as kl
print("kl", round(float(kl.stats.entropy([0.5, 0.5], [0.25, 0.75])), 6), kl.alt.Chart.__name__)
import scipy.stats
print("real", type(scipy.stats).__name__, scipy.stats is sys.modules["scipy.stats"], scipy.stats.norm.cdf(0))
"""


def test_a_sample_run_leaves_scipy_stats_and_altair_unimported_yet_gx_can_use_them(tmp_path: Path) -> None:
    # GX imports scipy.stats and altair (about a second of its import) for expectations no suite uses:
    # they are imported when first used, and whoever imports them later gets the real modules.
    code = SAMPLE_RUN_MODULES.format(repo=str(REPO), data=str(REPO / "sample_data"), out=str(tmp_path / "out"))
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "gx imported by the run False" in lines
    assert "imported []" in lines
    assert "kl 0.143841 Chart" in lines
    assert "real module True 0.5" in lines
    assert (tmp_path / "out" / "discrepancies.csv").exists()



STAND_INS = """
import importlib.util, sys
sys.path.insert(0, {repo!r})
from recon.ingest import quality
with quality._deferred("altair", "scipy.stats", "no_such_module_here"):
    import altair
    stand_in = altair
    assert type(altair).__name__ == "_Deferred" and "no_such_module_here" not in sys.modules
    assert importlib.util.find_spec("altair") is not None  # another thread looking it up meanwhile
    import scipy.stats.distributions  # a submodule: its package is imported for real first
    assert scipy.stats.distributions.norm.cdf(0) == 0.5
    print("chart", altair.Chart.__name__)
print("after", sorted(name for name in ("altair", "scipy.stats") if type(sys.modules.get(name)).__name__ == "module"))
print("forwarded", stand_in.Chart is sys.modules["altair"].Chart)
"""


def test_stand_ins_give_the_real_module_to_whoever_uses_them_during_and_after_gx_import(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", STAND_INS.format(repo=str(REPO))], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["chart Chart", "after ['altair', 'scipy.stats']", "forwarded True"]

def test_each_expectation_configuration_is_built_once_per_object_not_on_every_read(monkeypatch) -> None:
    # GX 1.x builds an expectation's configuration afresh on every read (about 100 reads per expectation
    # per run, a third of a suite's time); while recon runs a suite each object's is built once.
    from recon.ingest import quality

    gx_expectation = quality._gx().expectations.Expectation
    original = gx_expectation.__dict__["configuration"]
    builds: list[str] = []

    def counted(self):
        builds.append(type(self).__name__)
        return original.fget(self)

    monkeypatch.setattr(gx_expectation, "configuration", property(counted))
    text = "client,sku,unit_price,quantity,start_date,end_date,currency\nAcme,EDR,-6.50,30,2026-01-01,,usd\n"
    loaded = load_file(text.encode(), "contracts.csv", "contracts")
    assert loaded.record.rows_quarantined == 1
    expectations = len(loaded.report.expectations)
    assert expectations > 10 and len(builds) <= 15 * expectations, (len(builds), expectations)  # 100 before
    assert gx_expectation.__dict__["configuration"].fget is counted  # the class is as it was
    assert "__setattr__" not in gx_expectation.__dict__


def test_an_expectation_changed_while_its_configuration_is_kept_gets_it_built_again() -> None:
    from recon.ingest import quality

    gx = quality._gx()
    expectation = gx.expectations.ExpectColumnValuesToBeBetween(column="quantity", min_value=0)
    with quality._configurations_built_once(gx.expectations.Expectation):
        first = expectation.configuration
        assert expectation.configuration is first
        expectation.min_value = 5
        assert expectation.configuration.kwargs["min_value"] == 5
    assert expectation.configuration is not expectation.configuration  # built on every read again


def test_optional_values_are_judged_where_given_without_gx_row_conditions(monkeypatch) -> None:
    # GX filters the frame with pandas.query for every metric of an expectation with a row condition (a
    # fifth of a suite's time): an optional value's presence is judged on its given-column instead,
    # which holds the value where the file gave one. Verdicts and rows checked are as before.
    from recon.ingest import quality

    handed: list[pd.DataFrame] = []
    real_run = quality._run_locked

    def run(gx, kind, frame, checks):
        assert all("row_condition" not in check.expectation.kwargs for check in checks)
        handed.append(frame)
        return real_run(gx, kind, frame, checks)

    monkeypatch.setattr(quality, "_run_locked", run)
    text = ("client,sku,quantity,period_start,period_end,unit_cost\n"
            "Acme,X,3,2026-01-05,,1.50\n"  # no period end given: not judged
            "Beta,Y,1,2026-01-01,someday,\n"  # an unreadable period end: quarantined
            "Core,Z,2,2026-01-01,2026-01-31,abc\n")  # an unreadable cost: quarantined
    loaded = load_file(text.encode(), "usage.csv", "usage")
    assert reasons(loaded) == {
        3: "period_end: cannot read date 'someday' (expect_column_values_to_not_be_null)",
        4: "unit_cost: cannot read money 'abc' (expect_column_values_to_not_be_null)",
    }
    ends = outcome(loaded.report, "period_end a date where given")
    assert (ends.expectation, ends.checked, ends.failed, ends.success) == (
        "expect_column_values_to_not_be_null", 2, 1, False)
    (frame,) = handed
    assert frame["given_period_end"].isna().tolist() == [False, True, False]


# ------------------------------------------------- GX judging one row of each look, not every row

def _judged_both_ways(monkeypatch, compared: list[tuple[str, int, int]]) -> None:
    """Have every validation run twice, GX judging every row and GX judging one row of each look (as
    large files are), and fail unless reasons and outcomes are identical."""
    from recon.ingest import quality

    real = quality.validate

    def both(kind, frame, cells, **_):
        every_row = real(kind, frame, cells, representatives=0)
        looks = real(kind, frame, cells, representatives=float("inf"))
        pd.testing.assert_series_equal(looks.reasons, every_row.reasons)
        assert looks.outcomes == every_row.outcomes
        compared.append((kind, len(frame), int(every_row.reasons.ne("").sum())))
        return every_row

    monkeypatch.setattr(quality, "validate", both)


def test_one_row_of_each_look_gets_every_row_the_verdict_of_all_rows_on_real_exports(monkeypatch) -> None:
    from recon.ingest.directory import load_directory

    compared: list[tuple[str, int, int]] = []
    _judged_both_ways(monkeypatch, compared)
    for directory in (REPO / "sample_data", REPO / "tests/fixtures/real_exports/exports"):
        load_directory(directory)
    kinds = {kind for kind, _, _ in compared}
    assert {"contracts", "usage", "invoices", "time_entries", "payments"} <= kinds
    assert sum(failed for _, _, failed in compared) > 0  # the planted bad rows were judged both ways


_POOLS = {
    "invoice_number": ["INV-1", "INV-2", "INV-3", ""],
    "line_id": ["1", "2", ""],
    "invoice_date": ["2026-01-31", "2026-02-28", "1999-12-01", "someday", ""],
    "due_date": ["2026-02-28", "2026-01-01", ""],
    "client": ["Acme", "Birch Dental", ""],
    "sku": ["M365-BP", "EDR"],
    "quantity": ["1", "2.5", "-3", "x", ""],
    "unit_price": ["10.00", "-1", "$1,234.50", ""],
    "currency": ["USD", "usd", "XYZ", ""],
    "period_start": ["2026-01-01", "2026-02-01", ""],
    "period_end": ["2026-01-31", "2025-12-31", ""],
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries({name: st.sampled_from(pool) for name, pool in _POOLS.items()}),
                min_size=2, max_size=60))
def test_one_row_of_each_look_gets_every_row_the_verdict_of_all_rows(rows) -> None:
    compared: list[tuple[str, int, int]] = []
    with pytest.MonkeyPatch.context() as patch:
        _judged_both_ways(patch, compared)
        frame = pd.DataFrame(rows, columns=list(_POOLS))
        load_file(frame.to_csv(index=False).encode(), "invoices.csv", "invoices")
    assert compared and compared[0][1] == len(rows)


def test_each_look_has_its_first_row_picked_whatever_the_numbering() -> None:
    from recon.ingest.quality import _first_of_each

    assert _first_of_each(np.array([0, 0, 1, 0, 2, 1])).tolist() == [0, 2, 4]
    assert _first_of_each(np.array([2, 0, 2, 1, 0])).tolist() == [0, 1, 3]  # not in order of appearance
    assert _first_of_each(np.array([1, 1, 3])).tolist() == [0, 2]  # gaps
    many = np.array([*range(20), 5, 19])
    for codes in (many, many[::-1]):  # numbered in order of appearance, and not
        first = {}
        for row, code in enumerate(codes.tolist()):
            first.setdefault(code, row)
        assert _first_of_each(codes).tolist() == sorted(first.values())


# ------------------------------------------------- files of one kind sharing one run of their suite

_USAGE_POOLS = {
    "client": ["Acme", "Birch Dental", "", "client"],
    "sku": ["M365-BP", "EDR", ""],
    "quantity": ["1", "2.5", "-3", "x", ""],
    "period_start": ["2026-01-01", "2026-02-01", "1999-12-01", "soon", ""],
    "period_end": ["2026-01-31", "2025-12-31", ""],
    "unit_cost": ["2.00", "-1", "$1,234.50", "n/a", ""],
}


def _assert_loaded_as_apart(directory: Path) -> list[str]:
    """Every file ``inspect_directory`` loads equals the same bytes loaded alone (``load_file``, which
    validates the file by itself): rows, quarantined rows with their reasons, record and report.
    Returns the kinds of the suite runs the directory made."""
    from recon.ingest import quality
    from recon.ingest.directory import inspect_directory

    runs: list[str] = []
    real_run = quality._run

    def counted(kind, frame, checks):
        runs.append(kind)
        return real_run(kind, frame, checks)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(quality, "_run", counted)
        inspection = inspect_directory(directory)
    for item in inspection.loaded:
        alone = load_file((directory / item.record.file).read_bytes(), item.record.file, item.record.source)
        pd.testing.assert_frame_equal(item.frame, alone.frame)
        pd.testing.assert_frame_equal(item.issues, alone.issues)
        assert item.record == alone.record
        assert item.report == alone.report
    return runs


def test_usage_files_share_one_run_of_the_suite_and_report_as_if_validated_apart(tmp_path: Path) -> None:
    header = "client,sku,quantity,period_start,period_end,unit_cost\n"
    (tmp_path / "contracts.csv").write_text("client,sku,unit_price,start_date\nAcme,M365-BP,10.00,2026-01-01\n")
    (tmp_path / "invoices.csv").write_text("invoice_number,invoice_date,client,sku,quantity,unit_price\n"
                                           "INV-1,2026-01-31,Acme,M365-BP,3,10.00\n")
    (tmp_path / "usage_a.csv").write_text(header + "Acme,M365-BP,3,2026-01-01,2026-01-31,2.00\n"
                                          "Acme,M365-BP,-3,2026-01-01,2026-01-31,2.00\n\n"  # negative; blank
                                          + header  # a repeated header row
                                          + "Acme,EDR,2,soon,2026-01-31,2.00\n")  # an unreadable date
    (tmp_path / "usage_b.csv").write_text(header + "Birch Dental,EDR,1,2026-02-01,2026-01-31,x\n"  # end first
                                          "Birch Dental,EDR,1,2026-02-01,2026-02-28,\n")
    (tmp_path / "usage_c.csv").write_text(header + "Acme,M365-BP,1,2026-01-01,2026-01-31,2.00\n")
    (tmp_path / "usage_d.csv").write_text("client,sku,quantity,period_start,vendor\n"  # other fields given
                                          "Acme,M365-BP,1,2026-01-01,Pax8\n,M365-BP,1,2026-01-01,Pax8\n")
    (tmp_path / "usage_e.csv").write_text("client,quantity\nAcme,1\n")  # refused: columns missing

    runs = _assert_loaded_as_apart(tmp_path)
    assert runs.count("usage") == 2  # usage_a, _b and _c in one run, usage_d (other fields) in its own
    assert sorted(runs) == ["contracts", "invoices", "usage", "usage"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.fixed_dictionaries({name: st.sampled_from(pool) for name, pool in _USAGE_POOLS.items()}),
                         min_size=1, max_size=25), min_size=2, max_size=3))
def test_usage_files_validated_together_get_the_verdicts_each_gets_alone(files) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "contracts.csv").write_text("client,sku,unit_price,start_date\nAcme,EDR,1,2026-01-01\n")
        (root / "invoices.csv").write_text("invoice_number,invoice_date,client,sku,quantity,unit_price\n"
                                           "INV-1,2026-01-31,Acme,EDR,1,1\n")
        for number, rows in enumerate(files):
            pd.DataFrame(rows, columns=list(_USAGE_POOLS)).to_csv(root / f"usage_{number}.csv", index=False)
        runs = _assert_loaded_as_apart(root)
    assert runs.count("usage") == 1
