"""The store on SQLite and PostgreSQL alike: runs, resolutions carried across re-runs, comparison,
mappings, settings, duplicate imports, exact money, and the audit pack read back with openpyxl.

Crash, concurrency and migration tests are in ``test_store_reliability.py``.
"""

from __future__ import annotations

import dataclasses
import io
import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from recon.company import Company
from recon.engine import Reconciliation, reconcile
from recon.errors import ReconError, StoreError
from recon.exports import audit
from recon.identity import without_rejected
from recon.money import from_decimal
from recon.settings import Settings
from recon.sources import ImportRecord
from recon.store import RUN_LIST_COLUMNS, Store
from recon.store.fixes import FixLedger
from tests.recon.exports.logo import png_logo
from tests.recon.store.cases import after_fixes, before_fixes, fingerprint_of, scenario
from tests.scenarios import FIXTURES, parse_scenario, scenario_names, scenario_sources

TEXT_COLUMNS = ("period", "client", "sku", "type", "direction", "price_source", "detail", "fingerprint")


def as_stored(found: pd.DataFrame) -> pd.DataFrame:
    """The engine's frame with its text columns as ``string`` (what the store returns for text)."""
    return found.astype(dict.fromkeys(TEXT_COLUMNS, "string"))


# --------------------------------------------------------------------------------------------- runs

def test_a_run_reopens_exactly_as_it_was_saved(store: Store) -> None:
    result = before_fixes()
    run_id = store.save_run(result, by="ann", label="first close")
    stored = store.load_run(run_id)
    pd.testing.assert_frame_equal(stored.discrepancies.drop(columns="status"), as_stored(result.discrepancies))
    assert list(stored.discrepancies["status"]) == ["open"] * 3
    assert stored.summary == json.loads(json.dumps(result.to_dict(), default=str))
    assert stored.settings == result.settings
    assert stored.periods == ("2026-01",)
    assert (stored.by, stored.label, stored.engine_version) == ("ann", "first close", "0.1.0")
    assert list(stored.imports["file"]) == ["catalog.csv", "contracts.csv", "usage.csv", "invoices.csv"]
    assert list(stored.imports["sha256"]) == [record.sha256 for record in result.imports]
    assert list(stored.imports["rows_loaded"]) == [record.rows_loaded for record in result.imports]


def test_every_discrepancy_type_round_trips(store: Store) -> None:
    for name in scenario_names():
        result = scenario(name)
        stored = store.load_run(store.save_run(result, label=name))
        pd.testing.assert_frame_equal(stored.discrepancies.drop(columns="status"),
                                      as_stored(result.discrepancies), obj=name)


def test_runs_are_listed_newest_first_with_totals(store: Store) -> None:
    assert store.latest_run_id() is None
    assert list(store.list_runs().columns) == [*RUN_LIST_COLUMNS, "informational"]
    first = store.save_run(before_fixes(), by="ann")
    second = store.save_run(after_fixes(), by="bob", label="after fixes")
    listed = store.list_runs()
    assert list(listed["id"]) == [second, first] and store.latest_run_id() == second
    newest = listed.iloc[0]
    assert (newest["by"], newest["label"], newest["periods"]) == ("bob", "after fixes", "2026-01")
    assert newest["leakage"] == from_decimal("322.00") and newest["overcharge"] == from_decimal("450.00")
    assert newest["discrepancies"] == 3 and newest["informational"] == 0  # (of them, informational)
    assert str(listed["leakage"].dtype) == "Int64" and str(listed["created_at"].dtype).endswith("UTC]")
    assert store.previous_run_id(second) == first and store.previous_run_id(first) is None


def test_unknown_run_is_a_clear_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no stored run with id 42"):
        store.load_run(42)


# -------------------------------------------------------------------------------------- resolutions

def test_resolution_carries_over_to_a_rerun_of_the_same_period(store: Store) -> None:
    first = before_fixes()
    store.save_run(first)
    helpdesk = fingerprint_of(first, "missed_recurring_charge")
    store.resolve([helpdesk], "disputed", note="client says cancelled", by="ann")
    store.resolve([helpdesk], "billed", note="INV-1003 raised", by="bob")
    rerun = store.load_run(store.save_run(after_fixes()))
    status = rerun.discrepancies.set_index("type")["status"]
    assert status["missed_recurring_charge"] == "billed"
    assert status["duplicate_charge"] == "open" and status["quantity_under_billed"] == "open"
    latest = store.resolutions()
    assert list(latest.columns) == ["fingerprint", "status", "note", "by", "at"]
    assert latest.set_index("fingerprint").loc[helpdesk, ["status", "note", "by"]].tolist() == [
        "billed", "INV-1003 raised", "bob"]
    events = store.history(helpdesk)
    assert list(events["status"]) == ["disputed", "billed"] and list(events["by"]) == ["ann", "bob"]
    assert events["at"].is_monotonic_increasing


