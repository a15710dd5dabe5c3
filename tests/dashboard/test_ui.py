"""The shared table rendering: what a cell shows."""

import pandas as pd

from dashboard.ui import column_title, display_frame, names_label


def test_a_table_shows_money_as_currency_and_a_missing_text_as_a_blank() -> None:
    frame = pd.DataFrame({
        "variance": pd.array([12_345, None], dtype="Int64"),  # money: Int64 units of 1/10,000
        "note": pd.array(["invoiced on INV-2041", None], dtype="string"),
        "client": pd.Categorical(["Acme", None]),
        "detail": pd.Series(["price 22.00", None], dtype=object),
        "billed_qty": pd.array([3.0, None], dtype="Float64"),
    })
    shown = display_frame(frame)
    assert shown["variance"].tolist() == [1.2345, pd.NA]
    assert shown["note"].tolist() == ["invoiced on INV-2041", ""]
    assert shown["client"].tolist() == ["Acme", ""]
    assert shown["detail"].tolist() == ["price 22.00", ""]
    assert shown["billed_qty"].isna().tolist() == [False, True]  # a missing number stays missing
    assert frame["note"].isna().tolist() == [False, True]  # the frame given (and its CSV) is untouched


def test_column_titles_read_as_words() -> None:
    assert [column_title(name) for name in ("sku", "vendor_sku", "billed_unit_price", "sha256", "import_id")] == [
        "SKU", "Vendor SKU", "Billed unit price", "SHA-256", "Import ID"]


def test_a_runs_label_names_whole_files_and_counts_the_rest() -> None:
    """The tour's files (/tmp/uitour/90-*.png) read "catalog.csv, client_aliases.csv, contracts.csv, contracts_au"."""
    names = ["catalog.csv", "client_aliases.csv", "contracts.csv", "contracts_autotask.csv", "invoices.csv"]
    assert names_label(names) == "catalog.csv, client_aliases.csv, contracts.csv and 2 more"
    assert names_label(names[:2]) == "catalog.csv, client_aliases.csv"
    assert names_label(["a" * 70, "b.csv"]) == "a" * 70 + " and 1 more"  # one name longer than the limit: whole
