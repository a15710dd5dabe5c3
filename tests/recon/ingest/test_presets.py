"""Presets read the real exports (hand-made fixtures with the vendors' column names) into canonical rows."""

from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recon.errors import SourceError
from recon.ingest.files import load_source
from recon.ingest.presets import PRESETS, detect_preset, months_covered
from recon.ingest.profile import SourceEntry
from recon.ingest.reading import read_table
from recon.money import from_decimal, parse_money
from tests.fixtures.make_semantics import microsoft, pax8
from tests.scenarios import without_columns

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
    assert full_month["sku"] == "CFQ7TTC0LCHC:0002"  # a product is ProductId:SkuId
    assert full_month["row_type"] == "recurring"
    assert full_month["quantity"] == 18.0
    assert full_month["period_start"] == pd.Timestamp("2026-02-01")
    assert full_month["period_end"] == pd.Timestamp("2026-02-28")
    assert full_month["vendor"] == "Microsoft"
    assert full_month["unit_cost"] == from_decimal("19.80")
    # An annual-billed line covers twelve months: 43.20 for the year is 3.60 a month.
    assert frame.loc[6, "unit_cost"] == from_decimal("3.60")
    assert frame.loc[6, "period_end"] == pd.Timestamp("2026-12-31")


def test_microsoft_credit_lines_count_negative_and_load_as_credits() -> None:
    loaded = load("microsoft-nce-recon")
    credit = loaded.frame.set_index("source_line").loc[5]  # removeQuantity, Subtotal -31.23
    assert credit["quantity"] == -3.0 and credit["row_type"] == "credit"
    assert credit["cost_amount"] == from_decimal("-31.23")
    assert loaded.issues.empty and loaded.record.rows_loaded == loaded.record.rows_in == 5


def test_microsoft_rows_say_what_they_are() -> None:
    text = ("CustomerName,ProductId,SkuId,ChargeType,BillableQuantity,Subtotal,ChargeStartDate,ChargeEndDate,"
            "EffectiveUnitPrice,PCToBCExchangeRate,ProductQualifiers,BillingFrequency,PublisherName\n"
            "A,P1,0001,new,25,0,3/12/2026,4/11/2026,0,1,\"[\"\"AddOn\"\",\"\"Trial\"\"]\",Monthly,\n"
            "A,P2,0001,customerCredit,1,-12.00,3/1/2026,3/31/2026,12,1,[],Monthly,\n"
            "A,P3,0001,new,2,300.00,3/1/2026,3/1/2026,150,1,[],OneTime,\n"
            "A,P4,0001,cycleCharge,5,91.05,3/20/2026,4/19/2026,19.80,0.92,[],Monthly,Acronis International GmbH\n")
    entry = SourceEntry(path="recon.csv", kind="usage", preset="microsoft-nce-recon")
    frame = load_source(text.encode(), "recon.csv", entry).frame
    assert frame["row_type"].tolist() == ["trial", "cost", "one_time", "recurring"]
    assert frame["vendor"].tolist() == ["Microsoft"] * 3 + ["Acronis International GmbH"]
    # ROUNDDOWN(19.80 x 0.92, 2) = 18.21 in the billing currency, for one anniversary month
    assert frame["unit_cost"].iloc[3] == from_decimal("18.21")


def microsoft_loaded(*rows: dict[str, str]):
    """A reconciliation file with every documented column (``make_semantics.microsoft``) of ``rows``, read
    with the preset: every row loaded."""
    base = {"CustomerName": "Lyon Boulangerie", "ProductId": "CFQ7TTC0LFLX", "SkuId": "0001",
            "ChargeType": "cycleCharge", "ChargeStartDate": "2026-03-01", "ChargeEndDate": "2026-03-31",
            "BillableQuantity": "1", "Subtotal": "1.00", "Currency": "EUR"}
    text = microsoft(*({**base, **row} for row in rows))
    entry = SourceEntry(path="recon.csv", kind="usage", preset="microsoft-nce-recon")
    loaded = load_source(text.encode(), "recon.csv", entry)
    assert loaded.issues.empty and len(loaded.frame) == len(rows)
    return loaded