def test_resolve_refuses_unknown_status_and_fingerprints(store: Store) -> None:
    result = before_fixes()
    store.save_run(result)
    known = fingerprint_of(result, "price_below_contract")
    with pytest.raises(StoreError, match="unknown status 'paid'; use one of open, billed"):
        store.resolve([known], "paid")
    with pytest.raises(StoreError, match=r"fingerprint\(s\) feedfacefeedface"):
        store.resolve([known, "feedfacefeedface"], "credited")
    with pytest.raises(ReconError, match="at least one fingerprint"):
        store.resolve([], "credited")
    assert store.history().empty


def test_resolving_many_at_once_and_reopening(store: Store) -> None:
    result = before_fixes()
    store.save_run(result)
    everything = list(result.discrepancies["fingerprint"])
    store.resolve(everything, "accepted", note="below threshold", by="ann")
    store.resolve(everything[:1], "open", note="reopened", by="bob")
    status = store.load_run(store.latest_run_id() or 0).discrepancies["status"]
    assert list(status) == ["open", "accepted", "accepted"]
    assert len(store.history()) == 4


# --------------------------------------------------------------------------------------- comparison

def test_comparison_shows_new_cleared_and_changed(store: Store) -> None:
    before, after = before_fixes(), after_fixes()
    old_id, new_id = store.save_run(before), store.save_run(after)
    comparison = store.compare_runs(old_id, new_id)
    assert list(comparison.new["type"]) == ["duplicate_charge"]
    assert list(comparison.cleared["type"]) == ["price_below_contract"]
    assert list(comparison.changed["type"]) == ["quantity_under_billed"]
    changed = comparison.changed.iloc[0]
    assert (changed["old_variance"], changed["new_variance"]) == (from_decimal("-66"), from_decimal("-22"))
    assert changed["variance_delta"] == from_decimal("44") and changed["variance"] == changed["new_variance"]
    assert list(comparison.unchanged["type"]) == ["missed_recurring_charge"]
    assert comparison.leakage_delta == from_decimal("322.00") - from_decimal("416.00")
    assert comparison.overcharge_delta == from_decimal("450.00")


def test_a_period_the_new_run_did_not_cover_is_not_cleared(store: Store) -> None:
    january = store.save_run(before_fixes())
    empty_february = dataclasses.replace(after_fixes(), periods=("2026-02",),
                                         discrepancies=after_fixes().discrepancies.iloc[0:0])
    comparison = store.compare_runs(january, store.save_run(empty_february))
    assert comparison.cleared.empty and comparison.new.empty


def test_the_leakage_change_of_runs_over_other_months_counts_the_newer_runs_months(store: Store) -> None:
    """Found on the Runs page comparing the sample's twelve months with one month of other files: "Cleared
    3" beside "Leakage change +$5,907.13, less leakage", the whole year's leakage gone, though only March
    was looked at again. The change covers the months the new run covers, as the cleared findings do."""
    january = store.save_run(before_fixes())
    empty_february = dataclasses.replace(after_fixes(), periods=("2026-02",),
                                         discrepancies=after_fixes().discrepancies.iloc[0:0])
    comparison = store.compare_runs(january, store.save_run(empty_february))
    assert (comparison.leakage_delta, comparison.overcharge_delta) == (0, 0)
    assert comparison.periods_compared == ("2026-02",)


# ----------------------------------------------------------------------------------------- imports

def test_the_same_file_imported_twice_is_detected(store: Store) -> None:
    records = before_fixes().imports
    ids = store.record_imports(records)
    assert store.record_imports(records) == ids
    again = store.record_import(records[1])
    assert again.duplicate and again.id == ids[1]
    found = store.find_import(records[1].sha256)
    assert found is not None and found["file"] == "contracts.csv" and found["rows_loaded"] == 3
    assert store.find_import("0" * 64) is None
    renamed = ImportRecord("contracts", "contracts (1).csv", records[1].sha256, 3, 3, 0)
    assert store.record_import(renamed).duplicate


def test_runs_of_the_same_files_share_their_imports(store: Store) -> None:
    first = store.load_run(store.save_run(before_fixes()))
    second = store.load_run(store.save_run(before_fixes()))
    assert list(first.imports["import_id"]) == list(second.imports["import_id"])
    changed = store.load_run(store.save_run(after_fixes()))
    invoices = changed.imports.set_index("file").loc["invoices.csv"]
    assert invoices["import_id"] not in set(first.imports["import_id"])


