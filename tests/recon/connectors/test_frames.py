"""A pulled source is the file it is equivalent to: same bytes, same hash, same quarantine."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from recon.connectors.frames import Pulled, as_file, load_pulled, text_frame
from recon.io import load_file, sha256_of
from recon.money import from_decimal

MAPPING = {"client": "CustomerName", "sku": "ProductId", "quantity": "BillableQuantity",
           "period_start": "ChargeStartDate"}


def pulled(rows: list[dict[str, object]]) -> Pulled:
    columns = ["CustomerName", "ProductId", "Quantity", "BillableQuantity", "ChargeStartDate", "UnitPrice"]
    return Pulled("usage", "lines", text_frame(rows, columns), MAPPING)


ROWS = [
    {"CustomerName": "Globex", "ProductId": "P1", "Quantity": 12, "BillableQuantity": Decimal("10.5"),
     "ChargeStartDate": "2026-02-01T00:00:00Z", "UnitPrice": Decimal("22.0000")},
    {"CustomerName": "Acme", "ProductId": "P1", "Quantity": 3, "BillableQuantity": None,
     "ChargeStartDate": "2026-02-01", "UnitPrice": True},
]


def test_a_pull_reads_as_its_file() -> None:
    file = as_file(pulled(ROWS), "msft@2026-02")
    content = file.content
    lines = content.decode().splitlines()
    assert lines[0] == "client,sku,Quantity (source),quantity,period_start,UnitPrice"  # Quantity set aside
    assert lines[1] == "Acme,P1,3,,2026-02-01,true" and lines[2].startswith("Globex,P1,12,10.5,")
    loaded = load_pulled(file)
    as_upload = load_file(content, "msft@2026-02:lines", "usage")
    pd.testing.assert_frame_equal(loaded.frame, as_upload.frame)
    assert loaded.record.sha256 == sha256_of(content) == as_upload.record.sha256
    assert (loaded.record.rows_in, loaded.record.rows_loaded, loaded.record.rows_quarantined) == (2, 1, 1)
    assert loaded.frame["quantity"].tolist() == [10.5]  # BillableQuantity, not Quantity
    assert loaded.issues["line"].tolist() == [2] and (file.name, file.kind) == ("msft@2026-02:lines", "usage")


def test_row_order_does_not_change_the_hash() -> None:
    assert as_file(pulled(ROWS), "x").content == as_file(pulled(ROWS[::-1]), "x").content


def test_cells_keep_exact_decimals_and_iso_dates() -> None:
    frame = text_frame([{"a": Decimal("0.1000"), "b": pd.Timestamp("2026-02-01").date(), "c": None, "d": 1.25}],
                       ["a", "b", "c", "d"])
    assert frame.iloc[0].tolist() == ["0.1000", "2026-02-01", "", "1.25"]
    assert from_decimal("0.1000") == 1000