def microsoft_unit_costs(*rows: dict[str, str]) -> list[int]:
    """The monthly unit cost (Int64 units) of each row of ``microsoft_loaded``."""
    return microsoft_loaded(*rows).frame["unit_cost"].tolist()


def test_microsoft_unit_cost_uses_every_place_of_the_exchange_rate() -> None:
    # 100.00 USD at 0.923456 is 92.3456 EUR: Microsoft charges ROUNDDOWN(., 2) = 92.34 (Subtotal 92.34).
    # The rate read to four places (0.9235) gave 92.35: a cost above what Microsoft bills, so an MSP
    # passing the seat on at cost got a false negative_margin (tests/fixtures/semantics/ms_exchange_rate_places).
    costs = microsoft_unit_costs(
        {"EffectiveUnitPrice": "100.00", "PCToBCExchangeRate": "0.923456", "Subtotal": "92.34"},
        {"EffectiveUnitPrice": "32.40", "PCToBCExchangeRate": "0.923456", "Subtotal": "29.91"},
        {"EffectiveUnitPrice": "19.80", "PCToBCExchangeRate": "", "PricingCurrency": "EUR"})  # blank rate: 1
    assert costs == [from_decimal("92.34"), from_decimal("29.91"), from_decimal("19.80")]


def test_microsoft_blank_rate_between_two_currencies_leaves_the_cost_unknown() -> None:
    # A blank PCToBCExchangeRate is 1 only where the row is priced in the currency it is billed in: a USD
    # price billed in EUR with no rate has no cost in EUR (as an unreadable rate: the catalog's applies).
    # It was read as 1: 19.80 USD taken for 19.80 EUR (tests/fixtures/semantics/ms_exchange_rate_blank).
    # The file's rows are billed in EUR and priced in USD unless a row says otherwise.
    costs = microsoft_unit_costs(
        {"EffectiveUnitPrice": "19.80", "PCToBCExchangeRate": ""},
        {"EffectiveUnitPrice": "19.80", "PCToBCExchangeRate": " ", "PricingCurrency": " usd", "Currency": "Eur"},
        {"EffectiveUnitPrice": "19.80", "PCToBCExchangeRate": "", "PricingCurrency": "eur"},  # the same: 1
        {"EffectiveUnitPrice": "19.80", "PCToBCExchangeRate": "", "Currency": "USD"},  # the same: 1
        {"EffectiveUnitPrice": "19.80", "PCToBCExchangeRate": "0.92"})  # a rate given: its product
    assert pd.isna(costs[0]) and pd.isna(costs[1])
    assert costs[2:] == [from_decimal("19.80")] * 2 + [from_decimal("18.21")]


UNSAID_ROWS = ("{} row(s) with a blank PCToBCExchangeRate leave PricingCurrency or Currency blank: the currency a "
               "row is priced or billed in is not known, and a blank rate is 1 only where the two are the same, so "
               "these rows have no unit cost: the catalog's unit cost is used for them (none where the catalog has "
               "none), so their margins and negative_margin findings follow the catalog")
BETWEEN_ROWS = ("{} row(s) priced in another currency than they are billed in have a blank PCToBCExchangeRate, so no "
                "unit cost: the catalog's unit cost is used for them (none where the catalog has none), so their "
                "margins and negative_margin findings follow the catalog")


