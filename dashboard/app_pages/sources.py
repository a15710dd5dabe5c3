"""Sources: what the run is made of, and reconciling my own data: files uploaded (canonical or real
exports) or a month pulled from a named connection (PRODUCT.md section 6), both through the same door."""

from __future__ import annotations

from datetime import date

import streamlit as st

from dashboard import data, session, ui
from recon import access, views
from recon.connectors import CONNECTOR_LABELS, Connection, Period, check, fetch, load_connections
from recon.connectors.config import CONNECTIONS_FILE_ENV, connections_file
from recon.errors import ReconError
from recon.ingest.directory import canonical_kind
from recon.ingest.normalise import LoadedSource
from recon.ingest.presets import PRESETS, preset_names
from recon.ingest.profile import SourceEntry, profile_to_toml, suggest_entry, suggest_mapping
from recon.ingest.reading import sha256_of
from recon.schema import OPTIONAL_SOURCES, REQUIRED_SOURCES, SOURCES
from recon.sources import ValidationReport

KINDS = (*REQUIRED_SOURCES, *OPTIONAL_SOURCES)
NONE = "—"
NO_PRESET = "(no preset: map the columns)"
SAVED_PROFILE = "read with the saved profile"
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


def first_guess(name: str, header: tuple[str, ...]) -> tuple[SourceEntry | None, str]:
    """How to read an upload before anyone chooses: a saved profile, else what the header suggests."""
    saved = session.profile_for(name)
    if saved is not None:
        return saved[1], f"{SAVED_PROFILE} **{ui.md(saved[0])}**"
    entry, reason = suggest_entry(header, name)
    named = canonical_kind(name)
    if entry is None and named is not None:  # the name says which source; its columns will be asked for
        return SourceEntry(path=name, kind=named), f"the file name says {named}; {reason}"
    return entry, reason


def column_choices(index: int, kind: str, preset: str | None, header: tuple[str, ...],
                   given: dict[str, str]) -> dict[str, str]:
    """Dropdowns for each canonical field of ``kind``, prefilled (profile, preset, names, synonyms).
    Without a preset every choice is the mapping; with one, only the profile's columns and what a person
    changed are (the preset maps the rest itself, including columns it derives)."""
    guesses = suggest_mapping(header, kind, preset)
    options = [NONE, *header]
    grid = st.columns(4)
    chosen: dict[str, str] = {}
    for position, spec in enumerate(SOURCES[kind]):
        guess = guesses[spec.name]
        default = given.get(spec.name) or guess.column
        choice = grid[position % 4].selectbox(
            f"{spec.name}{' *' if spec.required else ''}", options, key=f"sources.column.{index}.{kind}.{spec.name}",
            index=options.index(default) if default in options else 0,
            help=f"guessed from the {guess.basis}" if guess.column else None)
        keep = spec.name in given if preset else True
        if choice != NONE and (keep or choice != default):
            chosen[spec.name] = choice
    return chosen


def save_as_profile(index: int, name: str, entry: SourceEntry) -> None:
    """Save how this file was read as a named profile, so next month's export reads the same way."""
    left, middle, right = st.columns([2, 2, 1], vertical_alignment="bottom")
    profile_name = left.text_input("Save as a profile", key=f"sources.profile.{index}",
                                   placeholder="e.g. ConnectWise agreements")
    pattern = middle.text_input("for files named", value=name, key=f"sources.profile_path.{index}",
                                help="A glob such as agreements_*.csv matches next month's file too.")
    if right.button("Save profile", key=f"sources.save_profile.{index}", disabled=not profile_name.strip()):
        saved = SourceEntry(path=pattern.strip() or name, kind=entry.kind, preset=entry.preset,
                            columns=dict(entry.columns))
        session.save_profile(profile_name.strip(), profile_to_toml([saved]))
        st.toast(f"Profile '{ui.md(profile_name.strip())}' saved.", icon=":material/bookmark_added:")


