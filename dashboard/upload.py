"""The Sources page's first door: files uploaded (canonical or real exports), each read as detected or
as a person chooses (kind, preset, columns; saved as a profile for next month), validated, and
reconciled. ``validation_details``, ``validation_counts`` and ``reconcile`` serve the other door
(``dashboard.connect``) too: a pulled source is read, shown and reconciled exactly as an upload."""

from __future__ import annotations

import streamlit as st

from dashboard import data, session, ui
from recon import views
from recon.errors import ReconError
from recon.ingest.directory import canonical_kind
from recon.ingest.normalise import LoadedSource
from recon.ingest.presets import PRESETS, preset_names
from recon.ingest.profile import SourceEntry, profile_to_toml, suggest_entry, suggest_mapping
from recon.ingest.reading import sha256_of
from recon.metrics import describe_findings
from recon.rules import INFORMATIONAL_TYPES
from recon.schema import OPTIONAL_SOURCES, REQUIRED_SOURCES, SOURCES
from recon.sources import ValidationReport

KINDS = (*REQUIRED_SOURCES, *OPTIONAL_SOURCES)
NONE = "—"
NO_PRESET = "(no preset: map the columns)"
SAVED_PROFILE = "read with the saved profile"


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
    grid = st.columns(2)  # two a row: at 1024 px four cut a column's name to its first eight letters
    chosen: dict[str, str] = {}
    for position, spec in enumerate(SOURCES[kind]):
        guess = guesses[spec.name]
        default = given.get(spec.name) or guess.column
        choice = grid[position % 2].selectbox(
            f"{spec.name}{' *' if spec.required else ''}", options, key=f"sources.column.{index}.{kind}.{spec.name}",
            index=options.index(default) if default in options else 0,
            help=f"guessed from the {guess.basis}" if guess.column else None)
        keep = spec.name in given if preset else True
        if choice != NONE and (keep or choice != default):
            chosen[spec.name] = choice
    return chosen


def save_as_profile(index: int, name: str, entry: SourceEntry) -> None:
    """Save how this file was read as a named profile, so next month's export reads the same way."""
    left, middle, right = st.columns([3, 3, 2], vertical_alignment="bottom")  # the button's label whole at 1024 px
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
             columns=["rule", "success", "checked", "failed", "column"])
    if len(loaded.issues):
        st.markdown(f"**Quarantined rows** · {len(loaded.issues):,}")
        ui.table(loaded.issues, key=f"sources.issues.{key}", currency="USD", download=False,
                 columns=["line", "column", "reason", "raw"])


def validation_counts(report: ValidationReport) -> None:
    """Under a file: rows in = used + quarantined beside the physical lines they came from, how many
    expectations passed and failed, how the text was decoded, the columns not used, and what the reader
    warns about (a column not used that the format does not know among it)."""
    failed = len(report.failed)
    lines = report.line_counts.describe()
    st.caption(f"{report.rows_in:,} rows in · {report.rows_used:,} used · {report.rows_quarantined:,} quarantined"
               + (f" · {lines}" if lines else "")
               + f" · {len(report.passed)} check(s) passed" + (f", **{failed} failed**" if failed else ""))
    if report.encoding not in ("", "UTF-8"):
        st.caption(f"Read as {ui.md(report.encoding)}")
    known = [column.describe() for column in report.unused_columns if column.known]
    if known:  # (the ones the format does not know are in a warning below)
        st.caption(f"Columns the format has that nothing here needs: {ui.md(', '.join(known))}")
    for warning in report.warnings:
        st.warning(ui.md(warning), icon=":material/warning:")


def next_run_files(new: list[data.InputFile], mode_key: str) -> tuple[data.InputFile, ...] | None:
    """How the new files (uploads or pulls) join the current data, chosen by the person: what the next run
    replaces, keeps and adds (files and rows) is said before anything runs, and a run that would lose a
    source, a vendor or months of one, or some clients' rows of one, is asked about (``recon.ingest.plan``).
    The next run's files, or ``None`` until confirmed."""
    mode = st.radio("Reconcile these files", list(data.UPLOAD_MODES), horizontal=True, key=mode_key,
                    format_func=data.UPLOAD_MODES.get)
    made, files = data.plan_files(session.active_files(), tuple(new), str(mode), session.blobs(),
                                  session.upload_limits())
    st.info(f"The next run {ui.md(made.summary())}", icon=":material/swap_horiz:")  # file and vendor names: text
    if not made.losses:
        return files
    lost = ui.md("; ".join(loss.describe() for loss in made.losses))
    st.warning(f"The next run would no longer have: {lost}.", icon=":material/warning:")
    if st.checkbox(f"Reconcile without {lost}", key=f"{mode_key}.confirm_loss", value=False):
        return files
    return None


def reconcile(files: tuple[data.InputFile, ...], label: str = "") -> None:
    """Make ``files`` (the current ones kept and the uploads or pulls, see ``next_run_files``) the session's
    data and reconcile it: the run every page shows, stored with its imports (name, SHA-256, row counts)."""
    with st.status("Reconciling …", expanded=True) as status:
        progress = st.progress(0.2, text="Checking the files")
        missing = data.missing_kinds(files)
        if missing:
            st.error(f"missing required source(s): {', '.join(missing)}", icon=":material/error:")
            status.update(label="Not reconciled: a required source is missing", state="error")
            return
        progress.progress(0.5, text=f"Reconciling {len(files)} file(s)")
        label = label or ui.names_label([file.name for file in files if file.path is None])
        active = session.activate(data.RunInputs(files, session.current_settings(), label=label))
        result = session.result_of(active)
        progress.progress(1.0, text="Done")
        informational = int(result.discrepancies["type"].isin(INFORMATIONAL_TYPES).sum())
        found = describe_findings(result.metrics.overall.discrepancies, informational)
        outcome = (f"Reconciled {len(result.periods)} period(s): {found} discrepancies (run #{active.run_id}). "
                   "Every page now shows these files.")
        status.update(label=outcome, state="complete")
    st.session_state["sources.done"] = outcome


def upload_tab() -> None:
    """Upload files (canonical or real exports), read each one as chosen, and reconcile them."""
    st.caption("CSV or XLSX: contracts, usage, invoices (required), time entries, payments, catalog, client aliases. "
               "The kind is guessed from the file name and the columns from their names; change either if needed.")
    uploads = st.file_uploader("Source files", type=["csv", "tsv", "txt", "xlsx"], accept_multiple_files=True,
                               key="sources.uploads")
    ready = [upload_panel(index, upload.name, upload.getvalue()) for index, upload in enumerate(uploads or [])]
    ready_files = [file for file in ready if file is not None]
    if not uploads:
        return
    files = next_run_files(ready_files, "sources.mode") if len(ready_files) == len(uploads) else None
    if st.button("Reconcile", type="primary", key="sources.reconcile", icon=":material/play_arrow:",
                 disabled=files is None) and files is not None:
        session.record("upload", target=", ".join(file.name for file in ready_files)[:200],
                       detail=session.describe_files(tuple(ready_files)))
        reconcile(files, ui.names_label([file.name for file in ready_files]))
