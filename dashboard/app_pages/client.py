"""Client: one client's billing story for the account manager's conversation."""

from __future__ import annotations

from datetime import date

import streamlit as st

from dashboard import charts, data, session, ui
from recon import views
from recon.exports import statements
from recon.keys import month_name

context = ui.require_context()
currency = context.currency
ui.header("Client", "What should I raise with this client: where did we under- or over-bill them, and why?")

clients = list(context.view.clients)
if not clients:
    st.info("No client matches the filters in the sidebar.", icon=":material/filter_alt:")
    st.stop()
if st.session_state.get("client.selected") not in clients:  # start with the client with most at stake
    ranked = views.top_clients(context.view.metrics.by_client, limit=1)
    st.session_state["client.selected"] = str(ranked["client"].iloc[0]) if len(ranked) else clients[0]
client = st.selectbox("Client", clients, key="client.selected")
view = data.run_view(context.key, context.filters.with_clients(client), context.resolutions_key,
                     context.result, context.resolutions)
overall = view.metrics.overall
manager = views.account_manager(view)
st.caption(f"Account manager: **{ui.md(manager) if manager else 'not named on a contract'}** · "
           f"{month_name(view.periods[0]) if view.periods else '-'} to "
           f"{month_name(view.periods[-1]) if view.periods else '-'}")

row = ui.metric_row()
row.metric("Billed", ui.money(overall.billed_revenue, currency), border=True)
row.metric("Expected", ui.money(overall.expected_revenue, currency), border=True)
row.metric("Under-billed", ui.loss(overall.leakage, currency), border=True)
row.metric("Over-billed", ui.gain(overall.overcharge, currency), border=True)
row.metric("Gross margin", ui.percent(overall.gross_margin_pct), border=True,
           help=f"{ui.money(overall.gross_margin, currency)} after "
                f"{ui.money(overall.vendor_cost, currency)} of vendor cost.")

st.markdown("**What this client owes us** (invoices dated in these periods, as of the run's end)")
owing = ui.metric_row()
owing.metric("Open balance", ui.money(overall.ar_balance, currency), border=True,
             help=f"{overall.open_invoices} open invoice(s) not yet paid in full.")
owing.metric("Overdue", ui.money(overall.overdue_balance, currency), border=True,
             help="Open balance past its due date.")
owing.metric("Short-paid invoices", f"{overall.short_paid_invoices}", border=True,
             help="Marked paid, but payments fall short of the total.")

# one chart a row (side by side at 1024 px the legend covered each title and the months turned aslant)
st.plotly_chart(charts.build_billed_vs_expected_figure(view.metrics.by_period, currency,
                                                       title="Was this client billed what it should have been?"),
                key="client.billed_vs_expected", width="stretch")
st.plotly_chart(charts.build_trend_figure(view.metrics.by_period, currency,
                                          title="When did this client's billing go wrong?"),
                key="client.trend", width="stretch")

st.subheader("Largest differences")
top = views.top_findings(view.discrepancies, limit=5)
if top.empty:
    st.success(f"{ui.md(client)} was billed as expected in these periods.", icon=":material/check_circle:")
else:
    ui.table(top, key="client.top", currency=currency, file_name=f"{client} top differences.csv",
             columns=["period", "product", "variance", "label", "detail"],  # the money in view at 1024 px
             labels={"label": "Finding", "variance": "Billed - expected"})

with st.expander("Margin by product"):
    ui.table(views.margin_by_product(view.keys), key="client.margins", currency=currency,
             file_name=f"{client} margin by product.csv")

st.subheader("Every finding, with its evidence")
st.caption("Select a row to see the contract, vendor usage and invoice rows behind it.")
found = view.discrepancies
event = ui.table(found, key="client.findings", currency=currency, file_name=f"{client} discrepancies.csv",
                 columns=["period", "product", "variance", "label", "status", "expected_amount", "billed_amount",
                          "expected_qty", "billed_qty", "sku", "direction"],
                 labels={"label": "Finding"}, selection="single-row")
picked = ui.selected_rows(event)
if picked and picked[0] < len(found):
    chosen = found.iloc[picked[0]]
    ui.evidence(context, str(chosen["period"]), client, str(chosen["sku"]), key="client.evidence")

st.subheader("Statement for the client")
st.caption("Billing differences in words the client reads (internal findings such as margin are left out).")
statement = statements.client_statement(view, client, date.today(), context.result.resolved.get("invoices"),
                                        session.current_company())
label, amount = statement.balance
st.markdown(f"The statement says **{label}: {ui.money(amount, currency)}** · {len(statement.lines)} line(s)")
if not statement.company.name:
    st.caption("Your company's name, address and logo print at the top once they are set on Settings (admins).")
left, middle = st.columns(2)  # each button whole at 1024 px (a third of the width cut its label)
with left:
    ui.export_button("Statement (XLSX)", lambda: statements.statement_xlsx(statement),
                     file_name=f"{client} statement.xlsx", key="client.statement_xlsx",
                     mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     icon=":material/table_view:", width="stretch", detail="client statement")
with middle:
    ui.export_button("Statement (PDF)", lambda: statements.statement_pdf(statement),
                     file_name=f"{client} statement.pdf", key="client.statement_pdf", mime="application/pdf",
                     icon=":material/picture_as_pdf:", width="stretch", detail="client statement")
