"""Fixes: the PSA change proposed for each finding (issue 21). Review the line before and after, edit,
approve (one effective date for many), write back to ConnectWise / Autotask (a dry run first), or export
for entry by hand."""

from __future__ import annotations

import json

import streamlit as st

from dashboard import session, ui
from recon import access, views
from recon.exports.fixes import fixes_csv, fixes_pdf
from recon.fixes import KIND_NAMES, LINE_KINDS, MAY_APPLY, MAY_APPROVE, MAY_PROPOSE, MAY_REJECT
from recon.money import from_decimal, to_decimal
from recon.rules import finding_names

context = ui.require_context()
currency = context.currency
ui.header("Fixes", "Which changes in the PSA clear the findings, and have they been made?")

fixes = session.run_fixes()
if context.active.run_id is None:
    st.info("This run is not stored yet: fixes are proposed when a run is stored (finance or admin runs it).",
            icon=":material/info:")
    st.stop()
fixes = views.with_fix_products(fixes, context.view.discrepancies).assign(
    change=fixes["kind"].map(KIND_NAMES).fillna(fixes["kind"]), finding=finding_names(fixes["finding_type"]))
fixes = fixes.assign(fix=views.fix_what(fixes))
# What a person acts on. In view at 1024 px beside the sidebar (562 px of grid, 34 of them the selection
# boxes): who (a typical name, "Contoso Dental Group", whole), what changes on which product (a typical
# "quantity · Microsoft 365 Business Premium" whole) and where it stands; the money once and per month and
# the date it takes effect follow, a sideways scroll with the client pinned (the totals are the metrics
# above, and a selected fix shows its line before and after). The product and the change apart, and the
# PSA's own line details, on demand; the fix key never shown.
SHOWN = ["client", "fix", "status", "amount", "monthly_change", "effective_date"]
WIDTHS = {"client": 150, "fix": 306, "status": 72, "amount": 80, "monthly_change": 80, "effective_date": 84}
MORE = ["product", "change", "period", "before_qty", "after_qty", "unit_price", "description", "finding", "sku",
        "agreement_id", "line_id", "approved_by"]
LABELS = {"amount": "One-time", "monthly_change": "Monthly", "effective_date": "Effective",
          "before_qty": "Quantity before", "after_qty": "Quantity after", "agreement_id": "PSA agreement",
          "line_id": "PSA line", "sku": "SKU"}
first, second = st.columns([2, 3])
statuses = first.multiselect("Status", sorted(set(fixes["status"])), key="fixes.statuses", placeholder="Any status")
more = second.multiselect("More columns", MORE, key="fixes.columns", placeholder="Add columns",
                          format_func=lambda column: LABELS.get(column, ui.column_title(column)))
shown = fixes[fixes["status"].isin(statuses)] if statuses else fixes
shown = shown.reset_index(drop=True)

row = ui.metric_row()
row.metric("Fixes", f"{len(shown):,}", border=True)
row.metric("One-time money", ui.money(int(shown["amount"].fillna(0).sum()), currency, signed=True), border=True)
row.metric("Monthly change", ui.money(int(shown["monthly_change"].fillna(0).sum()), currency, signed=True),
           border=True)

st.caption("Select fixes to see the PSA line before and after, and to approve or apply them.")
event = ui.table(shown, key="fixes.table", currency=currency, file_name="fixes.csv", columns=[*SHOWN, *more],
                 labels=LABELS, selection="multi-row", height=380, hidden=["fix_key"], pinned=["client"],
                 widths=WIDTHS)
picked = [position for position in ui.selected_rows(event) if position < len(shown)]
if not picked:
    st.stop()
chosen = shown.iloc[picked]
keys = [str(key) for key in chosen["fix_key"]]
last = chosen.iloc[-1]

# ---------------------------------------------------------------------------------- before / after
st.subheader(ui.md(views.fix_name(last, str(last["change"]))))
line = str(last["kind"]) in LINE_KINDS
before_after = views.fix_before_after(last, line)
left, right = st.columns([3, 2])
with left:
    ui.table(before_after, key="fixes.before_after", currency=currency, download=False,
             labels={"amount": "One-time amount"})


right.markdown(f"**{ui.md(last['description'])}**  \n{ui.md(views.text_or_dash(last['reason']))}  \n"
               f"Agreement / contract **{ui.md(views.text_or_dash(last['agreement_id']))}**, "
               f"line **{ui.md(views.text_or_dash(last['line_id']))}**"
               f", effective **{views.as_date(last['effective_date'])}** · status **{last['status']}**")

# ---------------------------------------------------------------------------------- edit (propose)
if session.can(access.PROPOSE_FIX) and last["status"] in MAY_PROPOSE:
    with st.form("fixes.edit", border=True):
        st.markdown(f"**Edit this fix** (proposed again as **{ui.md(session.user_name())}**; finance approves)")
        first, second = st.columns(2)
        if line:
            quantity = first.number_input("Quantity after", min_value=0.0, value=float(last["after_qty"] or 0),
                                          step=1.0, key="fixes.quantity")
        else:
            amount = first.number_input(f"One-time amount ({currency})", value=float(to_decimal(int(last["amount"]))),
                                        step=10.0, key="fixes.amount")
        when = second.date_input("Effective date", value=views.as_date(last["effective_date"]),
                                 key="fixes.edit_date")
        if st.form_submit_button("Propose", icon=":material/edit:"):
            session.propose_fix(str(last["fix_key"]), quantity=quantity if line else None, effective_date=when,
                                amount=None if line else from_decimal(str(amount)))
            st.toast("Fix proposed again.", icon=":material/edit:")
            st.rerun()

