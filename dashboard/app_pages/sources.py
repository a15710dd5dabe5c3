"""Sources: what the run is made of, and reconciling my own data: files uploaded (canonical or real
exports, ``dashboard.upload``) or a month pulled from a named connection (``dashboard.connect``), both
through the same door (PRODUCT.md section 6)."""

from __future__ import annotations

import streamlit as st

from dashboard import connect, data, session, ui, upload
from recon import access, views
from recon.metrics import TRIAL_WEIGHTING

session.require(access.UPLOAD)
ui.header("Sources", "What went into this run, what was refused, and how do I reconcile my own files?")
context = session.context()

outcome = st.container()  # a fixed slot: the tabs below keep their place (and the open tab) when it fills
done = st.session_state.pop("sources.outcome", None)
if done:
    outcome.success(done, icon=":material/check_circle:")
uploading, connecting = st.tabs(["Upload", "Connect"], key="sources.tab")
with uploading:
    upload.upload_tab()
with connecting:
    connect.connect_tab()
if "sources.done" in st.session_state:  # reconciled: run the page again so every figure is the new run's
    st.session_state["sources.outcome"] = st.session_state.pop("sources.done")
    st.rerun()

st.divider()
if context is None:
    st.info("No run yet: upload or pull contracts, usage and invoices above.", icon=":material/info:")
    st.stop()
result = context.result
reports = data.input_reports(context.active.inputs.files, session.blobs(), session.upload_limits())
summary = views.validation_summary(reports, result.imports)
st.subheader("Files in this run")
totals = views.validation_totals(summary)
row = ui.metric_row()
row.metric("Rows in", f"{totals['rows_in']:,}", border=True)
row.metric("Rows used", f"{totals['rows_used']:,}", border=True)
row.metric("Rows quarantined", f"{totals['rows_quarantined']:,}", border=True,
           help="Rows that could not be used, each with its reason below. Rows in = used + quarantined.")
row.metric("Checks failed", f"{totals['failed']}", border=True,
           help="Data-quality checks per file (required columns, dates, amounts, ...); every row a check fails is "
                "in quarantine.")
ui.table(summary, key="sources.report", currency=context.currency, file_name="imports.csv",
         labels={"read_as": "Read as", "rows_in": "Rows in", "rows_used": "Used", "rows_quarantined": "Quarantined",
                 "blank_rows": "Blank", "passed": "Checks passed", "failed": "Checks failed",
                 "balanced": "In = used + quarantined", "unused_columns": "Columns not used",
                 "absent_columns": "Columns missing", "sha256": "SHA-256"})
with st.expander("Every validation check"):
    ui.table(views.validation_table(reports), key="sources.expectations", currency=context.currency,
             file_name="validation.csv", columns=list(views.CHECK_COLUMNS))
st.subheader("What the vendor rows say")
overall = result.metrics.overall
row = ui.metric_row()
row.metric("Days carried", f"{int(overall.carried_days or 0):,}", border=True,
           help="Days inside a subscription's life that no loaded charge covers: they take the quantity of the "
                "nearest charge. Load (or keep in the store) the earlier month's file to see them.")
row.metric("Trial seats", f"{overall.trial_seats or 0:,}", border=True,
           help=f"Trial seats (Microsoft's Trial qualifier, Pax8's Trial term), {TRIAL_WEIGHTING}: not expected "
                "to be billed.")
row.metric("Unmatched credits", f"{int(overall.unmatched_credits or 0):,}", border=True,
           help="Credits that refund a charge not among the loaded rows. They never take a quantity below zero.")
row.metric("Stored imports drawn on", f"{len(result.history_imports):,}", border=True,
           help="Earlier imports whose charges cover this run's months (an annual charge bought in March counts "
                "in November). The same file imported again is one import: it never counts twice.")
if len(result.unmatched_credits):
    ui.table(result.unmatched_credits, key="sources.unmatched", currency=context.currency,
             file_name="unmatched_credits.csv")
if result.history_imports:
    ui.table(views.import_report(result.history_imports), key="sources.history", currency=context.currency,
             file_name="stored_imports.csv")
st.subheader("Quarantined rows")
if result.quarantine.empty:
    st.success("No row was refused.", icon=":material/check_circle:")
else:
    ui.table(result.quarantine, key="sources.quarantine", currency=context.currency, file_name="quarantine.csv")
