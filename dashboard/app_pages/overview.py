"""Overview: how much revenue leaks, where, and whether it is getting better."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, ui
from recon import views

context = ui.require_context()
view, currency = context.view, context.currency
overall = view.metrics.overall
ui.header("Overview", "How much revenue is leaking, where, and is it getting better? "
          f"{len(view.periods)} period(s), {overall.keys:,} client-product-months compared.")

trend = view.metrics.by_period
row = ui.metric_row()
# chips: the last month's change against the month before; a loss grows downwards (leakage is negative)
cards = [
    ("Billed revenue", ui.money(overall.billed_revenue, currency), "billed_revenue", "normal",
     "Sum of invoice line amounts in the selected periods."),
    ("Expected revenue", ui.money(overall.expected_revenue, currency), "expected_revenue", "off",
     "What should have been billed: vendor usage or contract quantity at the expected price."),
    ("Leakage (under-billed)", ui.loss(overall.leakage, currency), "leakage", "normal",
     "Money not billed that should have been: the sum of under-billed variances, shown as a loss."),
    ("Overcharge (refunds owed)", ui.gain(overall.overcharge, currency), "overcharge", "inverse",
     "Money billed that should not have been: a refund exposure."),
]
for label, value, series, colour, explanation in cards:
    sparkline, change = ui.sparkline(trend, series, currency)
    row.metric(label, value, delta=change, delta_color=colour, delta_arrow="auto", chart_data=sparkline,
               chart_type="bar", border=True,
               help=explanation + (" The chip: the last month against the month before." if change else ""))
row = ui.metric_row()
row.metric("Leakage rate", ui.percent(overall.leakage_rate, 2), border=True,
           help="Leakage / expected revenue.")
row.metric("Billing accuracy", ui.percent(overall.billing_accuracy), border=True,
           help="Client-product-months with no discrepancy / all of them.")
row.metric("Mapping coverage", ui.percent(overall.mapping_coverage), border=True,
           help="Vendor usage rows resolved to a PSA client and product (whole run).")
row.metric("Open exposure", ui.money(overall.open_exposure, currency), border=True,
           delta=f"{ui.money(overall.recovered, currency)} recovered" if overall.recovered
           else None, delta_color="green",
           help="Money at stake in findings not yet resolved as billed or credited.")
usage_notes = views.usage_note_text(overall)
if usage_notes:
    st.caption(usage_notes, help="What reading the vendor rows found beside the quantities (the Sources page "
                                 "lists them).")

# One chart a row: beside each other at 1024 px each chart had 270 px, its money ticks turned aslant and
# overlapping, product names and titles cut (issue 22 review); the charts read top down instead.
st.plotly_chart(charts.build_trend_figure(trend, currency), key="overview.trend", width="stretch")
st.plotly_chart(charts.build_client_balance_figure(views.top_clients(view.metrics.by_client, 10), currency),
                key="overview.clients", width="stretch")
st.plotly_chart(charts.build_type_figure(view.metrics.by_type, currency), key="overview.types", width="stretch")
st.plotly_chart(charts.build_vendor_figure(views.top_products(view.metrics.by_vendor, 12), currency),
                key="overview.vendors", width="stretch")
st.plotly_chart(charts.build_margin_figure(views.margin_ranking(view.metrics.by_client, 15), currency),
                key="overview.margin", width="stretch")

st.subheader("Clients")
st.caption("Select a client to open its page.")
clients = view.metrics.by_client
ui.table_to_open(views.as_read(clients), key="overview.client_table", column="client", state_key="client.selected",
                 page="app_pages/client.py", currency=currency, file_name="clients.csv",
                 # the money at stake first: at 1024 px what follows the client is what is in view
                 columns=["client", "leakage", "overcharge", "net_variance", "billed_revenue", "expected_revenue",
                          "discrepancies", "leakage_rate", "gross_margin_pct", "account_manager"])