# ---------------------------------------------------------------------------------- approve / reject
ready = [key for key, status in zip(keys, chosen["status"], strict=True) if status in MAY_APPROVE]
if session.can(access.APPROVE_FIX) and (ready or chosen["status"].isin(MAY_REJECT).any()):
    with st.form("fixes.approve", border=True):
        st.markdown(f"**Approve {len(ready)} of the {len(keys)} selected fix(es)** · "
                    f"{ui.money(int(chosen['amount'].fillna(0).sum()), currency, signed=True)} one-time · "
                    f"as **{ui.md(session.user_name())}**")
        first, second = st.columns([2, 3])
        same_date = first.date_input("One effective date for all (optional)", value=None, key="fixes.approve_date")
        note = second.text_input("Note", key="fixes.approve_note")
        approve, reject = st.columns(2)
        if approve.form_submit_button("Approve", type="primary", icon=":material/check_circle:", disabled=not ready):
            count = session.approve_fixes(ready, same_date, note)
            st.toast(f"{count} fix(es) approved.", icon=":material/check_circle:")
            st.rerun()
        if reject.form_submit_button("Reject", icon=":material/block:"):
            count = session.reject_fixes(keys, note)
            st.toast(f"{count} fix(es) rejected.", icon=":material/block:")
            st.rerun()

# ---------------------------------------------------------------------------------- apply
applicable = [key for key, status in zip(keys, chosen["status"], strict=True) if status in MAY_APPLY]
if session.can(access.APPLY_FIX) and applicable:
    with st.container(border=True):
        st.markdown(f"**Write {len(applicable)} approved fix(es) to the PSA** · a dry run shows (and stores) the "
                    "exact requests; Apply sends them. Applying twice changes nothing.")
        dry, send, export = st.columns(3)
        # both buttons drawn on every run (a conditional expression skipped Apply on the dry run's own run)
        dry_clicked = dry.button("Dry run", key="fixes.dry_run", icon=":material/preview:")
        send_clicked = send.button("Apply", key="fixes.apply", type="primary", icon=":material/send:")
        clicked = "send" if send_clicked else "dry" if dry_clicked else ""
        if clicked:
            outcomes, unrouted = session.apply_fixes(applicable, send=clicked == "send")
            names = {str(fix["fix_key"]): views.fix_name(fix, str(fix["change"])) for _, fix in chosen.iterrows()}
            st.session_state["fixes.outcomes"] = [
                {"fix": names.get(item.fix_key, ""), "outcome": item.event, "connection": item.connection,
                 "psa_id": item.psa_id, "message": item.message,
                 "requests": "\n".join(f"{r['method']} {r['url']} {json.dumps(r['body'])}" for r in item.requests)}
                for item in outcomes] + [{"fix": names.get(item.fix_key, ""), "outcome": "no connection: export it",
                                          "connection": "", "psa_id": "", "message": "", "requests": ""}
                                         for item in unrouted]
            if clicked == "send":
                st.rerun()
        approved = chosen[chosen["fix_key"].isin(applicable)]
        ui.export_button("Checklist PDF", lambda: fixes_pdf(approved, "Fixes to enter in the PSA", currency),
                         file_name="fixes-checklist.pdf", key="fixes.pdf", mime="application/pdf",
                         action=access.APPLY_FIX, icon=":material/checklist:")
        ui.export_button("CSV for the PSA import", lambda: fixes_csv(approved), file_name="fixes-import.csv",
                         key="fixes.import_csv", mime="text/csv", action=access.APPLY_FIX,
                         icon=":material/download:")
        if export.button("Mark entered by hand", key="fixes.done", icon=":material/task_alt:"):
            count = session.fixes_done(applicable, "entered in the PSA by hand")
            st.toast(f"{count} fix(es) recorded as applied.", icon=":material/task_alt:")
            st.rerun()
outcomes = st.session_state.get("fixes.outcomes")
if outcomes:
    st.dataframe(views.outcomes_frame(outcomes), hide_index=True, key="fixes.outcome_table", width="stretch")
    # what would be sent, in full: in the grid it is the last column, clipped and off screen at 1024 px
    sent = [item for item in outcomes if item["requests"]]
    if sent:
        with st.expander(f"Requests ({len(sent)} fix(es))", expanded=True, icon=":material/preview:"):
            st.code("\n\n".join(f"# {item['fix']} · {item['outcome']}\n{item['requests']}" for item in sent),
                    language=None, wrap_lines=True)
    # a refusal's message (what to check, where the secret goes) in full: in the grid it is a clipped cell
    for item in outcomes:
        if item["outcome"] in ("refused", "failed") and item["message"]:
            st.error(f"**{ui.md(item['fix'])}** ({item['outcome']}): {ui.md(item['message'])}", icon=":material/error:")

# ---------------------------------------------------------------------------------- history
history = session.fix_history(str(last["fix_key"]))
with st.expander(f"History of this fix ({len(history)} event(s))"):
    as_text = {column: history[column].map(lambda value: "" if value is None else json.dumps(value)
                                           if not isinstance(value, str) else value).astype("string")
               for column in ("request", "response")}
    ui.table(history.assign(**as_text), key="fixes.history", currency=currency, file_name="fix-history.csv")