def test_microsoft_blank_rate_beside_a_blank_currency_cell_leaves_the_cost_unknown() -> None:
    # A row of the full header whose PricingCurrency or Currency cell is blank does not say it is priced in
    # the currency it is billed in: a blank rate there is no rate (no unit cost from the row, the catalog's
    # applies), as where the two differ, and the file is warned about with the count of such rows. It was
    # read as 1: 19.80 USD taken for 19.80 EUR (tests/fixtures/semantics/ms_exchange_rate_unsaid_currency).
    # A rate the row gives is used whatever its currency cells say.
    loaded = microsoft_loaded(
        {"EffectiveUnitPrice": "19.80", "PCToBCExchangeRate": "", "PricingCurrency": ""},
        {"EffectiveUnitPrice": "19.80", "PCToBCExchangeRate": " ", "Currency": " "},
        {"EffectiveUnitPrice": "19.80", "PCToBCExchangeRate": "", "PricingCurrency": "", "Currency": ""},
        {"EffectiveUnitPrice": "19.80", "PCToBCExchangeRate": "0.92", "PricingCurrency": "", "Currency": ""},
        {"EffectiveUnitPrice": "19.80", "PCToBCExchangeRate": "", "PricingCurrency": "USD"},  # USD to EUR
        {"EffectiveUnitPrice": "19.80", "PCToBCExchangeRate": "", "PricingCurrency": "EUR"})  # the same: 1
    costs = loaded.frame["unit_cost"].tolist()
    assert [pd.isna(cost) for cost in costs] == [True, True, True, False, True, False]
    assert costs[3] == from_decimal("18.21") and costs[5] == from_decimal("19.80")
    assert loaded.report.warnings == (UNSAID_ROWS.format(3), BETWEEN_ROWS.format(1))
    assert loaded.report.absent_columns == ()
    # rows that say their currencies, or give their rate, are not warned about
    assert microsoft_loaded({"EffectiveUnitPrice": "19.80", "PCToBCExchangeRate": "0.92", "Currency": ""},
                            {"EffectiveUnitPrice": "19.80", "PCToBCExchangeRate": ""}).report.warnings == (
        BETWEEN_ROWS.format(1),)
    assert microsoft_loaded({"EffectiveUnitPrice": "19.80", "PricingCurrency": "", "Currency": ""}).report.warnings \
        == ()


@pytest.mark.parametrize("column", ["PricingCurrency", "Currency"])
def test_microsoft_blank_rate_in_a_file_without_one_of_the_currencies(column: str) -> None:
    # A file of the full header (PricingCurrency, PCToBCExchangeRate) that lacks one of the currencies cannot
    # say the row is priced in the currency it is billed in: its blank rate is no rate (it was 1, 19.80 USD
    # read as 19.80 EUR: tests/recon/ingest/test_absent_columns.py, ms_exchange_rate_blank); a rate it gives
    # is used. An older file (PRODUCT.md section 2's header: Currency, no PricingCurrency, no rate) reads 1,
    # as before.
    row = {"CustomerName": "Lyon Boulangerie", "ProductId": "CFQ7TTC0LCHC", "SkuId": "0002",
           "ChargeStartDate": "2026-03-01", "ChargeEndDate": "2026-03-31", "BillableQuantity": "1",
           "Subtotal": "19.80", "EffectiveUnitPrice": "19.80", "PCToBCExchangeRate": "", "Currency": "EUR"}
    entry = SourceEntry(path="recon.csv", kind="usage", preset="microsoft-nce-recon")

    def unit_costs(text: str) -> list[object]:
        return load_source(text.encode(), "recon.csv", entry).frame["unit_cost"].tolist()

    full = microsoft(row, {**row, "PCToBCExchangeRate": "0.92"}).lstrip("\ufeff")
    costs = unit_costs(without_columns(full, (column,)))
    assert pd.isna(costs[0]) and costs[1:] == [from_decimal("18.21")]
    older = PRESETS["microsoft-nce-recon"].variants[0]
    header = full.splitlines()[0].split(",")
    assert unit_costs(without_columns(full, tuple(name for name in header if name not in older)))[:1] == [
        from_decimal("19.80")]


def test_microsoft_unit_cost_uses_every_place_of_a_prorated_price() -> None:
    # 12.99999 rounded to four places is 13.0000 and ROUNDDOWN gave 13.00; Microsoft's is 12.99.
    # 2.9032258064516 (90.00 x 1/31) x 0.923456 = 2.68099... -> 2.68 for the charge period.
    costs = microsoft_unit_costs(
        {"EffectiveUnitPrice": "12.99999"},
        {"EffectiveUnitPrice": "2.9032258064516", "PCToBCExchangeRate": "0.923456"},
        {"EffectiveUnitPrice": "-12.99999", "BillableQuantity": "-1", "Subtotal": "-12.99"})  # toward zero
    assert costs == [from_decimal("12.99"), from_decimal("2.68"), from_decimal("12.99")]


