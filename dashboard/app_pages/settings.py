"""Settings: the tolerances, rates and currency the next run uses."""

from __future__ import annotations

from decimal import Decimal

import streamlit as st

from dashboard import session, ui
from recon import access, views
from recon.company import MAX_ADDRESS_CHARS, MAX_NAME_CHARS, Company
from recon.errors import ReconError
from recon.settings import QUANTITY_BASES

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
    with st.expander("Limits on what a file may be (each refusal names its setting)"):
        limit_left, limit_right = st.columns(2)
        columns = limit_left.number_input("Most columns", min_value=1, step=100, value=settings.max_upload_columns,
                                          key="settings.max_upload_columns")
        line_chars = limit_left.number_input("Longest line (characters)", min_value=1, step=100_000,
                                             value=settings.max_line_chars, key="settings.max_line_chars")
        line_amount = limit_left.number_input(
            "Largest amount or quantity on one line", min_value=1, max_value=10**14, step=10**9,
            value=int(settings.max_line_amount), key="settings.max_line_amount",
            help="A line beyond it is quarantined, never added up.")
        unzipped = limit_right.number_input("Largest unpacked workbook (MB)", min_value=1, step=128,
                                            value=settings.max_unzipped_mb, key="settings.max_unzipped_mb")
        ratio = limit_right.number_input("Strongest workbook compression (x:1)", min_value=1, step=10,
                                         value=settings.max_compression_ratio, key="settings.max_compression_ratio")
        members = limit_right.number_input("Most parts in a workbook", min_value=1, step=1_000,
                                           value=settings.max_zip_members, key="settings.max_zip_members")
    submitted = st.form_submit_button("Save settings", type="primary", icon=":material/save:")

if submitted:
    try:
        chosen = settings.replace(
            quantity_tolerance=Decimal(str(quantity)), price_tolerance_pct=Decimal(str(price_pct)) / 100,
            price_tolerance_min=Decimal(str(price_min)), amount_tolerance=Decimal(str(amount)),
            default_hourly_rate=Decimal(str(rate)), currency=currency, payment_terms_days=int(terms),
            fuzzy_suggest_min=float(fuzzy), max_upload_mb=int(upload_mb), max_upload_rows=int(upload_rows),
            max_upload_columns=int(columns), max_line_chars=int(line_chars), max_line_amount=Decimal(int(line_amount)),
            max_unzipped_mb=int(unzipped), max_compression_ratio=int(ratio), max_zip_members=int(members),
            quantity_basis=str(basis))
        session.save_settings(chosen)
        st.success("Saved. Re-run to apply them to the current data.", icon=":material/check_circle:")
    except ReconError as error:
        st.error(ui.error_text(error), icon=":material/error:")

st.subheader("Letterhead on client statements")
st.caption("Your company's name, postal address and logo at the top of every client statement (PDF and XLSX). "
           "Saving them does not change any run.")
company = session.current_company()
with st.form("settings.company", border=True):
    name_column, logo_column = st.columns(2)
    with name_column:
        company_name = st.text_input("Company name", value=company.name, max_chars=MAX_NAME_CHARS,
                                     key="settings.company_name")
        address = st.text_area("Postal address (one line per line)", value=company.address,
                               max_chars=MAX_ADDRESS_CHARS, key="settings.company_address", height=110)
    with logo_column:
        if company.logo is not None:
            st.image(company.logo, caption="Current logo", width=220)
        logo_file = st.file_uploader("Logo (PNG or JPEG, at most 1 MB)", type=["png", "jpg", "jpeg"],
                                     key="settings.company_logo")
        drop_logo = st.checkbox("Remove the logo", key="settings.company_drop_logo",
                                disabled=company.logo is None)
    saved_company = st.form_submit_button("Save letterhead", icon=":material/save:")
if saved_company:
    try:
        logo = logo_file.getvalue() if logo_file is not None else (None if drop_logo else company.logo)
        session.save_company(Company(name=company_name.strip(), address=address.strip(), logo=logo))
        st.success("Letterhead saved: the next statement you download carries it.", icon=":material/check_circle:")
    except ReconError as error:
        st.error(ui.error_text(error), icon=":material/error:")

context = session.context()
if context is not None and session.is_stale(context.active) and st.button(
        "Re-run with these settings", key="settings.rerun", type="primary", icon=":material/replay:"):
    session.rerun_with_current_choices()
    st.rerun()
with st.expander("Settings of the run on screen"):
    if context is not None:
        ui.table(views.settings_table(context.result.settings.to_dict()), key="settings.of_run",
                 currency=context.currency, download=False)
