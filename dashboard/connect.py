"""The Sources page's second door: a month pulled from a named connection (a PSA database, ConnectWise,
Autotask, Pax8, Microsoft Partner Center), tested first, then read, validated and reconciled exactly as an upload
(``dashboard.upload``)."""

from __future__ import annotations

from datetime import date

import streamlit as st

from dashboard import data, session, ui
from dashboard.upload import next_run_files, reconcile, validation_counts, validation_details
from recon import access
from recon.connectors import CONNECTOR_LABELS, Connection, Period, check, fetch, load_connections
from recon.connectors.config import CONNECTIONS_FILE_ENV, connections_file
from recon.errors import ReconError

EXAMPLE_CONNECTIONS = """[connections.psa]            # a PSA reporting database: one read-only query per source
type = "sql"
url = "postgresql+psycopg://recon_reader@psa-db.internal/psa"   # the password goes in the secrets
[connections.psa.queries]
invoices = '''SELECT invoice_number, invoice_date, client, sku, quantity, unit_price FROM invoice_lines
              WHERE invoice_date >= :period_start AND invoice_date < :next_period_start'''

[connections.pax8]           # client_secret in .streamlit/secrets.toml under [connections.pax8]
type = "pax8"
client_id = "your-pax8-app-client-id"
"""


def no_connections_help() -> None:
    """Where connections are defined, with a short example (shown while none is)."""
    st.info(f"No connection is defined yet. Define named connections in **{ui.md(connections_file())}** "
            f"(in the app's working directory, or the file `{CONNECTIONS_FILE_ENV}` names); this tab reads it "
            "afresh each time, no restart needed. Secrets never go in that file: put them in `.streamlit/secrets.toml` "
            "under `[connections.NAME]`, or in `RECON_CONN_<NAME>_<KEY>` environment variables. "
            "`connections.example.toml` has one of each type.", icon=":material/info:")
    st.code(EXAMPLE_CONNECTIONS, language="toml")


def try_connection(connection: Connection) -> None:
    """``recon.connectors.check``: the one-line answer, or what to fix."""
    session.require(access.UPLOAD)
    with st.spinner(f"Connecting to {ui.md(connection.name)} …"):
        try:
            answer = check(connection)
        except ReconError as error:
            st.error(ui.error_text(error), icon=":material/error:")
            return
    st.success(f"{ui.md(connection.label)}: {ui.md(answer)}", icon=":material/check_circle:")


def pull_month(connection: Connection, period: str) -> None:
    """``recon.connectors.fetch`` with a progress bar; the pulled files are kept in the session like uploads
    and read by the upload's path (not read a second time by ``pull``)."""
    session.require(access.UPLOAD)
    shown = ui.md(connection.name)
    bar = st.progress(0.0, text=f"Pulling {ui.md(period)} from {shown} …")

    def progress(step: str, fraction: float) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=f"{shown} · {ui.md(period)}: {ui.md(step)}")

    try:
        month, files = fetch(connection, period.strip(), progress)  # read below, as uploads are
    except ReconError as error:
        bar.empty()
        st.error(ui.error_text(error), icon=":material/error:")
        return
    kept = session.keep_pull(connection.name, connection.type, month, files)
    st.session_state["sources.pulls"] = {**st.session_state.get("sources.pulls", {}), connection.name: kept}
    session.record("pull", target=connection.name, detail=pull_summary(kept))
    bar.progress(1.0, text=f"Pulled {len(files)} source(s) from {shown} for {month}")


def pull_summary(kept: data.PulledInputs) -> str:
    """For the access log: the month, the sources and their rows as the upload path reads them (cached:
    the panels below show the same reports)."""
    summary = f"{kept.period}: {len(kept.files)} source(s)"
    try:
        reports = data.input_reports(kept.files, session.blobs(), session.upload_limits())
    except ReconError:  # a file the upload limits refuse: its panel says why
        return summary
    rows = sum(report.rows_in for report in reports)
    quarantined = sum(report.rows_quarantined for report in reports)
    return f"{summary}, {rows} rows, {quarantined} quarantined"