def test_microsoft_partial_period_cost_a_month_rounds_half_up() -> None:
    # 1.03 for the eight days 3/1-3/8 is 1.03 x 31 / 8 = 3.99125 a month: half up to 3.9913 (the four
    # places money keeps), as recon.money rounds; numpy's half-to-even gave 3.9912.
    costs = microsoft_unit_costs({"EffectiveUnitPrice": "1.03", "ChargeEndDate": "2026-03-08"})
    assert costs == [from_decimal("3.9913")]


def test_microsoft_unreadable_price_or_rate_leaves_the_cost_unknown_and_keeps_the_row() -> None:
    # A price or an exchange rate that is not a number gives no unit cost (margins are not computed for
    # it; the catalog's cost applies), the row is loaded. An unreadable rate was read as 1: the price in
    # the pricing currency taken for the billing currency's (19.80 USD as 19.80 EUR).
    costs = microsoft_unit_costs({"EffectiveUnitPrice": "n/a"},
                                 {"EffectiveUnitPrice": "19.80", "PCToBCExchangeRate": "n/a"},
                                 {"EffectiveUnitPrice": "19.80", "PCToBCExchangeRate": "0,92"})
    assert all(pd.isna(cost) for cost in costs)


def test_microsoft_metered_unit_costs_price_times_rate_not_rounded_to_cents() -> None:
    # Microsoft's documented metered row: 0.03825 USD a GB at 0.846202666 = 0.03236725... EUR, rounded
    # only in the row's total (ROUNDDOWN(ROUNDDOWN(price x quantity, 2) x rate, 2)), so a GB costs 0.0324
    # (half up to the four places money keeps). Read as a seat's price, ROUNDDOWN(., 2) gave 0.03, and a
    # meter's price below a cent (0.0045) gave 0.
    metered = {"MeterDescription": "Tables - LRS Data Stored (GB/Month)", "UnitType": "1 GB/Month"}
    costs = microsoft_unit_costs(
        {**metered, "EffectiveUnitPrice": "0.03825", "PCToBCExchangeRate": "0.846202666",
         "BillableQuantity": "2000", "Subtotal": "64.73"},
        {**metered, "EffectiveUnitPrice": "0.0045", "BillableQuantity": "100", "Subtotal": "0.45"},
        # used for part of a month: a unit of use is priced as used, not per month (a seat's 16 days
        # of 31 would be spread to 31 / 16 of its price)
        {**metered, "EffectiveUnitPrice": "0.045", "ChargeStartDate": "2026-03-16", "BillableQuantity": "10",
         "Subtotal": "0.45"})
    assert costs == [from_decimal("0.0324"), from_decimal("0.0045"), from_decimal("0.045")]


_PRICE_TEXT = st.builds(lambda whole, places: f"{whole}.{places}" if places else str(whole),
                        st.integers(0, 99_999), st.text("0123456789", max_size=16))
_RATE_TEXT = st.builds(lambda whole, places: f"{whole}.{places}" if places else str(whole),
                       st.integers(0, 2_000), st.text("0123456789", max_size=12))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_PRICE_TEXT, _RATE_TEXT), min_size=1, max_size=5))
def test_microsoft_unit_cost_is_decimal_rounddown_of_price_times_rate(pairs: list[tuple[str, str]]) -> None:
    # the preset's rule alone (no validation suite: fast enough for many examples), on full-format rows
    rows = [{"CustomerName": "A", "ChargeStartDate": "2026-03-01", "ChargeEndDate": "2026-03-31",
             "EffectiveUnitPrice": price, "PCToBCExchangeRate": rate} for price, rate in pairs]
    prepared = PRESETS["microsoft-nce-recon"].prepare(read_table(microsoft(*rows).encode(), "recon.csv"))
    costs = parse_money(prepared["unit_cost (recon)"]).tolist()
    expected = [from_decimal((Decimal(price) * Decimal(rate)).quantize(Decimal("0.01"), rounding=ROUND_DOWN))
                for price, rate in pairs]
    assert costs == expected