def upload_panel(index: int, name: str, content: bytes) -> data.InputFile | None:
    """One uploaded file: how it is read (kind, preset, columns), its validation and a preview."""
    digest = sha256_of(content)
    session.blobs()[digest] = content
    with st.container(border=True):
        st.markdown(f"**{ui.md(name)}**")
        try:
            header = data.file_header(digest, name, content, session.upload_limits())
        except ReconError as error:
            st.error(ui.error_text(error), icon=":material/error:")
            return None
        guess, reason = first_guess(name, header)
        short = reason.split(":", 1)[0] if reason.startswith("looks like") else reason
        shown = short if short.startswith(SAVED_PROFILE) else ui.md(short)  # file text stays text
        st.caption(f"Detected: {shown}", help=ui.md(reason) if short != reason else None)
        left, right = st.columns(2)
        kind = left.selectbox("Kind", KINDS, key=f"sources.kind.{index}.{name}", placeholder="Choose the kind",
                              index=KINDS.index(guess.kind) if guess and guess.kind in KINDS else None)
        if not kind:
            return None
        presets = [NO_PRESET, *preset_names(kind)]
        default_preset = guess.preset if guess and guess.kind == kind and guess.preset in presets else NO_PRESET
        preset_choice = right.selectbox("Preset", presets, index=presets.index(default_preset),
                                        key=f"sources.preset.{index}.{kind}",
                                        format_func=lambda value: PRESETS[value].title if value in PRESETS else value)
        preset = None if preset_choice == NO_PRESET else preset_choice
        given = dict(guess.columns) if guess and guess.kind == kind else {}
        with st.expander("Columns, validation and preview"):
            columns = column_choices(index, kind, preset, header, given)
            entry = SourceEntry(path=name, kind=kind, preset=preset, columns=columns)
            try:
                loaded = data.loaded_upload(digest, name, entry, content, session.upload_limits())
            except ReconError as error:
                st.error(ui.error_text(error), icon=":material/error:")
                return None
            validation_details(str(index), loaded)
            save_as_profile(index, name, entry)
        validation_counts(loaded.report)
        return data.InputFile(name, kind, digest, entry=entry)


def validation_details(key: str, loaded: LoadedSource) -> None:
    """How one file (uploaded or pulled) reads: its first rows, every validation check and the rows it
    sends to quarantine, with their reasons."""
    validation = views.validation_table([loaded.report])
    preview = ui.display_frame(loaded.frame.head(5))  # money as currency amounts, not integer units
    st.dataframe(preview, hide_index=True, key=f"sources.preview.{key}",
                 column_config=ui.column_config(preview, session.current_settings().currency))
    ui.table(validation, key=f"sources.expectations.{key}", currency="USD", download=False,
             columns=["rule", "success", "checked", "failed", "expectation"])
    if len(loaded.issues):
        st.markdown(f"**Quarantined rows** · {len(loaded.issues):,}")
        ui.table(loaded.issues, key=f"sources.issues.{key}", currency="USD", download=False,
                 columns=["line", "column", "reason", "raw"])


def validation_counts(report: ValidationReport) -> None:
    """One line under a file: rows in = used + quarantined, and how many expectations passed and failed."""
    failed = len(report.failed)
    st.caption(f"{report.rows_in:,} rows in · {report.rows_used:,} used · {report.rows_quarantined:,} quarantined"
               f" · {len(report.passed)} expectation(s) passed" + (f", **{failed} failed**" if failed else ""))


def reconcile(files: list[data.InputFile], replace_kinds: bool, label: str = "") -> None:
    """Make ``files`` (uploads or pulls) the session's data, alone or in place of the same kinds, and
    reconcile it: the run every page shows, stored with its imports (name, SHA-256, row counts)."""
    with st.status("Reconciling …", expanded=True) as status:
        progress = st.progress(0.2, text="Checking the files")
        next_files = data.merge_files(session.active_files(), tuple(files), replace_kinds)
        missing = data.missing_kinds(next_files)
        if missing:
            st.error(f"missing required source(s): {', '.join(missing)}", icon=":material/error:")
            status.update(label="Not reconciled: a required source is missing", state="error")
            return
        progress.progress(0.5, text=f"Reconciling {len(next_files)} file(s)")
        label = label or ", ".join(file.name for file in files)[:60]
        active = session.activate(data.RunInputs(next_files, session.current_settings(), label=label))
        result = session.result_of(active)
        progress.progress(1.0, text="Done")
        outcome = (f"Reconciled {len(result.periods)} period(s): {result.metrics.overall['discrepancies']} "
                   f"discrepancies (run #{active.run_id}). Every page now shows these files.")
        status.update(label=outcome, state="complete")
    st.session_state["sources.done"] = outcome


# ------------------------------------------------------------------------------------------- connect

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
    modes = {"replace": "the pulled sources in place of the same kinds in the current data",
             "only": "only the pulled sources"}
    replacing = st.radio("Reconcile", list(modes), horizontal=True, key="sources.pull_mode", format_func=modes.get)
    left, right = st.columns([1, 4])
    if left.button("Reconcile", type="primary", key="sources.reconcile_pulled", icon=":material/play_arrow:",
                   disabled=not all(readable)):
        label = ", ".join(f"{name}@{kept.period}" for name, kept in pulls.items())
        reconcile(files, replacing == "replace", label=label[:60])
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


