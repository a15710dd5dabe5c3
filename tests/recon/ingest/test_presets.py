"""Presets read the real exports (hand-made fixtures with the vendors' column names) into canonical rows."""

from pathlib import Path

import pandas as pd
import pytest

from recon.errors import SourceError
from recon.ingest.files import load_source
from recon.ingest.presets import PRESETS, detect_preset, months_covered
from recon.ingest.profile import SourceEntry
from recon.ingest.reading import read_table
from recon.money import from_decimal

PRESET_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "presets"


def load(preset: str, **entry: object):
    path = PRESET_DIR / f"{preset}.csv"
    source = SourceEntry(path=path.name, kind=PRESETS[preset].kind, preset=preset, **entry)  # type: ignore[arg-type]
    return load_source(path.read_bytes(), path.name, source)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_fixture_is_detected_as_its_preset(preset: str) -> None:
    header = read_table((PRESET_DIR / f"{preset}.csv").read_bytes(), f"{preset}.csv").columns
    detection = detect_preset(header)
    assert detection.preset == preset
    assert detection.confidence == 1.0
    assert PRESETS[preset].title in detection.reason


def test_detection_explains_a_header_no_preset_fits() -> None:
    detection = detect_preset(["Client", "Thing", "Amount"])
    assert detection.preset is None
    assert detection.reason.startswith("no preset fits: closest is")


def test_detection_needs_the_columns_of_required_fields() -> None:
    # Most Pax8 columns, but no companyName: the client would be missing, so it is not Pax8.
    header = [c for c in PRESETS["pax8-invoice-items"].known_columns if c != "companyName"]
    detection = detect_preset(header)
    assert detection.preset is None
    assert "missing companyName" in detection.reason


def test_microsoft_reads_billable_quantity_us_dates_product_id_and_monthly_cost() -> None:
    loaded = load("microsoft-nce-recon")
    frame = loaded.frame.set_index("source_line")
    full_month = frame.loc[2]
    assert full_month["client"] == "Contoso Dental Group"
    assert full_month["sku"] == "CFQ7TTC0LCHC"
    assert full_month["quantity"] == 18.0
    assert full_month["period_start"] == pd.Timestamp("2026-02-01")
    assert full_month["period_end"] == pd.Timestamp("2026-02-28")
    assert full_month["vendor"] == "Microsoft"
    assert full_month["unit_cost"] == from_decimal("19.80")
    # An annual-billed line covers twelve months: 43.20 for the year is 3.60 a month.
    assert frame.loc[6, "unit_cost"] == from_decimal("3.60")
    assert frame.loc[6, "period_end"] == pd.Timestamp("2026-12-31")


def test_microsoft_credit_lines_count_negative_and_are_quarantined_visibly() -> None:
    loaded = load("microsoft-nce-recon")
    issue = loaded.issues.set_index("line").loc[5]
    assert issue["reason"] == "quantity: '-3' is negative (expect_column_values_to_be_between)"
    assert "removeQuantity" in issue["raw"]
    assert loaded.record.rows_in == 5 == loaded.record.rows_loaded + loaded.record.rows_quarantined


def test_pax8_prorate_rows_are_partial_periods_with_monthly_cost() -> None:
    frame = load("pax8-invoice-items").frame.set_index("source_line")
    prorate = frame.loc[3]
    assert (prorate["period_start"], prorate["period_end"]) == (
        pd.Timestamp("2026-02-11"),
        pd.Timestamp("2026-02-28"),
    )
    assert prorate["quantity"] == 3.0
    assert prorate["unit_cost"] == from_decimal("11.25")
    assert frame.loc[2, "client"] == "Lakeside Veterinary Clinic"
    assert frame.loc[2, "sku"] == "MST-365-BUS-STD"
    assert frame.loc[4, "vendor"] == "Acronis"


def test_pax8_credit_prorate_is_quarantined_and_one_time_rows_load() -> None:
    loaded = load("pax8-invoice-items")
    assert list(loaded.issues["line"]) == [6]
    assert "is negative" in loaded.issues["reason"].iloc[0]
    one_time = loaded.frame.set_index("source_line").loc[8]
    assert one_time["period_start"] == one_time["period_end"] == pd.Timestamp("2026-02-05")