def test_pax8_term_cost_a_month_rounds_half_up() -> None:
    # 1234.59 for a 2 Year term is 51.44125 a month: half up to 51.4413 (recon.money's rounding);
    # numpy's half-to-even gave 51.4412.
    text = pax8({"companyName": "A", "sku": "S", "quantity": "1", "startPeriod": "2026-03-01",
                 "endPeriod": "2026-04-01", "cost": "1234.59", "costTotal": "1234.59", "total": "1300.00",
                 "type": "subscription", "term": "2 Year"})
    assert pax8_items(text)["unit_cost"].tolist() == [from_decimal("51.4413")]


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


def test_pax8_type_and_term_say_what_a_line_is() -> None:
    loaded = load("pax8-invoice-items")
    frame = loaded.frame.set_index("source_line")
    assert loaded.issues.empty
    assert frame["row_type"].tolist() == ["recurring", "adjustment", "recurring", "recurring", "adjustment",
                                          "recurring", "one_time"]
    assert frame.loc[6, "quantity"] == -1.0  # a credit prorate (negative total) takes a seat away
    assert frame.loc[5, "unit_cost"] == from_decimal("19.80")  # Annual: 237.60 for the year
    one_time = frame.loc[8]
    assert one_time["period_start"] == one_time["period_end"] == pd.Timestamp("2026-02-05")


def pax8_items(text: str) -> pd.DataFrame:
    """``text`` read as a Pax8 invoice-items export (the preset)."""
    entry = SourceEntry(path="pax8.csv", kind="usage", preset="pax8-invoice-items")
    return load_source(text.encode(), "pax8.csv", entry).frame


def test_pax8_end_period_on_the_first_of_a_month_is_the_day_before() -> None:
    text = ("companyName,sku,quantity,startPeriod,endPeriod,total,type,term\n"
            "A,S,8,2026-03-01,2026-04-01,32.00,subscription,Monthly\n"
            "A,S,2,2026-03-16,2026-04-01,4.13,prorate,Monthly\n"
            "A,T,1,2026-03-10,2026-03-10,150.00,one-time,One-Time\n")
    frame = pax8_items(text)
    assert frame["period_end"].tolist() == [pd.Timestamp("2026-03-31")] * 2 + [pd.Timestamp("2026-03-10")]


def test_a_pax8_arrears_item_is_billed_use_not_a_held_seat() -> None:
    text = ("companyName,sku,quantity,startPeriod,endPeriod,total,cost,type,term,subscriptionId\n"
            "A,PP,3,2026-02-01,2026-03-01,15.99,3.46,subscription,Arrears,s1\n"
            "A,PP,1,2026-02-01,2026-03-01,-5.33,3.46,subscription,Arrears,s1\n"
            "A,BP,8,2026-03-01,2026-04-01,176.00,19.80,subscription,Monthly,s2\n")
    frame = pax8_items(text)
    assert frame["row_type"].tolist() == ["arrears", "arrears", "recurring"]
    assert frame["quantity"].tolist() == [3.0, -1.0, 8.0]  # a negative total takes billed use back
    assert frame["unit_cost"].tolist() == [from_decimal("3.46"), from_decimal("3.46"), from_decimal("19.80")]
    assert frame["period_end"].tolist() == [pd.Timestamp("2026-02-28")] * 2 + [pd.Timestamp("2026-03-31")]

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
    assert not frame["prorate"].any()  # no prorate price: ConnectWise bills whole cycles
    assert loaded.record.rows_quarantined == 0


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_column_a_preset_s_rule_adds_is_one_the_preset_reads(preset: str) -> None:
    """A ``<field> (recon)`` column the rule adds and no field maps is work for nothing, and reads as if
    something used it (the ConnectWise additions' rule wrote a ``service_id (recon)`` that neither of its
    presets mapped: the API's ``service_id`` is its ``id``, the list view has none)."""
    spec = PRESETS[preset]
    header = max((spec.known_columns, *spec.variants), key=len)
    prepared = spec.prepare(pd.DataFrame({column: pd.Series(["1"], dtype="string") for column in header}))
    added = {column for column in prepared.columns if column.endswith(" (recon)")}
    mapped = {candidate for candidates in spec.columns.values() for candidate in candidates}
    assert added - mapped == set()


