"""The global filters, drawn once in the entrypoint's sidebar and applied on every page."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from dashboard import data, session, ui
from recon.engine import Reconciliation
from recon.keys import month_name
from recon.views import FilterOptions, Filters

LISTS = ("filters.clients", "filters.account_managers", "filters.vendors")
PERIOD_FROM, PERIOD_TO, PERIOD_OPTIONS = "filters.period_from", "filters.period_to", "filters.period_options"


def _keep_known(key: str, options: Sequence[str]) -> None:
    """Drop remembered choices the current run does not have (a new upload changes the options)."""
    chosen = st.session_state.get(key)
    if isinstance(chosen, list):
        st.session_state[key] = [value for value in chosen if value in options]


def _reset() -> None:
    """Every filter back to its empty value. Assigned, not deleted: a deleted widget value is drawn with its
    default by the server while the browser keeps (and sends back) the old one."""
    periods = st.session_state.get(PERIOD_OPTIONS, ())
    if periods:
        st.session_state[PERIOD_FROM], st.session_state[PERIOD_TO] = periods[0], periods[-1]
    for key in LISTS:
        st.session_state[key] = []


def _period_range(periods: tuple[str, ...]) -> tuple[str | None, str | None]:
    """"From" and "To" months (To offers only months from From on): every month unless narrowed."""
    if len(periods) < 2:
        st.caption(f"Period: {month_name(periods[0]) if periods else 'none'}")
        return None, None
    st.session_state[PERIOD_OPTIONS] = periods
    for key, default in ((PERIOD_FROM, periods[0]), (PERIOD_TO, periods[-1])):
        if st.session_state.get(key) not in periods:  # a new run with other months: start from all of them
            st.session_state[key] = default
    left, right = st.columns(2)
    first = left.selectbox("From", periods, key=PERIOD_FROM, format_func=month_name,
                           help="The first billing month to show.")
    later = tuple(period for period in periods if period >= first)
    if st.session_state.get(PERIOD_TO) not in later:
        st.session_state[PERIOD_TO] = later[-1]
    last = right.selectbox("To", later, key=PERIOD_TO, format_func=month_name,
                           help="The last billing month to show.")
    return first, last


def current_data(run_id: int | None) -> None:
    """Who made the current data current, and when; a notice (not a silent switch) when someone made
    another run current since this session opened its own."""
    current = session.current_data()
    if current is None:
        return
    by, when = ui.md(current["by"] or "someone"), ui.when(current["at"])
    if current["run_id"] == run_id:
        st.caption(f"Current data for everyone since {when}, by **{by}**")
        return
    st.info(f"**{by}** made run #{current['run_id']} the current data on {when}.", icon=":material/sync:")
    if st.button("Open the current data", key="filters.open_current", width="stretch"):
        session.open_current()
        st.rerun()


SAVING_NOTE = "Saving this run to the database … its findings are shown meanwhile."


def storing_status() -> None:
    """While the run on screen is being stored (``session.saving``), a line saying so, checked every
    second; if storing failed, why, and a button to store it again: a run not stored is in no history,
    and no fix can be proposed for it."""
    saving = session.saving()
    if saving is None:
        return
    if saving.error is None:
        _storing_under_way()
        return
    st.error(f"This run could not be saved to the database ({ui.md(saving.error)}). Its findings are shown, "
             "but it is not stored: no history, no fixes, not the current data for others.",
             icon=":material/database_off:")
    if st.button("Save the run again", key="filters.save_again", type="primary", width="stretch"):
        session.save_again()
        st.rerun()


@st.fragment(run_every=1.0)
def _storing_under_way() -> None:
    saving = session.saving()
    if saving is None or saving.done:  # stored (or failed): the whole app shows the run as it now is
        st.rerun(scope="app")
    st.caption(f":material/hourglass_top: {SAVING_NOTE}")


def sidebar_filters(result: Reconciliation) -> Filters:
    """Draw the filters for ``result`` and return what they select."""
    active = session.active_run()
    options: FilterOptions = data.filter_options(session.view_key(active), result)
    for key, values in (("filters.clients", options.clients), ("filters.account_managers", options.account_managers),
                        ("filters.vendors", options.vendors)):
        _keep_known(key, values)
    if session.scope().all_clients:  # file names may name clients: not shown to a scoped principal
        st.caption(f"Data: **{ui.md(active.inputs.label or 'uploaded files')}** · {len(active.inputs.files)} "
                   "file(s)" + (f" · run #{active.run_id}" if active.run_id else ""))
    storing_status()
    current_data(active.run_id)
    if "workspace.store_error" in st.session_state:
        st.warning(f"No database ({ui.md(st.session_state['workspace.store_error'])}): changes last for this session "
                   "only.", icon=":material/database_off:")
    if session.is_stale(active):
        st.warning("Settings or mappings changed since this run.", icon=":material/update:")
        if st.button("Re-run with the changes", key="filters.rerun", type="primary", width="stretch"):
            session.rerun_with_current_choices()
            st.rerun()
    st.markdown("**Filters**")
    period_from, period_to = _period_range(options.periods)
    clients = st.multiselect("Clients", options.clients, key="filters.clients", placeholder="All clients")
    managers = st.multiselect("Account managers", options.account_managers, key="filters.account_managers",
                              placeholder="All account managers")
    vendors = st.multiselect("Vendors", options.vendors, key="filters.vendors", placeholder="All vendors")
    st.button("Clear filters", key="filters.reset", on_click=_reset, icon=":material/filter_alt_off:",
              type="tertiary")
    return Filters(period_from, period_to, tuple(clients), tuple(managers), tuple(vendors))
