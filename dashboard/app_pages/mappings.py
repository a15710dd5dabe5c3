"""Mappings: the queue of vendor names and SKUs that did not resolve; confirm or reject suggestions."""

from __future__ import annotations

import streamlit as st

from dashboard import session, ui
from recon import access, views

session.require(access.MAP)
context = ui.require_context()
result, currency = context.result, context.currency
ui.header("Mappings", "Which vendor names and SKUs could not be placed, and what do they mean in the PSA? "
          "Nothing is matched below the confidence threshold without a person confirming it.")

queue = views.mapping_queue(result.unmapped, session.rejected_suggestions())
overall = result.metrics.overall
row = ui.metric_row()
row.metric("Mapping coverage", ui.percent(overall.mapping_coverage), border=True,
           help="Vendor usage rows resolved to a PSA client and SKU.")
row.metric("Unmapped usage rows", f"{len(result.unmapped):,}", border=True,
           help="Never valued as leakage until mapped.")
saved = session.current_mappings()
suggested = views.suggested(queue, saved.client_aliases["alias"])
row.metric("Suggestions to review", f"{len(suggested)}", border=True)

st.subheader("Suggestions")
if suggested.empty:
    st.success("No fuzzy suggestion is waiting for a decision.", icon=":material/check_circle:")
for index, item in enumerate(suggested.head(20).itertuples(index=False)):
    with st.container(border=True):
        text, confirm, reject = st.columns([6, 1, 1], vertical_alignment="center")
        text.markdown(f"**{ui.md(item.client_raw)}** → **{ui.md(item.suggestion)}** · confidence "
                      f"{item.suggestion_score:.0f} · {item.rows} usage row(s) ({ui.md(item.where)})")
        if confirm.button("Confirm", key=f"mappings.confirm.{index}", type="primary", icon=":material/check:"):
            session.confirm_alias(str(item.client_raw), str(item.suggestion))
            st.toast(f"'{ui.md(item.client_raw)}' now means {ui.md(item.suggestion)}. Re-run to apply.",
                     icon=":material/link:")
            st.rerun()
        if reject.button("Reject", key=f"mappings.reject.{index}", icon=":material/close:"):
            session.reject_suggestion(str(item.client_raw), str(item.suggestion))
            st.rerun()

if session.is_stale(context.active):
    st.warning("Mappings changed since this run.", icon=":material/update:")
    if st.button("Re-run now", key="mappings.rerun", type="primary", icon=":material/replay:"):
        session.rerun_with_current_choices()
        st.rerun()

st.subheader("Unmapped queue")
ui.table(queue, key="mappings.queue", currency=currency, file_name="unmapped_queue.csv",
         labels={"client_raw": "Vendor client name", "sku_raw": "Vendor SKU", "client": "Client (resolved)",
                 "sku": "SKU (resolved)", "suggestion_score": "Confidence", "where": "Rows"})

left, right = st.columns(2)
with left, st.form("mappings.alias_form", border=True):
    st.markdown("**Map a vendor client name**")
    names = views.unmapped_names(queue)
    alias = st.selectbox("Vendor name", names, index=None, key="mappings.alias_name",
                         placeholder="Unmapped vendor client names")
    client = st.selectbox("PSA client", views.client_names(result), index=None, key="mappings.alias_client")
    if st.form_submit_button("Save client mapping", type="primary"):
        if alias and client:
            session.confirm_alias(alias, client)
            st.rerun()
        st.warning("Choose both the vendor name and the PSA client it means.", icon=":material/warning:")
with right, st.form("mappings.sku_form", border=True):
    st.markdown("**Map a vendor SKU**")
    skus = views.unmapped_skus(queue)
    vendor_sku = st.selectbox("Vendor SKU", skus, index=None, key="mappings.vendor_sku",
                              placeholder="Unmapped vendor SKUs")
    sku = st.selectbox("PSA SKU", views.sku_names(result), index=None, key="mappings.psa_sku")
    if st.form_submit_button("Save SKU mapping", type="primary"):
        if vendor_sku and sku:
            session.confirm_sku(vendor_sku, sku)
            st.rerun()
        st.warning("Choose both the vendor SKU and the PSA SKU it means.", icon=":material/warning:")

with st.expander("How every name was matched"):
    ui.table(result.client_matches, key="mappings.matches", currency=currency, file_name="client_matches.csv",
             labels={"name": "Name in a source", "match_tier": "Matched by", "match_score": "Score",
                     "suggestion_score": "Suggestion confidence"})
with st.expander(f"Saved mappings ({len(saved.client_aliases)} client, {len(saved.sku_map)} SKU)"):
    ui.table(saved.client_aliases, key="mappings.saved_aliases", currency=currency, file_name="client_aliases.csv",
             columns=["alias", "client"])
    ui.table(saved.sku_map, key="mappings.saved_skus", currency=currency, file_name="sku_map.csv")