def upload_tab() -> None:
    """Upload files (canonical or real exports), read each one as chosen, and reconcile them."""
    st.caption("CSV or XLSX: contracts, usage, invoices (required), time entries, payments, catalog, client aliases. "
               "The kind is guessed from the file name and the columns from their names; change either if needed.")
    uploads = st.file_uploader("Source files", type=["csv", "tsv", "txt", "xlsx"], accept_multiple_files=True,
                               key="sources.uploads")
    ready = [upload_panel(index, upload.name, upload.getvalue()) for index, upload in enumerate(uploads or [])]
    ready_files = [file for file in ready if file is not None]
    if uploads:
        modes = {"replace": "these files in place of the same kinds in the current data", "only": "only these files"}
        replacing = st.radio("Reconcile", list(modes), horizontal=True, key="sources.mode", format_func=modes.get)
        if st.button("Reconcile", type="primary", key="sources.reconcile", icon=":material/play_arrow:",
                     disabled=len(ready_files) != len(uploads)):
            reconcile(ready_files, replacing == "replace")


session.require(access.UPLOAD)
ui.header("Sources", "What went into this run, what was refused, and how do I reconcile my own files?")
context = session.context()

outcome = st.container()  # a fixed slot: the tabs below keep their place (and the open tab) when it fills
done = st.session_state.pop("sources.outcome", None)
if done:
    outcome.success(done, icon=":material/check_circle:")
uploading, connecting = st.tabs(["Upload", "Connect"], key="sources.tab")
with uploading:
    upload_tab()
with connecting:
    connect_tab()
if "sources.done" in st.session_state:  # reconciled: run the page again so every figure is the new run's
    st.session_state["sources.outcome"] = st.session_state.pop("sources.done")
    st.rerun()

st.divider()
if context is None:
    st.info("No run yet: upload or pull contracts, usage and invoices above.", icon=":material/info:")
    st.stop()
result = context.result
reports = data.input_reports(context.active.inputs.files, session.blobs(), session.upload_limits())
summary = views.validation_summary(reports, result.imports)
st.subheader("Files in this run")
row = ui.metric_row()
row.metric("Rows in", f"{int(summary['rows_in'].sum()):,}", border=True)
row.metric("Rows used", f"{int(summary['rows_used'].sum()):,}", border=True)
row.metric("Rows quarantined", f"{int(summary['rows_quarantined'].sum()):,}", border=True,
           help="Rows that could not be used, each with its reason below. Rows in = used + quarantined.")
row.metric("Expectations failed", f"{int(summary['failed'].sum())}", border=True,
           help="Great Expectations checks per file; every row a check fails is in quarantine.")
ui.table(summary, key="sources.report", currency=context.currency, file_name="imports.csv",
         labels={"read_as": "Read as", "rows_in": "Rows in", "rows_used": "Used", "rows_quarantined": "Quarantined",
                 "blank_rows": "Blank", "passed": "Checks passed", "failed": "Checks failed",
                 "balanced": "In = used + quarantined", "sha256": "SHA-256"})
with st.expander("Every validation check"):
    ui.table(views.validation_table(reports), key="sources.expectations", currency=context.currency,
             file_name="validation.csv")
st.subheader("What the vendor rows say")
overall = result.metrics.overall
row = ui.metric_row()
row.metric("Days carried", f"{int(overall.get('carried_days') or 0):,}", border=True,
           help="Days inside a subscription's life that no loaded charge covers: they take the quantity of the "
                "nearest charge. Load (or keep in the store) the earlier month's file to see them.")
row.metric("Trial seats", f"{overall.get('trial_seats') or 0:,}", border=True,
           help="Trial seats (Microsoft's Trial qualifier, Pax8's Trial term): not expected to be billed.")
row.metric("Unmatched credits", f"{int(overall.get('unmatched_credits') or 0):,}", border=True,
           help="Credits that refund a charge not among the loaded rows. They never take a quantity below zero.")
row.metric("Stored imports drawn on", f"{len(result.history_imports):,}", border=True,
           help="Earlier imports whose charges cover this run's months (an annual charge bought in March counts "
                "in November). The same file imported again is one import: it never counts twice.")
if len(result.unmatched_credits):
    ui.table(result.unmatched_credits, key="sources.unmatched", currency=context.currency,
             file_name="unmatched_credits.csv")
if result.history_imports:
    ui.table(views.import_report(result.history_imports), key="sources.history", currency=context.currency,
             file_name="stored_imports.csv")
st.subheader("Quarantined rows")
if result.quarantine.empty:
    st.success("No row was refused.", icon=":material/check_circle:")
else:
    ui.table(result.quarantine, key="sources.quarantine", currency=context.currency, file_name="quarantine.csv")
