"""Settings: the tolerances, rates and currency the next run uses."""

from __future__ import annotations

from decimal import Decimal

import streamlit as st

from dashboard import session, ui
from recon import access
from recon.errors import ReconError
from recon.settings import QUANTITY_BASES, Settings

CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD", "NZD", "CHF", "JPY")
BASIS_WORDS = {"day_weighted": "Days held (a seat held half the month counts half)",
               "period_end": "Month end (the count on the month's last day counts in full)"}

session.require(access.CHANGE_SETTINGS)
ui.header("Settings", "How strict is the comparison, and what do unpriced hours cost? Changes apply to the next run.")
settings = session.current_settings()

with st.form("settings.form", border=True):
    left, right = st.columns(2)
    with left:
        st.markdown("**Tolerances**")
        quantity = st.number_input("Quantity tolerance (units)", min_value=0.0, step=0.01, format="%.4f",
                                   value=float(settings.quantity_tolerance), key="settings.quantity")
        price_pct = st.number_input("Unit price tolerance (%)", min_value=0.0, step=0.1, format="%.2f",
                                    value=float(settings.price_tolerance_pct * 100), key="settings.price_pct")
        price_min = st.number_input("Unit price tolerance, at least", min_value=0.0, step=0.01, format="%.4f",
                                    value=float(settings.price_tolerance_min), key="settings.price_min")
        amount = st.number_input("Amount tolerance", min_value=0.0, step=0.01, format="%.2f",
                                 value=float(settings.amount_tolerance), key="settings.amount")
        st.markdown("**Quantities**")
        basis = st.radio("Quantity in effect", QUANTITY_BASES, key="settings.basis", format_func=BASIS_WORDS.get,
                         index=QUANTITY_BASES.index(settings.quantity_basis),
                         help="How a month's quantity is read from seats that change during it: weighted by "
                              "the days each count is held, or the count on the month's last day.")
    with right:
        st.markdown("**Money and matching**")
        currency = st.selectbox("Currency", CURRENCIES, key="settings.currency",
                                index=CURRENCIES.index(settings.currency) if settings.currency in CURRENCIES else 0)
        rate = st.number_input("Default hourly rate", min_value=0.0, step=5.0, format="%.2f",
                               value=float(settings.default_hourly_rate), key="settings.rate",
                               help="For billable time with no rate on the entry or the agreement.")
        terms = st.number_input("Payment terms (days)", min_value=0, max_value=365, step=1,
                                value=settings.payment_terms_days, key="settings.terms")
        fuzzy = st.slider("Suggest a client match from confidence", min_value=50, max_value=100,
                          value=int(settings.fuzzy_suggest_min), key="settings.fuzzy")
        st.markdown("**Uploads**")
        upload_mb = st.number_input("Largest upload (MB)", min_value=1, max_value=200, step=10,
                                    value=min(settings.max_upload_mb, 200), key="settings.upload_mb",
                                    help="Larger files are refused with a message (the web server takes at most "
                                         "200 MB).")
        upload_rows = st.number_input("Most rows in one file", min_value=1, step=100_000,
                                      value=settings.max_upload_rows, key="settings.upload_rows")
    submitted = st.form_submit_button("Save settings", type="primary", icon=":material/save:")

if submitted:
    try:
        chosen = Settings(quantity_tolerance=Decimal(str(quantity)), price_tolerance_pct=Decimal(str(price_pct)) / 100,
                          price_tolerance_min=Decimal(str(price_min)), amount_tolerance=Decimal(str(amount)),
                          default_hourly_rate=Decimal(str(rate)), currency=currency, payment_terms_days=int(terms),
                          fuzzy_suggest_min=float(fuzzy), as_of=settings.as_of, max_upload_mb=int(upload_mb),
                          max_upload_rows=int(upload_rows), quantity_basis=str(basis))
        session.save_settings(chosen)
        st.success("Saved. Re-run to apply them to the current data.", icon=":material/check_circle:")
    except ReconError as error:
        st.error(ui.error_text(error), icon=":material/error:")

context = session.context()
if context is not None and session.is_stale(context.active) and st.button(
        "Re-run with these settings", key="settings.rerun", type="primary", icon=":material/replay:"):
    session.rerun_with_current_choices()
    st.rerun()
with st.expander("Settings of the run on screen"):
    if context is not None:
        st.json(context.result.settings.to_dict())
