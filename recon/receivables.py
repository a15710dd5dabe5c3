"""Receivables: per invoice, what was billed, paid and is still owed (PRODUCT.md section 4, last part)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from recon.cells import is_in, per_distinct
from recon.settings import Settings

AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
RECEIVABLE_COLUMNS = ("invoice_number", "client", "invoice_date", "due_date", "status", "total", "paid",
                      "balance", "days_past_due", "aging_bucket", "short_paid", "last_payment_date")


def receivables(invoices: pd.DataFrame, payments: pd.DataFrame, settings: Settings, as_of: date) -> pd.DataFrame:
    """One row per invoice: ``total`` (line amounts + tax), ``paid`` (payments up to ``as_of``),
    ``balance``, ``days_past_due`` and ``aging_bucket`` of the open balance ("paid" when settled), and
    ``short_paid`` where the invoice is marked paid but payments fall short of its total. Money in Int64
    units; the due date defaults to the invoice date plus the payment terms."""
    cutoff = pd.Timestamp(as_of)
    lines = invoices.assign(line_total=invoices["amount"].fillna(0) + invoices["tax"].fillna(0))
    book = lines.groupby("invoice_number", sort=True).agg(
        client=("client", "first"), invoice_date=("invoice_date", "min"), due_date=("due_date", "min"),
        status=("status", "min"), total=("line_total", "sum")).reset_index()
    book["due_date"] = book["due_date"].fillna(book["invoice_date"] + pd.Timedelta(days=settings.payment_terms_days))
    received = payments[payments["payment_date"] <= cutoff].groupby("invoice_number").agg(
        paid=("amount", "sum"), last_payment_date=("payment_date", "max"))
    # (pandas cannot merge two empty Arrow-backed key columns: "cannot construct ChunkedArray from empty
    # vector"; with no payment there is nothing to merge)
    book = book.merge(received, left_on="invoice_number", right_index=True, how="left") if len(received) else \
        book.assign(paid=pd.NA, last_payment_date=pd.NaT)
    book["paid"] = book["paid"].fillna(0).astype("Int64")
    book["total"] = book["total"].astype("Int64")
    book["balance"] = (book["total"] - book["paid"]).astype("Int64")
    open_balance = book["balance"] > settings.amount_tolerance_units
    overdue_days = (cutoff - book["due_date"]).dt.days.clip(lower=0)
    book["days_past_due"] = overdue_days.where(open_balance, 0).astype("int64")
    book["aging_bucket"] = np.where(open_balance, aging_bucket(book["days_past_due"]), "paid")
    marked_paid = per_distinct(lambda status: status.astype("string").str.casefold().eq("paid"),
                               book["status"]).fillna(False)
    book["short_paid"] = (marked_paid & open_balance).astype(bool)
    return book.reindex(columns=list(RECEIVABLE_COLUMNS))


def aging_bucket(days_past_due: pd.Series) -> np.ndarray:
    """Days past due -> current, 1-30, 31-60, 61-90, 90+."""
    edges = [0, 30, 60, 90]
    index = np.searchsorted(edges, days_past_due.to_numpy(), side="left")
    return np.array(AGING_BUCKETS)[index]


def unapplied_payments(invoices: pd.DataFrame, payments: pd.DataFrame) -> pd.DataFrame:
    """Payments naming an invoice number that no invoice line has."""
    known = is_in(payments["invoice_number"], invoices["invoice_number"])
    return payments[~known].reset_index(drop=True)