def test_files_without_a_hash_are_kept_apart(store: Store) -> None:
    unhashed = ImportRecord("usage", "pulled-from-api", "", 5, 5, 0)
    assert len(set(store.record_imports([unhashed, unhashed]))) == 2


# ------------------------------------------------------------------------------------------- money

EXTREMES = [999_999_999_999_999_999, -999_999_999_999_999_999, 1, -1, 0, 123_456_789_012_345_678, 5_000]


def test_money_round_trips_exactly(store: Store) -> None:
    """NUMERIC(18, 4) holds every value to the last 1/10,000, the largest included (a float would not)."""
    result = before_fixes()
    found = result.discrepancies
    rows = found.loc[found.index.repeat(3)].head(len(EXTREMES)).reset_index(drop=True)
    extreme = rows.assign(variance=pd.array(EXTREMES, dtype="Int64"),
                          expected_amount=pd.array(EXTREMES[::-1], dtype="Int64"),
                          billed_unit_price=pd.array([None, *EXTREMES[1:]], dtype="Int64"))
    stored = store.load_run(store.save_run(dataclasses.replace(result, discrepancies=extreme)))
    for column in ("variance", "expected_amount", "billed_unit_price"):
        assert stored.discrepancies[column].tolist() == extreme[column].tolist(), column
        assert str(stored.discrepancies[column].dtype) == "Int64"


def test_totals_are_exact_sums_from_the_engine(store: Store) -> None:
    result = after_fixes()
    store.save_run(result)
    listed = store.list_runs()
    overall = result.metrics.overall
    assert listed.loc[0, "billed"] == overall.billed_revenue
    assert listed.loc[0, "expected"] == overall.expected_revenue


# ---------------------------------------------------------------------------------------- mappings

def test_confirmed_mappings_feed_the_engine(store: Store) -> None:
    store.save_client_alias("ACME Corporation", "Wrong Client", by="ann")
    store.save_client_alias("ACME Corporation", "Acme Corp", by="bob")
    store.save_client_alias("acme.onmicrosoft.com", "Acme Corp")
    store.save_sku_mapping("CFQ7TTC0LCHC", "M365-BP")
    store.save_sku_mapping("OLD-SKU", "M365-BP")
    store.remove_sku_mapping("OLD-SKU", by="bob")
    mappings = store.mappings()
    aliases = dict(zip(mappings.client_aliases["alias"], mappings.client_aliases["client"], strict=True))
    assert aliases == {"ACME Corporation": "Acme Corp", "acme.onmicrosoft.com": "Acme Corp"}
    assert mappings.sku_map.to_dict(orient="records") == [{"vendor_sku": "CFQ7TTC0LCHC", "sku": "M365-BP"}]
    sections = parse_scenario((FIXTURES / "store" / "month_one.txt").read_text())
    sections["usage"] = sections["usage"].replace("ACME Corporation", "acme.onmicrosoft.com")
    result = reconcile(scenario_sources(sections), mappings=mappings)
    assert result.unmapped.empty
    assert set(result.client_matches.set_index("name").loc[["acme.onmicrosoft.com"], "match_tier"]) == {"alias"}


def test_mapping_inputs_must_not_be_empty(store: Store) -> None:
    with pytest.raises(StoreError, match="client must not be empty"):
        store.save_client_alias("ACME", "  ")


def test_rejected_suggestions_are_not_offered_again(store: Store) -> None:
    store.reject_suggestion("Acme Holdings", "Acme Corp", by="ann")
    store.reject_suggestion("Acme Holdings", "Acme Corp", by="bob")
    rejected = store.rejected_suggestions()
    assert rejected[["name", "client", "by"]].to_numpy().tolist() == [["Acme Holdings", "Acme Corp", "ann"]]
    unmapped = pd.DataFrame({"client_raw": ["acme holdings ", "Acme Holdings", "Beta"],
                             "suggestion": ["Acme Corp", "Other", "Beta LLC"],
                             "suggestion_score": [91.0, 80.0, 88.0]})
    queue = without_rejected(unmapped, store.rejected_suggestions())
    assert queue["suggestion"].tolist()[1:] == ["Other", "Beta LLC"] and pd.isna(queue["suggestion"][0])
    assert pd.isna(queue["suggestion_score"][0]) and unmapped["suggestion"][0] == "Acme Corp"


# -------------------------------------------------------------------------------- settings, profiles

