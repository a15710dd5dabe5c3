"""profile.toml: the issue's format, clear errors naming key and line, saving, and column suggestions."""

import pytest

from recon.errors import ProfileError
from recon.ingest.profile import (
    SourceEntry,
    entry_from_dict,
    parse_profile,
    profile_to_toml,
    suggest_entry,
    suggest_mapping,
)

# The example of issue 4 (two comments shortened).
ISSUE_EXAMPLE = """\
[[source]]
path = "pax8_*.csv"            # glob relative to the data directory
kind = "usage"                 # contracts | usage | invoices | time_entries | payments | catalog | ...
preset = "pax8-invoice-items"  # or give columns
[[source]]
path = "agreements.csv"
kind = "contracts"
encoding = "cp1252"            # default: detect utf-8, utf-8-sig, cp1252
delimiter = ";"                # default: sniff
date_format = "%d/%m/%Y"       # default: ISO, then M/D/YYYY
decimal = ","                  # default "."
[source.columns]               # canonical field = column in the file; beside a preset, adds or overrides
client = "Company"
sku = "Product ID"
unit_price = "Price"
start_date = "Start"
"""


def test_the_issue_example_parses() -> None:
    pax8, agreements = parse_profile(ISSUE_EXAMPLE)
    assert pax8 == SourceEntry(path="pax8_*.csv", kind="usage", preset="pax8-invoice-items")
    assert pax8.line == 1 and agreements.line == 5
    assert agreements.kind == "contracts" and agreements.preset is None
    assert (agreements.encoding, agreements.delimiter, agreements.date_format, agreements.decimal) == (
        "cp1252",
        ";",
        "%d/%m/%Y",
        ",",
    )
    assert dict(agreements.columns) == {
        "client": "Company",
        "sku": "Product ID",
        "unit_price": "Price",
        "start_date": "Start",
    }
    assert pax8.matches("pax8_2026-03.csv") and pax8.matches("PAX8_march.CSV")
    assert not pax8.matches("agreements.csv")


def test_kind_comes_from_the_preset_when_left_out() -> None:
    (entry,) = parse_profile('[[source]]\npath = "ms.csv"\npreset = "microsoft-nce-recon"\n')
    assert entry.kind == "usage"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[source]]\npath = "a.csv"\nkind = "usage"\ndelimeter = ";"\n',
            "line 4: [[source]] #1: unknown key 'delimeter' (did you mean 'delimiter'?)",
        ),
        ('[[source]]\npath = "a.csv"\nkind = "usgae"\n', "line 3: [[source]] #1: unknown kind 'usgae'"),
        ('[[source]]\npath = "a.csv"\npreset = "pax8"\n', "line 3: [[source]] #1: unknown preset 'pax8'"),
        (
            '[[source]]\npath = "a.csv"\nkind = "contracts"\npreset = "pax8-invoice-items"\n',
            "kind 'contracts' does not fit preset 'pax8-invoice-items', which reads usage",
        ),
        ('[[source]]\npath = "a.csv"\n', "'kind' is required without a preset"),
        ('[[source]]\nkind = "usage"\n', "'path' (a file name or glob) is required"),
        (
            '[[source]]\npath = "a.csv"\nkind = "usage"\ndecimal = ";"\n',
            "line 4: [[source]] #1: decimal ';' is not '.' or ','",
        ),
        (
            '[[source]]\npath = "a.csv"\nkind = "usage"\ndate_format = "%d/%m"\n',
            "date_format '%d/%m' is not a strftime",
        ),
        (
            '[[source]]\npath = "a.csv"\nkind = "usage"\nencoding = "latin-9000"\n',
            "encoding 'latin-9000' is not an encoding",
        ),
        (
            '[[source]]\npath = "a.csv"\nkind = "usage"\n[source.columns]\nclinet = "Company"\n',
            "line 5: [[source]] #1: [source.columns] 'clinet' is not a usage field (did you mean 'client'?)",
        ),
        ('[[source]]\npath = "a.csv"\nkind = "usage"\npath = "b.csv"\n', "not valid TOML"),
        ('[sources]\npath = "a.csv"\n', "unknown top-level key 'sources'"),
    ],
)
def test_bad_profiles_name_the_key_and_line(text: str, message: str) -> None:
    with pytest.raises(ProfileError) as error:
        parse_profile(text, "data/profile.toml")
    assert str(error.value).startswith("data/profile.toml: ")
    assert message in str(error.value)


def test_every_problem_is_reported_at_once() -> None:
    text = '[[source]]\npath = "a.csv"\nkind = "usage"\n\n'
    text += '[[source]]\npath = "b.csv"\nkind = "nope"\ndecimal = "x"\n'
    with pytest.raises(ProfileError) as error:
        parse_profile(text)
    assert "line 7: [[source]] #2: unknown kind 'nope'" in str(error.value)
    assert "line 8: [[source]] #2: decimal 'x'" in str(error.value)


def test_profile_to_toml_round_trips() -> None:
    entries = (
        *parse_profile(ISSUE_EXAMPLE),
        SourceEntry(
            path="autotask*.csv",
            kind="contracts",
            preset="autotask-contract-units",
            sheet=0,
            client_lookup={"29684120": 'Café Núñez "Ltd"', "2968 4133": "Ridgeway"},
        ),
        SourceEntry(path="tabs.tsv", kind="payments", delimiter="\t"),
    )
    text = profile_to_toml(entries)
    assert parse_profile(text) == entries
    assert 'client = "Company"' in text