def test_connectwise_additions_as_the_api_returns_them() -> None:
    loaded = load("connectwise-additions-api")
    frame = loaded.frame.set_index("service_id")
    assert frame.loc["9101", "quantity"] == 10.0  # 12 less 2 included
    assert frame.loc["9101", "agreement_id"] == "4711" and frame.loc["9101", "client"] == "Northwind Traders"
    assert bool(frame.loc["9103", "billable"]) is False  # DoNotBill
    assert frame.loc["9201", "end_date"] == pd.Timestamp("2026-02-15")  # its agreement was cancelled
    assert frame.loc["9301", "billing_frequency"] == "quarterly" and bool(frame.loc["9301", "prorate"])
    assert frame.loc["9301", "end_date"] == pd.Timestamp("2026-06-30")
    assert loaded.record.rows_quarantined == 0


def test_connectwise_billing_cycles_are_read_as_billing_frequencies() -> None:
    """Issue 18 item 1: ConnectWise's billingCycle names (its BillingCycle reference records) are read as the
    billing frequencies the engine knows."""
    cycles = {"Monthly": "monthly", "Bi-Monthly": "bimonthly", "Quarterly": "quarterly", "Semi-Annual": "semiannual",
              "Annual": "annual", "Biennial": "biennial", "Triennial": "triennial", "One Time": "one_time"}
    rows = "".join(f"{9400 + n},{n},MANAGED-WS,WS,1,0,10.00,Billable,2026-01-01T00:00:00Z,,Northwind Traders,"
                   f"{cycle},2026-01-01T00:00:00Z\n" for n, cycle in enumerate(cycles))
    text = ("id,agreementId,product.identifier,description,quantity,lessIncluded,unitPrice,billCustomer,"
            "effectiveDate,cancelledDate,agreement.company.name,agreement.billingCycle.name,agreement.startDate\n"
            + rows)
    entry = SourceEntry(path="additions.csv", kind="contracts", preset="connectwise-additions-api")
    loaded = load_source(text.encode(), "additions.csv", entry)
    assert loaded.record.rows_quarantined == 0
    assert list(loaded.frame.sort_values("service_id")["billing_frequency"]) == list(cycles.values())


def test_connectwise_additions_list_view_labels_money_and_dates() -> None:
    text = ("Company Name,Agreement Name,Agreement Type,Agreement Status,Addition Status,Sequence,Effective,"
            "Cancelled,Product ID,Description,Quantity,Price,Ext Price,Prorate Price,Bill,Tax,Cost,Ext Cost\n"
            "Northwind Traders,Northwind MSA,Managed,Active,Active,1,01/01/2025,,MANAGED-WS,WS,10,$45.00,"
            "$450.00,$0.00,True,False,$0.00,$0.00\n"
            "Northwind Traders,Northwind MSA,Managed,Active,Cancelled,2,01/01/2025,03/03/2026,EXO-P1,EXO,4,$4.00,"
            "$16.00,$2.58,True,False,$3.60,$14.40\n"
            "Northwind Traders,Old Plan,Managed,Expired,Expired,1,01/01/2024,,BACKUP-SRV,Backup,1,"
            "\"$1,100.00\",\"$1,100.00\",$0.00,True,False,$0.00,$0.00\n")
    entry = SourceEntry(path="additions.csv", kind="contracts", preset="connectwise-additions")
    frame = load_source(text.encode(), "additions.csv", entry).frame.set_index("sku")
    assert frame.loc["MANAGED-WS", "unit_price"] == from_decimal("45.00")
    assert frame.loc["MANAGED-WS", "agreement_id"] == "Northwind MSA"  # the list view names the agreement
    assert frame.loc["EXO-P1", "end_date"] == pd.Timestamp("2026-03-03") and bool(frame.loc["EXO-P1", "prorate"])
    assert bool(frame.loc["BACKUP-SRV", "billable"]) is False  # expired, no date known: not expected