def pulled_panel(key: str, file: data.InputFile) -> bool:
    """One pulled source, shown like an upload: how it is read, its validation and a preview. ``False``
    when it cannot be read within the upload limits."""
    with st.container(border=True):
        st.markdown(f"**{ui.md(file.name)}** · {file.kind}")
        try:
            loaded = data.loaded_input(file, session.blobs(), session.upload_limits())
        except ReconError as error:
            st.error(ui.error_text(error), icon=":material/error:")
            return False
        st.caption(f"Read as {ui.md(loaded.report.read_as)} · SHA-256 `{file.sha256}`")
        with st.expander("Validation and preview", key=f"sources.details.{key}"):
            validation_details(key, loaded)
        validation_counts(loaded.report)
    return True


def pulled_section(pulls: dict[str, data.PulledInputs]) -> None:
    """The pulls kept in this session, each source with its validation report, and reconciling them."""
    st.markdown("**Pulled data**")
    months = sorted({kept.period for kept in pulls.values()})
    if len(months) > 1:
        st.warning(f"These pulls cover different months ({', '.join(months)}): each finding is still per month, "
                   "but pull the same month from every connection for one billing close.",
                   icon=":material/warning:")
    readable = []
    for name, kept in pulls.items():
        st.caption(f"From **{ui.md(name)}** ({CONNECTOR_LABELS[kept.connector]}) for {kept.period}: "
                   f"{len(kept.files)} source(s)")
        readable += [pulled_panel(f"pull.{name}.{index}", file) for index, file in enumerate(kept.files)]
    files = [file for kept in pulls.values() for file in kept.files]
    next_files = next_run_files(files, "sources.pull_mode") if all(readable) else None
    left, right = st.columns([1, 4])
    if left.button("Reconcile", type="primary", key="sources.reconcile_pulled", icon=":material/play_arrow:",
                   disabled=next_files is None) and next_files is not None:
        reconcile(next_files, label=ui.names_label([f"{name}@{kept.period}" for name, kept in pulls.items()]))
    if right.button("Clear pulled data", key="sources.clear_pulls", type="tertiary", icon=":material/delete:"):
        st.session_state.pop("sources.pulls", None)
        st.rerun()


def connect_tab() -> None:
    """Pick a named connection, test it, pull a month; the pull is validated and reconciled like an upload."""
    st.caption("Pull one month straight from a PSA database, ConnectWise PSA, Autotask PSA, Pax8 or Microsoft "
               "Partner Center. "
               "Each pulled source is validated, quarantined, hashed and reconciled exactly like an uploaded file.")
    try:
        connections = load_connections()
    except ReconError as error:
        st.error(f"The connections cannot be read: {ui.error_text(error)}", icon=":material/error:")
        return
    if not connections:
        no_connections_help()
        return
    pulls: dict[str, data.PulledInputs] = st.session_state.get("sources.pulls", {})
    default_period = next(iter(pulls.values())).period if pulls else Period.last_closed(date.today()).label
    st.session_state.setdefault("sources.period", default_period)
    left, right = st.columns([3, 1])
    name = left.selectbox("Connection", sorted(connections), key="sources.connection",
                          format_func=lambda item: f"{item} · {CONNECTOR_LABELS[connections[item].type]}")
    period = right.text_input("Month (YYYY-MM)", key="sources.period", max_chars=7,
                              help="The billing month to pull; by default the last closed month.")
    connection = connections[name]
    buttons = st.columns([1, 1, 3])
    testing = buttons[0].button("Test connection", key="sources.test_connection", icon=":material/cable:")
    pulling = buttons[1].button("Pull", key="sources.pull", type="primary", icon=":material/cloud_download:")
    with st.container():  # one slot for the answer or the progress bar: what follows keeps its place
        if testing:
            try_connection(connection)
        if pulling:
            pull_month(connection, period)
    pulls = st.session_state.get("sources.pulls", {})
    if pulls:
        pulled_section(pulls)
