"""The sample MSP generator: deterministic, complete, its answer key recomputable from its own files."""

from __future__ import annotations

import cProfile
import pstats
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest

from recon.errors import ReconError
from recon.sample import (
    ANSWER_KEY_COLUMNS,
    PSA_EXPORT_FILES,
    SOURCE_FILES,
    TYPES,
    UNMAPPED_COLUMNS,
    SampleMSP,
    generate_sample,
    write_sample,
)
from recon.schema import field_names

LEGAL_SUFFIXES = {"inc", "incorporated", "llc", "ltd", "limited", "gmbh", "corp", "corporation", "co",
                  "company", "plc", "pty", "llp", "lp"}
KEY = ["period", "client", "sku"]
MONEY = re.compile(r"^-?\d+\.\d{2}$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def normalise(name: str) -> str:
    """The engine's normalised name, written independently of the generator (PRODUCT.md section 3)."""
    text = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    text = text.casefold().replace("&", " and ").strip()
    if " " not in text and "." in text:
        text = text.split(".")[0]
    text = re.sub(r"[^\w\s]", "", text).strip()
    text = re.sub(r"^the\s+", "", text)
    tokens = text.split()
    while tokens and tokens[-1] in LEGAL_SUFFIXES:
        tokens.pop()
    return "".join(tokens)


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def decimals(column: pd.Series) -> pd.Series:
    return column.map(Decimal)


def cases(sample: SampleMSP, kind: str) -> pd.DataFrame:
    return sample.answer_key[sample.answer_key["type"] == kind]


@pytest.fixture(scope="module")
def sample() -> SampleMSP:
    return generate_sample()


@pytest.fixture(scope="module")
def usage(sample: SampleMSP) -> pd.DataFrame:
    return resolved_usage(sample)


def resolved_usage(sample: SampleMSP) -> pd.DataFrame:
    """Every mapped usage row with its PSA client, PSA sku, period and prorated quantity U."""
    rows = pd.concat([frame for name, frame in sample.files.items() if name.startswith("usage_")])
    aliases = dict(zip(sample.files["client_aliases.csv"]["alias"], sample.files["client_aliases.csv"]["client"],
                       strict=True))
    by_normal_name = {normalise(name): name for name in sample.files["contracts.csv"]["client"]}
    catalog = sample.files["catalog.csv"]
    by_vendor_sku = {vendor_sku: sku for sku, skus in zip(catalog["sku"], catalog["vendor_sku"], strict=True)
                     for vendor_sku in skus.split(";") if vendor_sku}
    start, end = pd.to_datetime(rows["period_start"]), pd.to_datetime(rows["period_end"])
    covered = ((end - start).dt.days + 1) / start.dt.days_in_month
    return pd.DataFrame({
        "period": rows["period_start"].str[:7],
        "client": rows["client"].map(lambda name: aliases.get(name, by_normal_name.get(normalise(name)))),
        "sku": rows["sku"].map(by_vendor_sku),
        "usage": [Decimal(str(round(q, 4))) for q in rows["quantity"].astype(float) * covered],
        "unit_cost": decimals(rows["unit_cost"]),
    }).dropna(subset=["client", "sku"])


def billed(sample: SampleMSP) -> pd.DataFrame:
    """Invoice lines per key: billed quantity B, amount A and the (single) unit price billed."""
    lines = sample.files["invoices.csv"].assign(period=lambda f: f["period_start"].str[:7])
    lines = lines.drop_duplicates(["invoice_number", "sku", "quantity", "unit_price"])
    return lines.assign(quantity=decimals(lines["quantity"]), amount=decimals(lines["amount"]),
                        unit_price=decimals(lines["unit_price"]))[[*KEY, "quantity", "amount", "unit_price"]]


def contract_prices(sample: SampleMSP) -> pd.DataFrame:
    contracts = sample.files["contracts.csv"]
    return contracts.assign(contract_price=decimals(contracts["unit_price"]))[["client", "sku", "contract_price"]]


# ------------------------------------------------------------------------------------------ shape


def test_same_seed_gives_the_same_sample_and_another_seed_another() -> None:
    first, again, other = generate_sample(seed=3), generate_sample(seed=3), generate_sample(seed=4)
    assert first.files.keys() == again.files.keys()
    for name, frame in first.files.items():
        pd.testing.assert_frame_equal(frame, again.files[name])
    pd.testing.assert_frame_equal(first.answer_key, again.answer_key)
    pd.testing.assert_frame_equal(first.expected_unmapped, again.expected_unmapped)
    assert first.readme == again.readme
    assert not first.files["invoices.csv"].equals(other.files["invoices.csv"])


@pytest.mark.parametrize("rate", [0.0, 0.02, 0.1])
def test_every_discrepancy_type_is_planted_at_least_three_times(rate: float) -> None:
    counts = generate_sample(clients=40, months=12, discrepancy_rate=rate).answer_key["type"].value_counts()
    assert {kind: int(counts.get(kind, 0)) for kind in TYPES if counts.get(kind, 0) < 3} == {}
    assert set(counts.index) <= set(TYPES)


def test_cases_are_about_the_discrepancy_rate_of_all_keys() -> None:
    sample = generate_sample(clients=200, months=12, discrepancy_rate=0.02)
    keys = len(sample.files["invoices.csv"].drop_duplicates(["invoice_number", "sku"]))
    assert 0.015 * keys <= len(sample.answer_key) <= 0.03 * keys


def test_answer_key_rows_are_well_formed(sample: SampleMSP) -> None:
    key = sample.answer_key
    assert tuple(key.columns) == ANSWER_KEY_COLUMNS
    assert key["variance"].str.fullmatch(MONEY.pattern).all()
    assert key["period"].str.fullmatch(r"\d{4}-\d{2}").all()
    negative = key["variance"].str.startswith("-")
    assert (key["direction"] == negative.map({True: "under", False: "over"})).all()
    assert (key["variance"].map(Decimal) != 0).all()
    assert (key["note"] != "").all()


def test_each_key_holds_one_case_except_the_single_combination(sample: SampleMSP) -> None:
    shared = sample.answer_key[sample.answer_key.duplicated(KEY, keep=False)]
    assert sorted(shared["type"]) == ["price_below_contract", "quantity_under_billed"]


def test_files_are_text_with_canonical_headers(sample: SampleMSP) -> None:
    assert set(sample.files) == set(SOURCE_FILES) | set(PSA_EXPORT_FILES)
    for name, kind in SOURCE_FILES.items():
        frame = sample.files[name]
        assert list(frame.columns) == field_names(kind), name
        assert not frame.isna().any().any(), name
        assert all(frame[column].dtype == "str" for column in frame.columns), name
    invoices = sample.files["invoices.csv"]
    for column in ("unit_price", "amount", "tax"):
        assert invoices[column].str.fullmatch(MONEY.pattern).all()
    for column in ("invoice_date", "period_start", "period_end", "due_date"):
        assert invoices[column].str.fullmatch(ISO_DATE.pattern).all()
    assert invoices["invoice_number"].str.fullmatch(r"INV-\d{6}-\d{4}").all()
    assert tuple(sample.expected_unmapped.columns) == UNMAPPED_COLUMNS


def test_psa_exports_are_recognised_by_their_presets(sample: SampleMSP) -> None:
    """The realities of PRODUCT.md 4a on the PSA side come in the PSAs' own shapes, which the directory
    loader recognises by their columns."""
    from recon.ingest.presets import detect_preset

    for name, preset in PSA_EXPORT_FILES.items():
        frame = sample.files[name]
        assert len(frame) and not frame.isna().any().any(), name
        assert detect_preset(frame.columns).preset == preset, name


def test_invoice_lines_scale_with_clients_and_months(sample: SampleMSP) -> None:
    lines_per_client_month = len(sample.files["invoices.csv"]) / (40 * 12)
    assert 5 <= lines_per_client_month <= 9


# ------------------------------------------------------------------------------------ identity


def test_every_vendor_client_name_is_a_client_an_alias_or_expected_unmapped(sample: SampleMSP) -> None:
    clients = set(sample.files["contracts.csv"]["client"])
    normal_clients = {normalise(name) for name in clients}
    assert len(normal_clients) == len(clients)
    aliases = set(sample.files["client_aliases.csv"]["alias"])
    unknown = set(sample.expected_unmapped.loc[sample.expected_unmapped["reason"] == "unknown client", "client"])
    for name, frame in sample.files.items():
        if name.startswith("usage_"):
            for vendor_name in frame["client"].unique():
                resolved = normalise(vendor_name) in normal_clients or vendor_name in aliases
                assert resolved != (vendor_name in unknown), (name, vendor_name)


def test_aliases_and_typos_need_more_than_normalisation(sample: SampleMSP) -> None:
    normal_clients = {normalise(name) for name in sample.files["contracts.csv"]["client"]}
    aliases = sample.files["client_aliases.csv"]
    assert len(aliases) >= 2
    assert not any(normalise(alias) in normal_clients for alias in aliases["alias"])
    assert set(aliases["client"]) <= set(sample.files["contracts.csv"]["client"])
    unmapped = sample.expected_unmapped
    assert set(unmapped["reason"]) == {"unknown client", "unknown sku"}
    assert not any(normalise(name) in normal_clients for name in unmapped.loc[
        unmapped["reason"] == "unknown client", "client"])
    known_skus = ";".join(sample.files["catalog.csv"]["vendor_sku"]).split(";")
    assert not set(unmapped.loc[unmapped["reason"] == "unknown sku", "sku"]) & set(known_skus)


def test_each_vendor_spells_names_its_own_way(sample: SampleMSP) -> None:
    assert sample.files["usage_microsoft.csv"]["client"].str.endswith(".onmicrosoft.com").all()
    datto = sample.files["usage_datto.csv"]["client"]
    assert (datto == datto.str.upper()).mean() > 0.8
    assert sample.files["usage_sentinelone.csv"]["client"].str.startswith("The ").any()


def test_large_samples_keep_names_unique_after_normalisation() -> None:
    names = generate_sample(clients=1500, months=1).files["contracts.csv"]["client"].unique()
    assert len(names) == 1500
    assert len({normalise(name) for name in names}) == 1500


# ------------------------------------------------------------- the answer key, recomputed from files


def test_duplicate_charges_are_the_repeated_lines(sample: SampleMSP) -> None:
    lines = sample.files["invoices.csv"]
    repeated = lines[lines.duplicated(["invoice_number", "sku", "quantity", "unit_price"])]
    recomputed = repeated.assign(period=repeated["period_start"].str[:7], variance=repeated["amount"])
    expected = cases(sample, "duplicate_charge")
    assert sorted(map(tuple, recomputed[[*KEY, "variance"]].to_numpy())) == sorted(
        map(tuple, expected[[*KEY, "variance"]].to_numpy()))


@pytest.mark.parametrize("kind", ["price_below_contract", "price_above_contract"])
def test_price_variances_are_billed_amount_minus_quantity_times_contract_price(
        sample: SampleMSP, kind: str) -> None:
    rows = cases(sample, kind).merge(billed(sample), on=KEY).merge(contract_prices(sample), on=["client", "sku"])
    assert len(rows) == len(cases(sample, kind))
    for row in rows.itertuples():
        assert Decimal(row.variance) == row.amount - cents(row.quantity * row.contract_price)
        price_gap = abs(row.unit_price - row.contract_price) / row.contract_price
        assert price_gap > Decimal("0.005")
        assert (row.unit_price < row.contract_price) == (kind == "price_below_contract")


@pytest.mark.parametrize("kind", ["quantity_under_billed", "quantity_over_billed"])
def test_vendor_quantity_variances_are_the_gap_to_usage_at_contract_price(
        sample: SampleMSP, usage: pd.DataFrame, kind: str) -> None:
    per_key = usage.groupby(KEY, as_index=False)["usage"].sum()
    rows = cases(sample, kind).merge(per_key, on=KEY).merge(billed(sample), on=KEY)
    rows = rows.merge(contract_prices(sample), on=["client", "sku"])
    assert len(rows) >= 1
    for row in rows.itertuples():
        assert Decimal(row.variance) == -cents((row.usage - row.quantity) * row.contract_price)
    devices = cases(sample, kind)
    assert (devices["sku"] == "MANAGED-WS").any()


def test_negative_margin_is_the_billed_price_below_the_vendor_cost(sample: SampleMSP, usage: pd.DataFrame) -> None:
    rows = cases(sample, "negative_margin").merge(usage, on=KEY).merge(billed(sample), on=KEY)
    rows = rows.merge(contract_prices(sample), on=["client", "sku"])
    assert len(rows) == len(cases(sample, "negative_margin"))
    for row in rows.itertuples():
        assert row.unit_price == row.contract_price  # billed at the contract price ...
        assert row.quantity == row.usage  # ... for what the vendor reports
        assert Decimal(row.variance) == cents((row.unit_price - row.unit_cost) * row.quantity) < 0


def test_unbilled_time_is_uninvoiced_billable_hours_beyond_the_block(sample: SampleMSP) -> None:
    entries = sample.files["time_entries.csv"]
    open_hours = entries[(entries["billable"] == "true") & (entries["invoice_number"] == "")]
    per_month = open_hours.assign(period=open_hours["date"].str[:7], hours=decimals(open_hours["hours"]),
                                  rate=decimals(open_hours["rate"])).groupby(["period", "client"]).agg(
        hours=("hours", "sum"), rate=("rate", "first")).reset_index()
    contracts = sample.files["contracts.csv"]
    blocks = contracts.loc[contracts["included_hours"] != "", ["client", "included_hours"]]
    per_month = per_month.merge(blocks, on="client", how="left").fillna({"included_hours": "0"})
    beyond = per_month["hours"] - decimals(per_month["included_hours"])
    recomputed = per_month.assign(variance=[str(-cents(h * r)) for h, r in zip(beyond, per_month["rate"],
                                                                               strict=True)])[beyond > 0]
    expected = cases(sample, "unbilled_time")
    assert sorted(map(tuple, recomputed[["period", "client", "variance"]].to_numpy())) == sorted(
        map(tuple, expected[["period", "client", "variance"]].to_numpy()))
    assert (expected["sku"] == "LABOR").all()


def test_a_new_mid_month_subscription_is_unbilled_at_list_price_every_month(
        sample: SampleMSP, usage: pd.DataFrame) -> None:
    unbilled = cases(sample, "unbilled_usage").merge(usage, on=KEY)
    contracted = set(zip(sample.files["contracts.csv"]["client"], sample.files["contracts.csv"]["sku"],
                         strict=True))
    new = unbilled[[(c, s) not in contracted for c, s in zip(unbilled["client"], unbilled["sku"], strict=True)]]
    assert new["client"].nunique() >= 1
    assert (new.groupby("client").size() >= 2).all()  # it goes on, unbilled, month after month
    list_price = dict(zip(sample.files["catalog.csv"]["sku"], sample.files["catalog.csv"]["list_price"],
                          strict=True))
    for row in new.itertuples():
        assert Decimal(row.variance) == -cents(row.usage * Decimal(list_price[row.sku]))
    first_rows = [frame[frame["period_start"].str.endswith("-16")] for name, frame in sample.files.items()
                  if name.startswith("usage_")]
    assert sum(len(frame) for frame in first_rows) >= new["client"].nunique()


def test_billed_outside_contract_follows_an_ended_contract_line(sample: SampleMSP) -> None:
    contracts = sample.files["contracts.csv"]
    ended = contracts[contracts["end_date"] != ""]
    rows = cases(sample, "billed_outside_contract").merge(ended, on=["client", "sku"])
    assert len(rows) == len(cases(sample, "billed_outside_contract"))
    assert (rows["end_date"].str[:7] < rows["period"]).all()
    assert (rows["start_date"].str[:7] < rows["period"]).all()


# ----------------------------------------------------------------------------- clean edge cases


def test_clean_edge_cases_are_present(sample: SampleMSP) -> None:
    contracts, invoices = sample.files["contracts.csv"], sample.files["invoices.csv"]
    assert (contracts["billable"] == "false").sum() >= 2
    annual = contracts[contracts["billing_frequency"] == "annual"]
    assert len(annual) >= 1
    annual_lines = invoices.merge(annual[["client", "sku"]], on=["client", "sku"])
    assert len(annual_lines) == len(annual)  # invoiced once a year, not every month
    assert (invoices["sku"] == "PROJECT").sum() >= 2
    assert invoices["quantity"].str.contains(r"\.\d\d?$").any()  # prorated partial months
    entries = sample.files["time_entries.csv"]
    covered_by_block = entries[(entries["billable"] == "true") & (entries["invoice_number"] == "")]
    assert len(covered_by_block) > len(cases(sample, "unbilled_time"))


def test_prices_within_tolerance_are_not_in_the_answer_key(sample: SampleMSP) -> None:
    lines = billed(sample).merge(contract_prices(sample), on=["client", "sku"])
    gap = (lines["unit_price"] - lines["contract_price"]).abs() / lines["contract_price"]
    near = lines[(gap > 0) & (gap <= Decimal("0.005"))]
    assert len(near) >= 2
    assert near.merge(sample.answer_key, on=KEY).empty


def test_receivables_include_short_paid_split_and_overdue_invoices(sample: SampleMSP) -> None:
    invoices, payments = sample.files["invoices.csv"], sample.files["payments.csv"]
    totals = invoices.assign(amount=decimals(invoices["amount"])).groupby(
        ["invoice_number", "status", "due_date"], as_index=False)["amount"].sum()
    paid = payments.assign(amount=decimals(payments["amount"])).groupby("invoice_number")["amount"].agg(
        ["sum", "count"])
    totals = totals.merge(paid, left_on="invoice_number", right_index=True, how="left")
    assert ((totals["status"] == "paid") & (totals["sum"] < totals["amount"])).sum() >= 2
    assert (totals["count"] == 2).sum() >= 2
    assert (totals["sum"].isna() & (totals["due_date"] < sample.as_of)).sum() >= 2
    assert (payments["payment_date"] < sample.as_of).all()


# ------------------------------------------------------------------------------ scale and output


def test_scale_runs_without_python_loops_over_rows() -> None:
    def profiled_calls(clients: int) -> tuple[int, SampleMSP]:
        profiler = cProfile.Profile()
        result = profiler.runcall(generate_sample, clients=clients, months=12)
        return pstats.Stats(profiler).total_calls, result  # type: ignore[attr-defined]

    small_calls, _ = profiled_calls(200)
    large_calls, large = profiled_calls(2000)
    assert len(large.files["invoices.csv"]) >= 100_000
    # Ten times the clients, about the same number of Python function calls: nothing loops per row.
    assert large_calls < small_calls * 1.1


def test_write_sample_writes_every_file_with_canonical_headers(tmp_path: Path) -> None:
    sample = write_sample(tmp_path / "msp", clients=12, months=3)
    written = {path.name for path in (tmp_path / "msp").iterdir()}
    assert written == {*SOURCE_FILES, *PSA_EXPORT_FILES, "answer_key.csv", "expected_unmapped.csv", "README.md"}
    for name, kind in SOURCE_FILES.items():
        frame = pd.read_csv(tmp_path / "msp" / name, dtype=str, keep_default_na=False)
        assert list(frame.columns) == field_names(kind)
        pd.testing.assert_frame_equal(frame, sample.files[name], check_dtype=False)
    key = pd.read_csv(tmp_path / "msp" / "answer_key.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(key, sample.answer_key, check_dtype=False)
    readme = (tmp_path / "msp" / "README.md").read_text(encoding="utf-8")
    assert "answer_key.csv" in readme and "duplicate_charge" in readme


def test_bad_arguments_name_every_problem() -> None:
    with pytest.raises(ReconError, match=r"clients.*months.*first_period.*discrepancy_rate"):
        generate_sample(clients=0, months=0, first_period="2025-13", discrepancy_rate=2.0)


def test_usage_per_site_splits_rows_but_keeps_every_key_total_and_finding(tmp_path: Path) -> None:
    """``usage_sites``: vendors reporting per site write more usage rows whose quantities add up to the
    subscription's, so the engine finds exactly the same discrepancies (the benchmark relies on it)."""
    from recon import load_directory, reconcile

    findings, usage_rows = {}, {}
    for sites in (1, 3):
        sample = write_sample(tmp_path / f"sites{sites}", clients=30, months=4, usage_sites=sites)
        usage_rows[sites] = sum(len(frame) for name, frame in sample.files.items() if name.startswith("usage"))
        found = reconcile(load_directory(tmp_path / f"sites{sites}")).discrepancies
        findings[sites] = found[[*KEY, "type", "variance"]].astype(str).sort_values([*KEY, "type"], ignore_index=True)
    assert usage_rows[3] > 2 * usage_rows[1]
    pd.testing.assert_frame_equal(findings[3], findings[1])
    with pytest.raises(ReconError, match="usage_sites"):
        generate_sample(usage_sites=0)


def test_a_site_that_returns_after_a_gap_is_a_new_subscription_so_the_answer_key_holds(tmp_path: Path) -> None:
    """``usage_sites``: when a subscription's seats fall below its site count for some months, its last
    sites write no row then; a site that comes back is a new subscription (its own id). Under the old id
    the site's seat would carry over the gap (PRODUCT.md 4a: the life runs from its first charge to its
    last) and the engine would rightly find usage above the billed seats that the answer key says match.
    30 clients x 12 months, seed 1, 3 sites: a Microsoft 365 subscription of 3 seats drops to 2 and back."""
    from recon import load_directory, reconcile
    from recon.exports.formatting import export_frame

    sample = write_sample(tmp_path, clients=30, months=12, seed=1, usage_sites=3)
    rows = pd.concat([frame for name, frame in sample.files.items() if name.startswith("usage_")])
    rows = rows[rows["row_type"] == "recurring"]
    # The sites of a subscription month are 1..n: site k is there in every month with at least k rows.
    site_rows = rows.assign(subscription=rows["subscription_id"].str.split("-s").str[0],
                            month=pd.to_datetime(rows["period_start"]).dt.to_period("M"))
    count = site_rows.groupby(["subscription", "month"]).size().unstack()  # NaN: the subscription's no row
    returns = [(subscription, site) for subscription, counts in count.iterrows()
               for site in range(2, 4) if re.search(r"1+0+1", "".join(counts.dropna().ge(site)
                                                                      .astype(int).astype(str)))]
    assert returns, "the sample no longer has a site coming back after a gap: pick another seed"
    sites = site_rows[site_rows["subscription_id"].str.contains("-s")]
    months = sites.groupby("subscription_id")["month"].agg(lambda month: month.max().ordinal
                                                           - month.min().ordinal + 1 - month.nunique())
    assert months[months > 0].empty  # no site's id stops and comes back (months its seats would carry)

    found = export_frame(reconcile(load_directory(tmp_path)).discrepancies)[[*KEY, "type", "variance"]]
    compared = found.merge(sample.answer_key[[*KEY, "type", "variance"]], on=[*KEY, "type"], how="outer",
                           indicator=True, suffixes=("", "_expected"))
    wrong = compared[(compared["_merge"] != "both") | (compared["variance"] != compared["variance_expected"])]
    assert wrong.empty, wrong


def test_the_realities_of_section_4a_are_in_the_sample(sample: SampleMSP) -> None:
    """Issue 17 item 6 and issue 18 item 5: the sample MSP holds every reality of PRODUCT.md 4a (none of
    them raises a false finding: test_sample_msp proves the run raises the answer key's findings and
    nothing else)."""
    microsoft, pax8 = sample.files["usage_microsoft.csv"], sample.files["usage_pax8.csv"]
    usage = pd.concat([microsoft, pax8], ignore_index=True)
    start, end = pd.to_datetime(usage["period_start"]), pd.to_datetime(usage["period_end"])
    recurring = usage["row_type"] == "recurring"
    cycle = (start.dt.day > 1) & (end.dt.month != start.dt.month) & ((end - start).dt.days < 40)
    assert (recurring & cycle).any()  # an anniversary cycle (20th to 19th)
    assert (recurring & ((end - start).dt.days >= 364)).any()  # a year billed up front
    credits = usage[usage["row_type"] == "credit"]
    changed = credits.merge(usage[recurring], on=["subscription_id", "period_start"])
    assert len(changed) >= 1  # a seat change: the refund of the old quantity and the new charge, same day
    assert len(credits) > len(changed)  # a cancellation: a refund with no new charge
    assert (usage["row_type"] == "trial").any()
    assert (pax8["row_type"] == "one_time").any()  # the onboarding fee
    connectwise = sample.files["contracts_connectwise.csv"]
    assert (connectwise["lessIncluded"].astype(float) > 0).any()
    assert (connectwise["agreement.billingCycle.name"] == "Quarterly").any()
    assert ((connectwise["agreement.cancelledFlag"] == "true") & (connectwise["agreement.dateCancelled"] != "")).any()
    autotask = sample.files["contracts_autotask.csv"]
    units = autotask.assign(start=pd.to_datetime(autotask["startDate"]), end=pd.to_datetime(autotask["endDate"]))
    pairs = units.merge(units, on="contractServiceID")
    assert ((pairs["start_y"] > pairs["start_x"]) & (pairs["start_y"] <= pairs["end_x"])).any()  # an adjustment


def test_a_finding_lands_on_an_autotask_contract(sample: SampleMSP) -> None:
    """Issue 21: the sample's fixes reach Autotask too. An Autotask client's last month bills 2 units of its
    contract service fewer than its ContractServiceUnits say (quantity_under_billed at the contract price,
    the line already right: a one-time charge on the Autotask contract)."""
    units = sample.files["contracts_autotask.csv"]
    on_autotask = sample.answer_key.merge(units[["companyName", "serviceID"]].drop_duplicates().rename(
        columns={"companyName": "client", "serviceID": "sku"}), on=["client", "sku"])
    assert on_autotask[["period", "type", "variance"]].to_numpy().tolist() == [
        ["2026-10", "quantity_under_billed", "-12.00"]]
    [client] = on_autotask["client"]
    invoices = sample.files["invoices.csv"]
    billed = invoices[invoices["client"].eq(client) & invoices["sku"].eq(on_autotask["sku"].iloc[0])
                      & invoices["invoice_date"].str.startswith("2026-10")]
    last = units[units["companyName"].eq(client) & units["startDate"].str.startswith("2026-10")]
    assert billed["quantity"].astype(int).tolist() == [int(last["units"].iloc[0]) - 2]