def test_connectwise_time_billable_option_and_invoice() -> None:
    frame = load("connectwise-time").frame.set_index("ticket")
    assert frame.loc["88412", "invoice_number"] == "45120"
    assert pd.isna(frame.loc["88530", "invoice_number"])
    assert frame["billable"].tolist() == [True, True, False, False, False, True]
    assert frame.loc["88412", "technician"] == "mgarcia"
    assert frame.loc["88412", "rate"] == from_decimal("165.00")
    assert frame.loc["88412", "date"] == pd.Timestamp("2026-02-03")


def test_connectwise_time_as_the_api_returns_it_flattened() -> None:
    frame = load("connectwise-time-api").frame.set_index("entry_id")
    assert frame.loc["66001", "date"] == pd.Timestamp("2026-03-31")  # 23:30 at -05:00 on the 31st
    assert frame.loc["66001", "client"] == "Alpine Ski House" and frame.loc["66001", "technician"] == "Alex Smith"
    assert frame.loc["66001", "ticket"] == "4130" and bool(frame.loc["66001", "billable"])
    assert frame.loc["66002", "technician"] == "asmith" and not bool(frame.loc["66002", "billable"])
    assert frame.loc["66002", "invoice_number"] == "7001"


def test_connectwise_time_list_view_bill_codes() -> None:
    text = ("Member Name,Company Name,Date,Bill,Rate,WIP Hrs,Invoice Nbr,Service ID,Time RecId\n"
            "Jordan Lee,Northwind Traders,03/10/2026,B,$150.00,1.50,,4102,55001\n"
            "Jordan Lee,Northwind Traders,03/12/2026,NB,$150.00,3.00,,4110,55002\n"
            "Jordan Lee,Northwind Traders,03/13/2026,NC,$150.00,1.00,7001,4111,55003\n")
    entry = SourceEntry(path="time.csv", kind="time_entries", preset="connectwise-time")
    frame = load_source(text.encode(), "time.csv", entry).frame
    assert frame["billable"].tolist() == [True, False, False]
    assert frame["hours"].tolist() == [1.5, 3.0, 1.0] and frame["ticket"].tolist() == ["4102", "4110", "4111"]


def test_connectwise_invoice_lines_discount_credit_memo_and_agreement_total() -> None:
    frame = load("connectwise-invoice-lines-api").frame
    assert frame["amount"].tolist() == [from_decimal(v) for v in ("360.00", "270.00", "-120.00", "450.00")]
    assert frame["quantity"].tolist() == [3.0, 2.0, -1.0, 1.0]
    assert frame["line_type"].tolist() == ["item", "item", "item", "agreement_total"]
    assert frame["sku"].iloc[3] == "AGREEMENT-4711" and frame["agreement_id"].iloc[3] == "4711"


def test_connectwise_invoices_list_view_are_totals() -> None:
    frame = load("connectwise-invoices").frame
    assert frame["line_type"].tolist() == ["agreement_total", "invoice_total", "invoice_total"]
    assert frame["amount"].tolist() == [from_decimal(v) for v in ("450.00", "1234.50", "-120.00")]
    assert frame["invoice_date"].iloc[0] == pd.Timestamp("2026-03-01")


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
    with pytest.raises(SourceError, match=r"add a client column \(companyName or .*client_lookup\] table "
                                          r"\(contractID -> client\)"):
        load("autotask-contract-units")


