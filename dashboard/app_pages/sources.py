"""Sources: what the run is made of, and uploading new files to reconcile."""

from __future__ import annotations

import streamlit as st

from dashboard import data, session, ui
from recon import views
from recon.errors import ReconError
from recon.io import sha256_of
from recon.schema import OPTIONAL_SOURCES, REQUIRED_SOURCES

KINDS = (*REQUIRED_SOURCES, *OPTIONAL_SOURCES)

ui.header("Sources", "What went into this run, what was refused, and how do I reconcile my own files?")
context = session.context()

st.subheader("Upload files")
st.caption("Canonical CSV or XLSX files: contracts, usage, invoices (required), time entries, payments, catalog, "
           "client aliases. The kind is guessed from the file name; change it if needed.")
uploads = st.file_uploader("Source files", type=["csv", "tsv", "txt", "xlsx"], accept_multiple_files=True,
                           key="sources.uploads")
chosen: list[tuple[str, str, bytes]] = []
for index, upload in enumerate(uploads or []):
    guessed = views.guess_kind(upload.name)
    kind = st.selectbox(f"Kind of **{upload.name}**", KINDS, index=KINDS.index(guessed) if guessed else None,
                        key=f"sources.kind.{index}.{upload.name}", placeholder="Choose the kind of this file")
    if kind:
        chosen.append((upload.name, kind, upload.getvalue()))

if uploads:
    modes = {"replace": "these files in place of the same kinds in the current data", "only": "only these files"}
    replacing = st.radio("Reconcile", list(modes), horizontal=True, key="sources.mode", format_func=modes.get)
    if st.button("Reconcile", type="primary", key="sources.reconcile", icon=":material/play_arrow:",
                 disabled=not chosen):
        with st.status("Reconciling …", expanded=True) as status:
            progress = st.progress(0.0, text="Reading files")
            files: list[data.InputFile] = []
            problems: list[str] = []
            for number, (name, kind, content) in enumerate(chosen, start=1):
                digest = sha256_of(content)
                session.blobs()[digest] = content
                try:
                    loaded = data.loaded_file(digest, name, kind, content)
                    st.write(f"{name}: {loaded.record.rows_in:,} rows in, {loaded.record.rows_loaded:,} loaded, "
                             f"{loaded.record.rows_quarantined:,} quarantined")
                    files.append(data.InputFile(name, kind, digest))
                except ReconError as error:
                    problems.append(str(error))
                progress.progress(number / (len(chosen) + 1), text=f"Read {name}")
            next_files = data.merge_files(session.active_files(), tuple(files), replacing == "replace")
            missing = data.missing_kinds(next_files)
            if missing:
                problems.append(f"missing required source(s): {', '.join(missing)}")
            if problems:
                for problem in problems:
                    st.error(problem, icon=":material/error:")
                status.update(label="Not reconciled: fix the files above", state="error")
            else:
                progress.progress(len(chosen) / (len(chosen) + 1), text="Reconciling")
                inputs = data.RunInputs(next_files, session.current_settings(),
                                        label=", ".join(name for name, _, _ in chosen)[:60])
                active = session.activate(inputs)
                result = session.result_of(active)
                progress.progress(1.0, text="Done")
                status.update(label=f"Reconciled {len(result.periods)} period(s): "
                                    f"{result.metrics.overall['discrepancies']} discrepancies", state="complete")
                st.session_state["sources.done"] = True
        if st.session_state.pop("sources.done", False):
            st.rerun()

st.divider()
if context is None:
    st.info("No run yet: upload contracts, usage and invoices above.", icon=":material/info:")
    st.stop()
result = context.result
st.subheader("Files in this run")
report = views.import_report(result.imports)
rows_in, quarantined = int(report["rows_in"].sum()), int(report["rows_quarantined"].sum())
row = st.columns(3)
row[0].metric("Rows in", f"{rows_in:,}", border=True)
row[1].metric("Rows loaded", f"{int(report['rows_loaded'].sum()):,}", border=True)
row[2].metric("Rows quarantined", f"{quarantined:,}", border=True,
              help="Rows that could not be used, each with its reason below. Rows in = loaded + quarantined.")
ui.table(report, key="sources.report", currency=context.currency, file_name="imports.csv",
         labels={"rows_in": "Rows in", "rows_loaded": "Loaded", "rows_quarantined": "Quarantined",
                 "blank_rows": "Blank", "balanced": "In = loaded + quarantined", "sha256": "SHA-256"})
st.subheader("Quarantined rows")
if result.quarantine.empty:
    st.success("No row was refused.", icon=":material/check_circle:")
else:
    ui.table(result.quarantine, key="sources.quarantine", currency=context.currency, file_name="quarantine.csv")