def test_settings_default_then_latest_saved(store: Store) -> None:
    assert store.load_settings() == Settings()
    store.save_settings(Settings(quantity_tolerance=Decimal("0.5"), currency="EUR"))
    chosen = Settings(default_hourly_rate=Decimal("175.25"), currency="GBP", fuzzy_suggest_min=82.5)
    store.save_settings(chosen)
    assert store.load_settings() == chosen


def test_the_letterhead_is_kept_apart_from_the_run_settings(store: Store) -> None:
    """Issue 22 item 5: the MSP's name, address and logo saved on Settings come back whole, and saving
    them neither changes the run settings nor is read as settings."""
    assert store.company() == Company()
    chosen = Settings(currency="EUR")
    store.save_settings(chosen)
    logo = png_logo()
    company = Company(name="Northwind IT Services", address="12 Harbour Road\nBristol BS1 4QA", logo=logo)
    store.save_company(company, by="ann")
    assert store.load_settings() == chosen
    assert store.company() == company and store.company().address_lines == ("12 Harbour Road", "Bristol BS1 4QA")
    later = Settings(currency="GBP")
    store.save_settings(later)
    store.save_company(dataclasses.replace(company, logo=None))
    assert store.load_settings() == later and store.company().logo is None


def test_a_logo_that_is_not_a_png_or_jpeg_is_refused_with_its_reason() -> None:
    with pytest.raises(ReconError, match="not a PNG or JPEG"):
        Company(name="x", logo=b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    with pytest.raises(ReconError, match="at most 1,000,000"):
        Company(name="x", logo=b"\x89PNG" + b"0" * 1_000_000)


def test_profiles_keep_the_latest_text_per_name(store: Store) -> None:
    assert store.profiles() == {}
    store.save_profile("pax8", "[columns]\nclient = 'companyName'\n")
    store.save_profile("connectwise", "[columns]\nclient = 'Company'\n")
    store.save_profile("pax8", "[columns]\nclient = 'companyName'\nsku = 'sku'\n")
    assert store.profiles() == {"connectwise": "[columns]\nclient = 'Company'\n",
                                "pax8": "[columns]\nclient = 'companyName'\nsku = 'sku'\n"}


# ----------------------------------------------------------------------------------------- audit

def test_audit_pack_reads_back_with_openpyxl(store: Store, tmp_path: Path) -> None:
    result = _with_hostile_client(before_fixes())
    run_id = store.save_run(result, by="ann")
    helpdesk = fingerprint_of(result, "missed_recurring_charge")
    store.resolve([helpdesk], "disputed", note="client says cancelled", by="ann")
    store.resolve([helpdesk], "billed", note="INV-1003", by="bob")
    path = audit.export_audit_pack(store, run_id, tmp_path / "packs" / "audit.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["summary", "discrepancies", "history", "inputs", "settings", "fixes", "fix_history"]
    summary = {row[2]: row[1] for row in book["summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["run"] == run_id and summary["by"] == "ann"
    assert Decimal(str(summary["leakage"])) == Decimal(result.metrics.overall.to_dict()["leakage"])
    items = [row[0] for row in book["summary"].iter_rows(min_row=2, values_only=True)]
    assert "Leakage (under-billed)" in items and "Created (UTC)" in items and "Aging 1-30 days" in items
    assert not [item for item in items if "_" in item]  # words, never snake_case (issue 22 item 6)
    found = _sheet_frame(book["discrepancies"])
    helpdesk_row = found.set_index("fingerprint").loc[helpdesk]
    assert helpdesk_row["status"] == "billed" and helpdesk_row["resolved_by"] == "bob"
    assert "disputed by ann: client says cancelled" in helpdesk_row["resolution_history"]
    assert "billed by bob: INV-1003" in helpdesk_row["resolution_history"]
    assert helpdesk_row["variance"] == -300
    assert _sheet_frame(book["history"])["status"].tolist() == ["disputed", "billed"]
    proposed = _sheet_frame(book["fixes"])
    assert set(proposed["status"]) == {"proposed"} and len(proposed) == len(FixLedger(store).fixes(run_id))
    assert Decimal(str(proposed.loc[proposed["kind"].eq("charge"), "amount"].iloc[0])) > 0  # money as numbers
    trail = _sheet_frame(book["fix_history"])  # nobody did anything with them yet: only the proposals
    assert set(trail["event"]) == {"proposed"} and set(trail["by"]) == {f"recon (run {run_id}, ann)"}
    assert len(trail) == len(proposed)
    widths = {cell.value: book["discrepancies"].column_dimensions[cell.column_letter].width
              for cell in book["discrepancies"][1]}
    assert widths["client"] >= found["client"].str.len().max()  # a client's name shows whole
    assert widths["fingerprint"] >= found["fingerprint"].str.len().max()
    assert max(widths.values()) < 61  # a long note wraps at 60 characters (plus Excel's padding)
    inputs = _sheet_frame(book["inputs"])
    assert inputs["sha256"].tolist() == [record.sha256 for record in result.imports]
    settings = _sheet_frame(book["settings"])
    assert settings.set_index("setting").loc["currency", "value"] == "USD"
    hostile = book["discrepancies"]["B2"]
    assert hostile.value == "'=HYPERLINK(\"http://x\")" and hostile.data_type == "s"  # text, neutralised


def _with_hostile_client(result: Reconciliation) -> Reconciliation:
    """A client name that Excel would run as a formula if it were written carelessly."""
    found = result.discrepancies.copy()
    found.loc[0, "client"] = "=HYPERLINK(\"http://x\")"
    return dataclasses.replace(result, discrepancies=found)


def _sheet_frame(sheet: openpyxl.worksheet.worksheet.Worksheet) -> pd.DataFrame:
    rows = list(sheet.iter_rows(values_only=True))
    return pd.DataFrame(rows[1:], columns=rows[0])


def test_audit_pack_of_an_unknown_run_fails_clearly(store: Store, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no stored run with id 7"):
        audit.export_audit_pack(store, 7, tmp_path / "audit.xlsx")
    assert not (tmp_path / "audit.xlsx").exists()


def test_audit_pack_as_bytes_for_a_download(store: Store) -> None:
    run_id = store.save_run(before_fixes())
    book = openpyxl.load_workbook(io.BytesIO(audit.audit_pack(store, run_id)))
    assert book.sheetnames == ["summary", "discrepancies", "history", "inputs", "settings", "fixes", "fix_history"]


def test_exposure_follows_todays_resolutions(store: Store) -> None:
    result = before_fixes()
    run_id = store.save_run(result)
    assert store.exposure(run_id) == {"recovered": 0, "open_exposure": from_decimal("416.00")}
    store.resolve([fingerprint_of(result, "missed_recurring_charge")], "credited")
    store.resolve([fingerprint_of(result, "quantity_under_billed")], "accepted")
    assert store.exposure(run_id) == {"recovered": from_decimal("300.00"), "open_exposure": from_decimal("116.00")}


@pytest.mark.parametrize("url", [
    "recon:S3cretPw@db/recon",  # no scheme
    "postgres ql://recon:S3cretPw@127.0.0.1/recon",  # a typo in the scheme
    "postgresql://recon:S3cretPw@db:notaport/recon",  # a port that is not a number
    "postgresql://recon:S3cretPw@[::1:1/recon",  # a broken IPv6 host
    "postgresql://recon@127.0.0.1:1/recon?password=S3cretPw",  # the password as a query parameter
    "postgresql://recon:S3cret@Pw@127.0.0.1:1/recon",  # an @ in the password, not percent-encoded
])
def test_a_malformed_database_url_never_shows_its_password(url: str) -> None:
    """Issue 23 item 8: the message names what is wrong, never the URL's password (nor a piece of it)."""
    with pytest.raises(StoreError) as error:
        Store(url)
    assert "S3cret" not in str(error.value) and "Pw" not in str(error.value), str(error.value)


# ------------------------------------------------------------------------------------ run identity

def test_a_run_is_found_again_by_its_key_not_its_label(store: Store) -> None:
    result = before_fixes()
    assert store.find_run("a" * 24) is None
    first = store.save_run(result, label="sample_data", key="a" * 24)
    store.save_run(result, label="sample_data", key="b" * 24)
    again = store.save_run(result, label="renamed by hand", key="a" * 24)
    assert store.find_run("a" * 24) == again and first < again  # the newest run of those inputs
    assert store.list_runs().set_index("id").loc[again, "label"] == "renamed by hand"  # no key in the label


def test_the_stamp_changes_when_a_run_is_stored_or_a_finding_resolved(store: Store) -> None:
    empty = store.stamp()
    run_id = store.save_run(before_fixes())
    stored = store.stamp()
    assert empty == (0, 0) and stored[0] == run_id
    store.mappings()  # reading changes nothing
    assert store.stamp() == stored
    fingerprint = str(store.load_run(run_id).discrepancies["fingerprint"].iloc[0])
    store.resolve([fingerprint], "billed", "INV-1", by="ann")
    assert store.stamp()[1] > stored[1] and store.stamp()[0] == run_id
