"""A pulled source is the file it is equivalent to: same bytes, same hash, same preset, same quarantine."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from recon.connectors.frames import Pulled, as_file, load_pulled, text_frame
from recon.ingest.files import load_source
from recon.ingest.profile import SourceEntry
from recon.ingest.reading import sha256_of
from recon.money import from_decimal, parse_money

COLUMNS = ["CustomerName", "ProductId", "ProductName", "Quantity", "BillableQuantity", "ChargeStartDate",
           "ChargeEndDate", "EffectiveUnitPrice", "Subtotal", "SubscriptionId"]
ROWS = [
    {"CustomerName": "Globex", "ProductId": "P1", "ProductName": "M365 BP", "Quantity": 12,
     "BillableQuantity": Decimal("10.5"), "ChargeStartDate": "2026-02-01T00:00:00Z",
     "ChargeEndDate": "2026-02-28T00:00:00Z", "EffectiveUnitPrice": Decimal("19.8000"), "Subtotal": Decimal("207.9"),
     "SubscriptionId": "s1"},
    {"CustomerName": "Acme", "ProductId": "P1", "Quantity": 3, "BillableQuantity": None,
     "ChargeStartDate": "2026-02-01", "ChargeEndDate": "2026-02-28", "EffectiveUnitPrice": True},
]


def pulled(rows: list[dict[str, object]]) -> Pulled:
    return Pulled("usage", "lines", text_frame(rows, COLUMNS), preset="microsoft-nce-recon")


def test_a_pull_reads_as_the_export_it_is() -> None:
    file = as_file(pulled(ROWS), "msft@2026-02")
    lines = file.content.decode().splitlines()
    assert lines[0] == ",".join(COLUMNS) and lines[1].startswith("Acme,P1,,3,,2026-02-01,")
    loaded = load_pulled(file)
    as_upload = load_source(file.content, "msft@2026-02:lines",
                            SourceEntry(path="*", kind="usage", preset="microsoft-nce-recon"))
    pd.testing.assert_frame_equal(loaded.frame, as_upload.frame)
    assert loaded.record.sha256 == sha256_of(file.content) == as_upload.record.sha256
    assert (loaded.record.rows_in, loaded.record.rows_loaded, loaded.record.rows_quarantined) == (2, 1, 1)
    assert loaded.frame["quantity"].tolist() == [10.5]  # BillableQuantity, not Quantity
    assert loaded.frame["vendor"].tolist() == ["Microsoft"]  # the preset's constant
    assert loaded.frame["unit_cost"].tolist() == [from_decimal("19.8")]
    assert loaded.issues["line"].tolist() == [2] and (file.name, file.kind) == ("msft@2026-02:lines", "usage")
    assert loaded.report.read_as == "pulled, read with preset microsoft-nce-recon"


def test_row_order_does_not_change_the_hash() -> None:
    assert as_file(pulled(ROWS), "x").content == as_file(pulled(ROWS[::-1]), "x").content


def test_cells_keep_exact_decimals_and_iso_dates() -> None:
    frame = text_frame([{"a": Decimal("0.1000"), "b": pd.Timestamp("2026-02-01").date(), "c": None, "d": 1.25}],
                       ["a", "b", "c", "d"])
    assert frame.iloc[0].tolist() == ["0.1000", "2026-02-01", "", "1.25"]


def test_a_float_from_a_database_is_written_as_the_decimal_it_shows() -> None:
    # A SQL source's REAL column comes as a Python float; str() writes one below 0.0001 in exponent form
    # ("5e-05"), which no money reader takes: the row was quarantined ("not money"). Written as the
    # decimal the float's shortest repr shows, it reads as what the database holds.
    frame = text_frame([{"cost": 0.00005, "price": 19.8, "big": 1e16, "whole": 3.0}], ["cost", "price", "big", "whole"])
    assert frame.iloc[0].tolist() == ["0.00005", "19.8", "10000000000000000", "3.0"]
    assert parse_money(frame["cost"]).tolist() == [from_decimal("0.0001")]