def test_entries_round_trip_through_dicts_for_the_database() -> None:
    (entry,) = parse_profile(
        '[[source]]\npath = "x.csv"\npreset = "connectwise-time"\n[source.columns]\nrate = "Rate"\n'
    )
    assert entry_from_dict(entry.to_dict()) == entry
    with pytest.raises(ProfileError, match="unknown key 'colums'"):
        entry_from_dict({"path": "x.csv", "kind": "usage", "colums": {}})


def test_suggest_mapping_uses_preset_names_synonyms_and_similar_names() -> None:
    header = [
        "Invoice No",
        "Invoice Date",
        "Customer",
        "Item ID",
        "Qty",
        "Price Each",
        "Line Total",
        "Servce Start",
    ]
    guesses = suggest_mapping(header, "invoices")
    assert guesses["invoice_number"].column == "Invoice No"
    assert guesses["invoice_date"].column == "Invoice Date"
    assert guesses["client"].column == "Customer" and guesses["client"].basis == "synonym"
    assert guesses["sku"].column == "Item ID"
    assert guesses["quantity"].column == "Qty"
    assert guesses["unit_price"].column == "Price Each"
    assert guesses["amount"].column == "Line Total"
    assert guesses["period_start"].column == "Servce Start" and guesses["period_start"].basis == "similar name"
    assert guesses["tax"].column is None
    assert list(guesses) == [
        "invoice_number",
        "invoice_date",
        "client",
        "sku",
        "quantity",
        "unit_price",
        "amount",
        "period_start",
        "period_end",
        "due_date",
        "status",
        "description",
        "tax",
        "line_id",
        "line_type",
        "agreement_id",
        "discount",
    ]


def test_suggest_mapping_gives_each_column_to_one_field_and_prefers_the_preset() -> None:
    header = [
        "Company",
        "Agreement",
        "Product ID",
        "Description",
        "Quantity",
        "Unit Price",
        "Unit Cost",
        "Effective Date",
        "Cancelled Date",
        "Bill Customer",
    ]
    guesses = suggest_mapping(header, "contracts", preset="connectwise-additions")
    assert guesses["sku"].column == "Product ID" and guesses["sku"].basis.startswith("preset")
    assert guesses["client"].column == "Company" and guesses["client"].basis.startswith("preset")
    assert guesses["billable"].column == "Bill Customer"  # (the preset derives it from this column)
    used = [guess.column for guess in guesses.values() if guess.column]
    assert len(used) == len(set(used))
    canonical = suggest_mapping(["client", "sku", "quantity", "period_start"], "usage")
    assert all(canonical[name].basis == "canonical name" for name in ("client", "sku", "quantity", "period_start"))


def test_suggest_entry_prefers_a_detected_preset_then_the_best_covered_kind() -> None:
    pax8 = ["companyName", "sku", "productName", "vendorName", "quantity", "startPeriod", "endPeriod", "cost"]
    entry, reason = suggest_entry(pax8, "march.csv")
    assert entry == SourceEntry(path="march.csv", kind="usage", preset="pax8-invoice-items")
    assert reason.startswith("Pax8 invoice items")
    entry, reason = suggest_entry(["Invoice No", "Invoice Date", "Customer", "Item ID", "Qty", "Price"], "inv.csv")
    assert entry is not None and entry.kind == "invoices"
    assert entry.columns["client"] == "Customer" and entry.columns["unit_price"] == "Price"
    assert reason.startswith("looks like invoices: invoice_number <- Invoice No")
    entry, reason = suggest_entry(["Foo", "Bar"], "x.csv")
    assert entry is None and reason.startswith("no source kind fits")


def test_a_file_in_canonical_columns_is_read_as_its_kind_not_as_a_close_preset() -> None:
    # canonical invoices share Quantity, Price-like and date columns with ConnectWise's additions list view;
    # a header that names every required field of a kind is that kind, whatever preset it resembles
    header = ["invoice_number", "invoice_date", "client", "sku", "quantity", "unit_price", "period_start",
              "period_end", "status", "description"]
    entry, reason = suggest_entry(header, "invoices.csv")
    assert entry is not None and (entry.kind, entry.preset) == ("invoices", None)
    assert reason.startswith("looks like invoices")


def test_a_file_no_preset_fits_is_offered_the_closest_presets_reading_with_its_missing_columns_guessed() -> None:
    # the Agreement Additions list view with the company column renamed: no preset fits (no Company
    # Name), but connectwise-additions is close; its reading is offered with the client column guessed
    header = ["Customer", "Agreement Name", "Agreement Type", "Agreement Status", "Addition Status", "Sequence",
              "Effective", "Cancelled", "Product ID", "Description", "Quantity", "Price", "Ext Price",
              "Prorate Price", "Bill", "Tax", "Cost", "Ext Cost"]
    entry, reason = suggest_entry(header, "additions.csv")
    assert entry == SourceEntry(path="additions.csv", kind="contracts", preset="connectwise-additions",
                                columns={"client": "Customer"})
    assert reason.startswith("closest preset connectwise-additions")


def test_a_usage_file_with_a_unit_cost_is_read_as_usage_not_as_a_catalog() -> None:
    """UI tour 2: the canonical usage columns of the connector tests' files (client, sku, quantity,
    period_start, vendor, unit_cost) were guessed as a catalog (sku, vendor, unit_cost: a better average over
    fewer fields), so an upload of usage.csv had every row quarantined. The kind that reads more of the
    header's columns wins."""
    for header in (["client", "sku", "quantity", "period_start", "vendor", "unit_cost"],
                   ["client", "sku", "quantity", "period_start", "unit_cost"]):
        entry, reason = suggest_entry(header, "march.csv")
        assert entry is not None and entry.kind == "usage", reason
    entry, _ = suggest_entry(["sku", "description", "list_price", "unit_cost", "vendor", "vendor_sku"], "x.csv")
    assert entry is not None and entry.kind == "catalog"
