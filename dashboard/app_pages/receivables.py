"""Receivables: who owes us what, for how long, and which invoices were short-paid."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, ui
from recon import views

context = ui.require_context()
view, currency = context.view, context.currency
overall = view.metrics.overall
ui.header("Receivables", "Which invoices are overdue or short-paid, and how old is the open balance? "
          "(Invoices dated in the selected periods, as of the run's end.)")

row = ui.metric_row()
row.metric("Open balance", ui.money(overall.ar_balance, currency), border=True,
           help=f"{overall.open_invoices} open invoice(s).")
row.metric("Overdue", ui.money(overall.overdue_balance, currency), border=True,
           help="Open balance past its due date.")
row.metric("DSO (days)", "—" if overall.dso is None else f"{overall.dso:.1f}", border=True,
           help="Days sales outstanding: open balance / billed revenue x days in the selected periods.")
row.metric("Short-paid invoices", f"{overall.short_paid_invoices}", border=True,
           help="Marked paid, but payments fall short of the total.")

book = view.receivables
# one above the other (side by side at 1024 px the chart's title was cut, its labels unreadable, and the
# table showed no balance)
st.plotly_chart(charts.build_aging_figure(views.aging_table(book), currency), key="receivables.aging",
                width="stretch")
st.subheader("Overdue")
ui.table(views.overdue_invoices(book), key="receivables.overdue", currency=currency, file_name="overdue.csv",
         columns=["invoice_number", "client", "balance", "days_past_due", "aging_bucket", "due_date", "total",
                  "paid"],
         labels={"aging_bucket": "Aging", "days_past_due": "Days late"})
st.subheader("Who owes the most")
ui.table(views.receivables_by_client(book), key="receivables.by_client", currency=currency,
         file_name="receivables_by_client.csv",
         labels={"oldest_days_past_due": "Oldest (days late)", "open_invoices": "Open invoices"})
st.subheader("Short-paid")
st.caption("Invoices marked paid whose payments do not cover the total.")
ui.table(views.short_paid_invoices(book), key="receivables.short_paid", currency=currency,
         file_name="short_paid.csv",
         columns=["invoice_number", "client", "balance", "total", "paid", "status", "invoice_date",
                  "last_payment_date"])
with st.expander(f"All {len(book):,} invoices"):
    ui.table(book, key="receivables.all", currency=currency, file_name="receivables.csv")
