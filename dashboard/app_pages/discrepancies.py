"""Discrepancies: the work list. Narrow it, sort it, open the evidence, resolve."""

from __future__ import annotations

import streamlit as st

from dashboard import session, ui
from recon import access, views
from recon.explain import explain
from recon.fixes import KIND_NAMES, MAY_APPROVE
from recon.keys import month_name
from recon.metrics import describe_findings
from recon.money import from_decimal
from recon.rules import finding_name
from recon.status import CLOSED_STATUSES, OPEN

context = ui.require_context()
currency = context.currency
ui.header("Discrepancies", "Which findings should I work on first, and what is behind each one?")

found = context.view.discrepancies
SHOWN = ["period", "client", "label", "variance", "status"]
MORE = ["product", "note", "expected_amount", "billed_amount", "expected_qty", "billed_qty", "expected_unit_price",
        "billed_unit_price", "sku", "account_manager", "direction", "detail", "fingerprint"]
MOST_SHOWN = 5  # selected findings explained one by one (evidence and all); more are resolved together
SAVED = "discrepancies.saved"  # resolutions saved in this session: each one gives the grid a new key


def start_afresh() -> None:
    """After a resolution is saved (or findings reopened): the grid comes back with nothing selected. Its
    selection is row positions, so once the resolved findings leave the list the same positions would pick
    other findings, under a form still showing the status and note just saved."""
    st.session_state[SAVED] = st.session_state.get(SAVED, 0) + 1


saved = st.session_state.get(SAVED, 0)
table_key = f"discrepancies.table.{saved}" if saved else "discrepancies.table"

with st.container(border=True):
    first, second, third = st.columns([2, 2, 3])
    types = first.multiselect("Type", views.choices(found["type"]), key="discrepancies.types",
                              format_func=finding_name, placeholder="All types")
    statuses = second.multiselect("Status", views.RESOLUTION_STATUSES, key="discrepancies.statuses",
                                  placeholder="Any status")
    directions = third.pills("Direction", ["under", "over"], selection_mode="multi", key="discrepancies.directions",
                             format_func=lambda value: "Under-billed" if value == "under" else "Over-billed")
    first, second, third = st.columns([2, 2, 3])  # the order's words whole at 1024 px
    text = first.text_input("Search", key="discrepancies.text", placeholder="client, SKU, product, detail …")
    minimum = second.number_input(f"Minimum amount ({currency})", min_value=0.0, step=50.0,
                                  key="discrepancies.minimum")
    sort_by = third.selectbox("Order", list(views.SORT_ORDERS), key="discrepancies.sort",
                              format_func=lambda value: {"impact": "Largest money first", "period": "Period",
                                                         "client": "Client", "variance": "Biggest loss first"}[value])
    first, second = st.columns(2)
    hide_closed = first.toggle("Hide resolved", value=True, key="discrepancies.hide_closed",
                               help="Findings billed, credited or accepted. Open and disputed ones stay.")
    informational = second.toggle("Show informational", value=True, key="discrepancies.informational",
                                  help="Negative margin findings: billed below vendor cost, not money owed.")
    more = st.multiselect("More columns", MORE, key="discrepancies.columns", format_func=ui.column_title,
                             placeholder="Add columns")

query = views.WorklistQuery(types=tuple(types), directions=tuple(directions or ()), statuses=tuple(statuses),
                            min_amount=from_decimal(str(minimum)), text=text, include_informational=informational,
                            sort_by=sort_by, hide_closed=hide_closed)
rows = views.worklist(found, query)
totals = views.worklist_totals(rows)
row = ui.metric_row()
row.metric("Findings", describe_findings(totals["actionable"], totals["informational"]), border=True,
           help="Actionable findings are money billed wrongly; informational ones (sold below vendor cost) "
                "count no money.")
row.metric("Under-billed", ui.loss(totals["under"], currency), border=True)
row.metric("Over-billed", ui.gain(totals["over"], currency), border=True)

may_resolve = session.can(access.RESOLVE)
st.caption("Select rows to see what each finding is, its evidence" +
           (", and resolve them (one or many at once)." if may_resolve else "."))
event = ui.table(rows, key=table_key, currency=currency, file_name="discrepancies.csv",
                 columns=[*SHOWN, *more], labels={"label": "Finding"}, selection="multi-row", height=320,
                 pinned=["client", "variance"],  # 1024 px beside the sidebar: the five columns in view
                 widths={"client": 140, "variance": 90, "period": 65, "label": 160, "status": 70})