def test_connectwise_additions_bill_customer_and_cancelled_date() -> None:
    loaded = load("connectwise-additions")
    frame = loaded.frame.set_index("sku")
    assert frame.loc["M365-BS", "client"] == "Lakeside Veterinary Clinic"
    assert frame.loc["M365-BS", "unit_price"] == from_decimal("16.00")
    assert frame.loc["MANAGED-WS", "unit_price"] == from_decimal("1100.00")
    assert frame.loc["EDR", "end_date"] == pd.Timestamp("2026-01-31")
    assert frame.loc["M365-BP", "start_date"] == pd.Timestamp("2024-07-15")
    assert frame.loc["M365-BP", "agreement_id"] == "Ridgeway - Essentials"
    assert bool(frame.loc["M365-BP", "billable"]) is True
    assert bool(frame.loc["EDR-TRIAL", "billable"]) is False  # DoNotBill: not expected revenue
    assert bool(frame.loc["ONBOARD", "billable"]) is False  # NoCharge
    assert loaded.record.rows_quarantined == 0


def test_connectwise_time_billable_option_and_invoice() -> None:
    frame = load("connectwise-time").frame.set_index("ticket")
    assert frame.loc["88412", "invoice_number"] == "45120"
    assert pd.isna(frame.loc["88530", "invoice_number"])
    assert frame["billable"].tolist() == [True, True, False, False, False, True]
    assert frame.loc["88412", "technician"] == "mgarcia"
    assert frame.loc["88412", "rate"] == from_decimal("165.00")
    assert frame.loc["88412", "date"] == pd.Timestamp("2026-02-03")


def test_connectwise_time_takes_time_start_when_there_is_no_date_column() -> None:
    text = (
        "Company,Member,timeStart,Actual Hours,Billable Option\n"
        "Ridgeway Accounting,mgarcia,2026-02-24T14:30:00Z,1.5,Billable\n"
    )
    entry = SourceEntry(path="time.csv", kind="time_entries", preset="connectwise-time")
    row = load_source(text.encode(), "time.csv", entry).frame.iloc[0]
    assert row["date"] == pd.Timestamp("2026-02-24")
    assert row["hours"] == 1.5


def test_autotask_units_take_the_client_from_the_profile_lookup() -> None:
    loaded = load(
        "autotask-contract-units",
        client_lookup={"29684120": "Lakeside Veterinary Clinic", "29684133": "Ridgeway Accounting"},
    )
    frame = loaded.frame
    assert frame["client"].tolist() == ["Lakeside Veterinary Clinic"] * 2 + ["Ridgeway Accounting"] * 2
    assert frame["sku"].iloc[0] == "29683450"
    assert frame["agreement_id"].iloc[0] == "29684120"
    assert frame["unit_price"].iloc[0] == from_decimal("55.00")
    assert frame["start_date"].iloc[0] == pd.Timestamp("2026-02-01")
    assert pd.isna(frame["end_date"].iloc[3])
    # A contract the lookup does not know has no client: quarantined, never dropped.
    assert loaded.issues["line"].tolist() == [6]
    assert loaded.issues["column"].tolist() == ["client"]


def test_autotask_units_without_a_client_source_are_refused_with_the_way_out() -> None:
    with pytest.raises(SourceError, match=r"client_lookup\] table \(contractID -> client\)"):
        load("autotask-contract-units")


def test_months_covered_counts_partial_months_by_days() -> None:
    start = pd.to_datetime(pd.Series(["2026-03-01", "2026-03-16", "2026-01-01", "2026-03-10"]))
    end = pd.to_datetime(pd.Series(["2026-03-31", "2026-03-31", "2026-12-31", "2026-05-20"]))
    covered = months_covered(start, end).round(4).tolist()
    assert covered == [1.0, round(16 / 31, 4), 12.0, round(22 / 31 + 1 + 20 / 31, 4)]


def test_preset_transforms_do_not_mutate_their_input() -> None:
    raw = read_table((PRESET_DIR / "microsoft-nce-recon.csv").read_bytes(), "ms.csv")
    before = raw.copy()
    PRESETS["microsoft-nce-recon"].prepare(raw)
    pd.testing.assert_frame_equal(raw, before)
