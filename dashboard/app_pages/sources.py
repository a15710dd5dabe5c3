"""Sources: what the run is made of, and uploading new files to reconcile."""

from __future__ import annotations

import streamlit as st

from dashboard import data, session, ui
from recon import views
from recon.errors import ReconError
from recon.io import match_columns, sha256_of
from recon.schema import OPTIONAL_SOURCES, REQUIRED_SOURCES, SOURCES

KINDS = (*REQUIRED_SOURCES, *OPTIONAL_SOURCES)
NONE = "—"


def column_choices(index: int, kind: str, header: tuple[str, ...],
                   saved: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """Dropdowns mapping each canonical field of ``kind`` to a column of the file, prefilled from a saved
    profile, else by name."""
    guessed = match_columns(header, kind, saved or None) if saved else match_columns(header, kind)
    options = [NONE, *header]
    grid = st.columns(4)
    chosen: dict[str, str] = {}
    for position, spec in enumerate(SOURCES[kind]):
        default = guessed.get(spec.name)
        choice = grid[position % 4].selectbox(
            f"{spec.name}{' *' if spec.required else ''}", options, key=f"sources.column.{index}.{kind}.{spec.name}",
            index=options.index(default) if default in options else 0)
        chosen[spec.name] = "" if choice == NONE else choice
    return tuple(sorted(chosen.items()))


def save_as_profile(index: int, name: str, kind: str, columns: tuple[tuple[str, str], ...]) -> None:
    """Save this file's kind and columns as a named profile, so next month's export reads the same way."""
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    profile_name = left.text_input("Save these columns as a profile", key=f"sources.profile.{index}",
                                   placeholder="e.g. ConnectWise agreements")
    pattern = left.text_input("for files named", value=name, key=f"sources.profile_path.{index}",
                              help="A glob such as agreements_*.csv matches next month's file too.")
    if right.button("Save profile", key=f"sources.save_profile.{index}", disabled=not profile_name.strip()):
        session.save_profile(profile_name.strip(), views.profile_toml([views.ProfileSource(pattern, kind, columns)]))
        st.toast(f"Profile '{profile_name.strip()}' saved.", icon=":material/bookmark_added:")


def upload_panel(index: int, name: str, content: bytes) -> data.InputFile | None:
    """One uploaded file: its kind, its columns, and a preview of the rows as parsed."""
    digest = sha256_of(content)
    session.blobs()[digest] = content
    profile = session.profile_for(name)
    saved = dict(profile[1].columns) if profile else {}
    guessed = (profile[1].kind if profile and profile[1].kind in KINDS else None) or views.guess_kind(name)
    with st.container(border=True):
        if profile:
            st.caption(f"Read with the saved profile **{profile[0]}**.")
        left, right = st.columns([1, 3], vertical_alignment="bottom")
        kind = left.selectbox(f"Kind of **{name}**", KINDS, index=KINDS.index(guessed) if guessed else None,
                              key=f"sources.kind.{index}.{name}", placeholder="Choose the kind of this file")
        if not kind:
            right.caption("The name does not say which source this is: choose its kind.")
            return None
        try:
            header = data.file_header(digest, name, content)
        except ReconError as error:
            right.error(str(error), icon=":material/error:")
            return None
        missing = [field for field in SOURCES[kind] if field.required
                   and field.name not in match_columns(header, kind, saved or None)]
        with st.expander("Columns and preview" + (" · choose the missing required columns" if missing else ""),
                         expanded=bool(missing)):
            columns = column_choices(index, kind, header, saved)
            try:
                loaded = data.loaded_file(digest, name, kind, content, columns)
            except ReconError as error:
                st.error(str(error), icon=":material/error:")
                return None
            st.dataframe(loaded.frame.head(5), hide_index=True, key=f"sources.preview.{index}",
                         column_config=ui.column_config(loaded.frame, session.current_settings().currency))
            save_as_profile(index, name, kind, columns)
        record = loaded.record
        right.caption(f"{record.rows_in:,} rows in · {record.rows_loaded:,} loaded · "
                      f"{record.rows_quarantined:,} quarantined")
        return data.InputFile(name, kind, digest, columns=columns)


def reconcile(files: list[data.InputFile], replace_kinds: bool) -> None:
    with st.status("Reconciling …", expanded=True) as status:
        progress = st.progress(0.2, text="Checking the files")
        next_files = data.merge_files(session.active_files(), tuple(files), replace_kinds)
        missing = data.missing_kinds(next_files)
        if missing:
            st.error(f"missing required source(s): {', '.join(missing)}", icon=":material/error:")
            status.update(label="Not reconciled: a required source is missing", state="error")
            return
        progress.progress(0.5, text=f"Reconciling {len(next_files)} file(s)")
        label = ", ".join(file.name for file in files)[:60]
        active = session.activate(data.RunInputs(next_files, session.current_settings(), label=label))
        result = session.result_of(active)
        progress.progress(1.0, text="Done")
        status.update(label=f"Reconciled {len(result.periods)} period(s): "
                            f"{result.metrics.overall['discrepancies']} discrepancies", state="complete")
    st.session_state["sources.done"] = True


ui.header("Sources", "What went into this run, what was refused, and how do I reconcile my own files?")
context = session.context()

st.subheader("Upload files")
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
    if st.session_state.pop("sources.done", False):
        st.rerun()

st.divider()
if context is None:
    st.info("No run yet: upload contracts, usage and invoices above.", icon=":material/info:")
    st.stop()
result = context.result
st.subheader("Files in this run")
report = views.import_report(result.imports)
row = st.columns(3)
row[0].metric("Rows in", f"{int(report['rows_in'].sum()):,}", border=True)
row[1].metric("Rows loaded", f"{int(report['rows_loaded'].sum()):,}", border=True)
row[2].metric("Rows quarantined", f"{int(report['rows_quarantined'].sum()):,}", border=True,
              help="Rows that could not be used, each with its reason below. Rows in = loaded + quarantined.")
ui.table(report, key="sources.report", currency=context.currency, file_name="imports.csv",
         labels={"rows_in": "Rows in", "rows_loaded": "Loaded", "rows_quarantined": "Quarantined",
                 "blank_rows": "Blank", "balanced": "In = loaded + quarantined", "sha256": "SHA-256"})
st.subheader("Quarantined rows")
if result.quarantine.empty:
    st.success("No row was refused.", icon=":material/check_circle:")
else:
    ui.table(result.quarantine, key="sources.quarantine", currency=context.currency, file_name="quarantine.csv")