picked = [position for position in ui.selected_rows(event) if position < len(rows)]
if picked:
    chosen = rows.iloc[picked]
    if may_resolve:
        with st.form("discrepancies.resolve", border=True):
            st.markdown(f"**Resolve {len(chosen)} selected finding(s)** · "
                        f"{ui.money(views.net_variance(chosen), currency, signed=True)} in total · "
                        f"as **{ui.md(session.user_name())}**")
            left, middle = st.columns([2, 3])
            status = left.selectbox("Status", views.RESOLUTION_STATUSES, key="discrepancies.status", index=None,
                                    placeholder="Choose a status",
                                    help="billed / credited count as recovered; accepted closes it as it is; "
                                         "disputed stays open; open reopens a resolved finding.")
            note = middle.text_input("Note", key="discrepancies.note", placeholder="e.g. invoiced on INV-2041")
            if st.form_submit_button("Save resolution", type="primary", icon=":material/task_alt:"):
                if status is None:
                    st.warning("Choose a status first.", icon=":material/warning:")
                else:
                    session.resolve([str(value) for value in chosen["fingerprint"]], status, note)
                    st.toast(f"{len(chosen)} finding(s) marked {status}.", icon=":material/task_alt:")
                    start_afresh()
                    st.rerun()
        closed = chosen[chosen["status"].isin(CLOSED_STATUSES)]
        if len(closed) and st.button(f"Reopen {len(closed)} resolved finding(s)", key="discrepancies.reopen",
                                     icon=":material/undo:"):
            session.resolve([str(value) for value in closed["fingerprint"]], OPEN, "reopened")
            st.toast(f"{len(closed)} finding(s) reopened.", icon=":material/undo:")
            start_afresh()
            st.rerun()
    proposed = session.run_fixes()
    proposed = proposed[proposed["fingerprint"].isin(chosen["fingerprint"].astype(str))]
    if len(proposed):
        with st.container(border=True):
            st.markdown(f"**PSA fixes proposed for the selected finding(s)** · {len(proposed)} · the line before "
                        "and after, the one-time money and the date")
            named = views.with_fix_products(proposed, chosen)
            ui.table(named.assign(change=proposed["kind"].map(KIND_NAMES)), key="discrepancies.fixes",
                     currency=currency, download=False,
                     columns=["client", "product", "change", "before_qty", "after_qty", "amount", "monthly_change",
                              "effective_date", "status"],
                     labels={"amount": "One-time amount", "before_qty": "Quantity before",
                             "after_qty": "Quantity after"})
            ready = proposed.loc[proposed["status"].isin(MAY_APPROVE), "fix_key"].astype(str).tolist()
            if session.can(access.APPROVE_FIX) and ready:
                with st.form("discrepancies.approve_fixes", border=False):
                    left, right = st.columns([2, 3])
                    same_date = left.date_input("One effective date for all (optional)", value=None,
                                                key="discrepancies.fix_date")
                    if right.form_submit_button(f"Approve {len(ready)} fix(es)", type="primary",
                                                icon=":material/check_circle:"):
                        count = session.approve_fixes(ready, same_date)
                        st.toast(f"{count} fix(es) approved: apply them on the Fixes page.",
                                 icon=":material/check_circle:")
                        st.rerun()
            st.page_link("app_pages/fixes.py", label="Edit, apply or export them on the Fixes page",
                         icon=":material/build:")
    lines = explain(chosen.head(MOST_SHOWN), currency)
    if len(chosen) > MOST_SHOWN:
        st.caption(f"The first {MOST_SHOWN} of {len(chosen)} selected findings are explained below.")
    for position, (index, finding) in enumerate(chosen.head(MOST_SHOWN).iterrows()):
        product = finding["product"] if isinstance(finding["product"], str) and finding["product"] else finding["sku"]
        title = (f"{ui.md(finding['client'])} · {ui.md(product)} · "
                 f"{month_name(str(finding['period']))}: {ui.md(finding['label'])}")
        with st.expander(title, expanded=position == 0):
            st.markdown(f"**{ui.md(lines[index])}**")
            if st.button(f"Open {ui.md(finding['client'])}", key=f"discrepancies.open_client.{position}",
                         icon=":material/apartment:", type="tertiary"):
                st.session_state["client.selected"] = str(finding["client"])
                st.switch_page("app_pages/client.py")
            ui.evidence(context, str(finding["period"]), str(finding["client"]), str(finding["sku"]),
                        key=f"discrepancies.evidence.{position}")
            history = session.resolution_history(str(finding["fingerprint"]))
            if len(history):
                st.markdown("**Resolution history**")
                ui.table(history, key=f"discrepancies.history.{position}", currency=currency,
                         file_name="history.csv")
