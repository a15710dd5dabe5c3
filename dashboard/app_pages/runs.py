"""Runs: the history of reconciliations (stored runs arrive with the database)."""

from __future__ import annotations

import streamlit as st

from dashboard import ui
from recon import views

context = ui.require_context()
ui.header("Runs", "What was known when? Open a past run or compare two runs.")
active, result = context.active, context.result
st.info("This session's run is shown below. Stored run history, comparison and audit packs need the database.",
        icon=":material/database:")
row = st.columns(3)
row[0].metric("Periods", f"{result.periods[0]} to {result.periods[-1]}" if result.periods else "—", border=True)
row[1].metric("Discrepancies", f"{result.metrics.overall['discrepancies']:,}", border=True)
row[2].metric("Leakage", ui.loss(result.metrics.overall["leakage"], context.currency), border=True)
ui.table(views.import_report(result.imports), key="runs.imports", currency=context.currency, file_name="run_inputs.csv")
