"""Runs: every stored reconciliation, re-opened read-only, compared, and exported as an audit pack."""

from __future__ import annotations

import streamlit as st

from dashboard import session, ui
from recon import access, views
from recon.exports import audit
from recon.keys import describe_periods
from recon.metrics import describe_findings
from recon.rules import INFORMATIONAL_TYPES

COMPARE_COLUMNS = ("period", "client", "sku", "label", "old_variance", "new_variance", "variance_delta", "variance",
                   "status", "expected_amount", "billed_amount", "detail")
session.require(access.VIEW_RUNS)
context = ui.require_context()
currency = context.currency
ui.header("Runs", "What was known when? Open any past run, compare two runs, download the evidence.")
runs = session.stored_runs()
runs = runs.assign(found=[describe_findings(total - informational, informational)
                          for total, informational in zip(runs["discrepancies"], runs["informational"], strict=True)])
on_screen = f"#{context.active.run_id}" if context.active.run_id is not None else "not stored (yet)"
st.caption(f"{len(runs)} stored run(s); the run on screen is {on_screen}. Select a run to open it.")
event = ui.table(views.as_read(runs), key="runs.list", currency=currency, file_name="runs.csv", selection="single-row",
                 # the figures before the label (file names): at 1024 px they are what is in view
                 columns=["id", "created_at", "periods", "leakage", "overcharge", "found", "billed", "expected",
                          "label", "by"],
                 labels={"id": "Run", "created_at": "Created (UTC)", "found": "Discrepancies"})
picked = ui.selected_rows(event)
chosen_id = int(runs["id"].iloc[picked[0]]) if picked else context.active.run_id

if chosen_id is not None:
    stored = session.stored_run(chosen_id)
    overall = stored.overall
    st.subheader(f"Run #{stored.id} · {ui.md(stored.label or 'no label')}")
    st.caption(f"Created {stored.created_at:%Y-%m-%d %H:%M} UTC by {ui.md(stored.by or 'unknown')} · periods "
               f"{describe_periods(stored.periods)} · engine {stored.engine_version} · read-only")
    row = ui.metric_row()
    row.metric("Billed revenue", ui.money(overall.billed_revenue, currency), border=True)
    row.metric("Leakage", ui.loss(overall.leakage, currency), border=True)
    row.metric("Overcharge", ui.gain(overall.overcharge, currency), border=True)
    informational = int(stored.discrepancies["type"].isin(INFORMATIONAL_TYPES).sum())
    row.metric("Discrepancies", describe_findings(len(stored.discrepancies) - informational, informational),
               border=True)
    tabs = st.tabs(["Discrepancies", "Inputs", "Settings"])
    with tabs[0]:
        ui.table(views.with_labels(stored.discrepancies), key="runs.discrepancies", currency=currency,
                 file_name=f"run-{stored.id}-discrepancies.csv",
                 columns=["period", "client", "sku", "label", "variance", "status", "expected_amount",
                          "billed_amount"], labels={"label": "Finding"})
    with tabs[1]:
        ui.table(stored.imports, key="runs.imports", currency=currency, file_name=f"run-{stored.id}-inputs.csv")
    with tabs[2]:
        ui.table(views.settings_table(stored.settings.to_dict()), key="runs.settings", currency=currency,
                 file_name=f"run-{stored.id}-settings.csv")
    ui.export_button("Audit pack (XLSX)", lambda: audit.audit_pack(session.store(), stored.id),
                     file_name=f"audit-pack-run-{stored.id}.xlsx", key="runs.audit_pack",
                     mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     action=access.EXPORT_AUDIT_PACK, detail=f"run {stored.id}", icon=":material/inventory_2:",
                     type="primary", help="Summary, discrepancies with resolution history, inputs with hashes, "
                                          "settings.")

st.subheader("Compare two runs")
ids = runs["id"].tolist()
if len(ids) < 2:
    st.caption("A comparison needs two stored runs: reconcile again after a fix or a new month.")
    st.stop()
left, right = st.columns(2)
old_id = left.selectbox("Older run", ids, index=1, key="runs.old", format_func=lambda value: f"#{value}")
new_id = right.selectbox("Newer run", ids, index=0, key="runs.new", format_func=lambda value: f"#{value}")
comparison = session.run_comparison(old_id, new_id)
if comparison.periods_left_out:  # the older run looked at months the newer one did not: those are not compared
    st.caption(f"Compared over the newer run's months ({describe_periods(comparison.periods_compared)}): the older "
               f"run's findings in {describe_periods(comparison.periods_left_out)} are neither cleared nor counted "
               "in the leakage change.")
row = ui.metric_row()
row.metric("New findings", f"{len(comparison.new)}", border=True)
row.metric("Cleared", f"{len(comparison.cleared)}", border=True, help="In the older run, gone in the newer one.")
row.metric("Changed", f"{len(comparison.changed)}", border=True)
row.metric("Leakage change", ui.money(-comparison.leakage_delta, currency, signed=True), border=True,
           delta="more leakage" if comparison.leakage_delta > 0 else "less leakage" if comparison.leakage_delta
           else None, delta_color="inverse", delta_arrow="auto",
           help="Leakage is a loss: more leakage in the newer run is a negative change. Over the newer run's "
                "months, as the cleared findings.")
tabs = st.tabs([f"New ({len(comparison.new)})", f"Cleared ({len(comparison.cleared)})",
                f"Changed ({len(comparison.changed)})"])
for tab, (name, frame) in zip(tabs, (("new", comparison.new), ("cleared", comparison.cleared),
                                     ("changed", comparison.changed)), strict=True):
    with tab:
        listed = views.with_labels(frame)
        ui.table(listed, key=f"runs.compare.{name}", currency=currency,
                 file_name=f"runs-{old_id}-{new_id}-{name}.csv", labels={"label": "Finding"},
                 columns=[column for column in COMPARE_COLUMNS if column in listed])