def test_autotask_units_name_their_client_with_company_name_and_replace_by_contract_service() -> None:
    text = ("id,contractID,contractServiceID,serviceID,startDate,endDate,units,price,cost,companyName\n"
            "1,30001,5001,29683450,2026-03-01T00:00:00,2026-03-31T00:00:00,15,55.00,31.00,Lakeside Vet\n"
            "2,30001,5001,29683450,2026-03-15T00:00:00,2026-03-31T00:00:00,17,55.00,31.00,Lakeside Vet\n"
            "3,30002,,29683451,2026-03-01T00:00:00,2026-03-31T00:00:00,2,90.00,40.00,Lakeside Vet\n")
    entry = SourceEntry(path="units.csv", kind="contracts", preset="autotask-contract-units")
    frame = load_source(text.encode(), "units.csv", entry).frame
    assert frame["client"].tolist() == ["Lakeside Vet"] * 3
    assert frame["service_id"].tolist() == ["5001", "5001", "30002-29683451"]


def test_months_covered_counts_partial_months_by_days() -> None:
    start = pd.to_datetime(pd.Series(["2026-03-01", "2026-03-16", "2026-01-01", "2026-03-10"]))
    end = pd.to_datetime(pd.Series(["2026-03-31", "2026-03-31", "2026-12-31", "2026-05-20"]))
    covered = months_covered(start, end).round(4).tolist()
    # by anniversary: 3/10-5/20 is two whole months (3/10-5/9) and 11 of May's 31 days
    assert covered == [1.0, round(16 / 31, 4), 12.0, round(2 + 11 / 31, 4)]
    cycle = months_covered(pd.to_datetime(pd.Series(["2026-03-20", "2026-03-15"])),
                           pd.to_datetime(pd.Series(["2026-04-19", "2026-04-04"])))
    assert cycle.round(4).tolist() == [1.0, round(21 / 31, 4)]


def test_preset_transforms_do_not_mutate_their_input() -> None:
    raw = read_table((PRESET_DIR / "microsoft-nce-recon.csv").read_bytes(), "ms.csv")
    before = raw.copy()
    PRESETS["microsoft-nce-recon"].prepare(raw)
    pd.testing.assert_frame_equal(raw, before)


CW_HEADER = ("Company,Agreement,Product ID,Description,Quantity,Unit Price,Unit Cost,Effective Date,Cancelled Date,"
             "Bill Customer\n")


def test_a_date_a_preset_cannot_read_is_quarantined_as_written_not_as_empty() -> None:
    """Found uploading a ConnectWise additions export on the Sources page: an Effective Date of 31/31/2026
    was quarantined as 'start_date: required value is empty', and a Cancelled Date the preset could not
    read left the addition open-ended, billed for ever, with no word. Both now say what the cell holds."""
    text = CW_HEADER + ("Acme,A,M365-BP,Premium,3,$22.00,$19.80,31/31/2026,,Billable\n"
                        "Acme,A,EXO-P1,Exchange,3,$4.00,$3.60,3/1/2026,next month,Billable\n"
                        "Acme,A,EDR,EDR,3,$7.60,$5.00,3/1/2026,,Billable\n")
    entry = SourceEntry(path="additions.csv", kind="contracts", preset="connectwise-additions")
    loaded = load_source(text.encode(), "additions.csv", entry)
    reasons = dict(zip(loaded.issues["line"], loaded.issues["reason"], strict=True))
    assert reasons[2].startswith("start_date: cannot read date '31/31/2026'"), reasons
    assert reasons[3].startswith("end_date: cannot read date 'next month'"), reasons
    assert list(loaded.frame["sku"]) == ["EDR"] and loaded.record.rows_quarantined == 2


def test_a_pax8_end_period_it_cannot_read_is_quarantined_not_dropped() -> None:
    text = ("companyName,sku,productName,vendorName,quantity,startPeriod,endPeriod,price,cost,costTotal,subTotal,"
            "total,type,term,subscriptionId,currencyCode\n"
            "Acme,MST-365-BUS-STD,Standard,Microsoft,14,2026-02-01,2026-02-30,12.50,11.25,157.50,175.00,175.00,"
            "subscription,Monthly,a3f1,USD\n")
    entry = SourceEntry(path="pax8.csv", kind="usage", preset="pax8-invoice-items")
    loaded = load_source(text.encode(), "pax8.csv", entry)
    assert list(loaded.issues["reason"].str.split(" \\(", regex=True).str[0]) == [
        "period_end: cannot read date '2026-02-30'"]
