"""Rendering helpers shared by the pages: KPI cards, money tables with CSV downloads, evidence panels.

Formatting only: values arrive computed by ``recon``; money is Int64 units and is shown through
``recon.money.display_money`` (cards, text) or as currency-formatted numbers (tables), with exact
decimal strings in every CSV download (``recon.exports.formatting.export_frame``). Which columns are
money, with how many places, is ``recon.schema``'s to say, for the screen as for the files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import charts, data, login, session
from recon import access, views
from recon.exports.formatting import export_frame
from recon.exports.safe import download_name, markdown_text, redact, safe_csv
from recon.keys import month_name
from recon.metrics import TRIAL_WEIGHTING
from recon.money import CURRENCY_SYMBOLS, MONEY_SCALE, display_money
from recon.schema import QUANTITY, RATIO, column_kind, money_columns, money_places

NAMED_FORMATS = {"USD": "dollar", "EUR": "euro"}
COLOURED_COLUMNS = ("variance", "difference", "net_variance", "leakage_delta", "leakage", "overcharge")


# --------------------------------------------------------------------------------------------- text

def money(units: int | None, currency: str, signed: bool = False) -> str:
    """Money units as currency text (``-$1,234.56``)."""
    return display_money(units, currency, signed=signed)


def loss(units: int | None, currency: str) -> str:
    """Money lost, as red text with a minus sign (markdown)."""
    if not units:
        return money(0, currency)
    return f":red[{money(-abs(units), currency)}]"


def gain(units: int | None, currency: str) -> str:
    """Money over-billed (owed back), in blue with a plus sign (markdown)."""
    if not units:
        return money(0, currency)
    return f":blue[{money(abs(units), currency, signed=True)}]"


def sparkline(by_period: pd.DataFrame, column: str, currency: str) -> tuple[list[float] | None, str | None]:
    """A money column of ``metrics.by_period`` as sparkline values (leakage as a loss, below zero), and
    the change of its last period against the one before as delta text ("+$120.00 vs Mar 2026"); neither
    for a single period (one bar would stretch across the card)."""
    change = views.period_change(by_period, column)
    if change is None:
        return None, None
    shown = views.as_read(by_period[[column]])[column]
    return ([int(units) / MONEY_SCALE for units in shown],
            f"{money(change.change, currency, signed=True)} vs {month_name(change.previous)}")


def when(moment: datetime) -> str:
    """A moment as a person reads it, in UTC: ``3 Dec 2026, 14:05 UTC``."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{moment.astimezone(UTC):%-d %b %Y, %H:%M} UTC"


def percent(ratio: float | None, places: int = 1) -> str:
    return "—" if ratio is None or pd.isna(ratio) else f"{ratio * 100:.{places}f}%"


def header(title: str, question: str) -> None:
    """Page title and the question the page answers."""
    st.title(title)
    st.caption(question)


def metric_row() -> DeltaGenerator:
    """A row for KPI cards (``row.metric(..., border=True)``, in order) that wraps onto another line
    where the page is too narrow to show every value whole: equal ``st.columns`` would cut
    "$1,153,458.32" to "$1,15…" beside an open sidebar on a laptop."""
    return st.container(horizontal=True, wrap=True)


def require_context() -> session.PageContext:
    """The page context, or a pointer to the Sources page and a stop when there is no run."""
    context = session.context()
    if context is None:
        st.info("No reconciliation to show yet. Load your files on the **Sources** page.", icon=":material/info:")
        st.page_link("app_pages/sources.py", label="Go to Sources", icon=":material/upload_file:")
        st.stop()
    return context


# ------------------------------------------------------------------------------------------- tables

def money_format(places: int, currency: str = "USD") -> str:
    """The table format of money with ``places`` decimals in ``currency`` (Streamlit's named
    ``dollar`` / ``euro`` for amounts, else the symbol and a printf format)."""
    if places == 2 and currency.upper() in NAMED_FORMATS:
        return NAMED_FORMATS[currency.upper()]
    symbol = CURRENCY_SYMBOLS.get(currency.upper(), f"{currency.upper()} ")
    return f"{symbol}%,.{places}f"


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Money columns (``recon.schema``; Int64 units) as currency floats for display, and a missing text
    as a blank cell (a table shows a missing value as "None"); everything else as it is."""
    money = [column for column in money_columns(frame.columns) if pd.api.types.is_integer_dtype(frame[column])]
    blank_texts = [column for column in frame.columns if frame[column].isna().any() and _is_text(frame[column])]
    return frame.assign(**{column: frame[column].astype("Float64") / MONEY_SCALE for column in money},
                        **{column: frame[column].astype("string").fillna("") for column in blank_texts})


def _is_text(column: pd.Series) -> bool:
    values = column.dtype.categories if isinstance(column.dtype, pd.CategoricalDtype) else column
    return pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")


_ACRONYMS = {"sku": "SKU", "id": "ID", "sha256": "SHA-256", "dso": "DSO", "psa": "PSA"}


def column_title(column: str) -> str:
    """``vendor_sku`` -> "Vendor SKU": words of a column name, the first capitalised, acronyms upper-case."""
    text = " ".join(_ACRONYMS.get(word, word) for word in column.split("_"))
    return text[:1].upper() + text[1:]


def column_config(frame: pd.DataFrame, currency: str, labels: dict[str, str] | None = None,
                  pinned: Sequence[str] = (), widths: dict[str, int] | None = None) -> dict[str, object]:
    """Readable headers, and the number format of each column's kind (``recon.schema``): money in
    ``currency`` with its places (unit prices in whole cents with two), ratios as percentages, quantities
    with two decimals; ``pinned`` columns stay in view when the table scrolls sideways."""
    config: dict[str, object] = {}
    labels = labels or {}
    for column in frame.columns:
        title = labels.get(column, column_title(column))
        kind = column_kind(str(column))
        numeric = pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column])
        places = money_places(str(column))
        if places is not None and numeric:
            shown = money_format(shown_places(frame[column], places), currency)
            config[column] = st.column_config.NumberColumn(title, format=shown, pinned=column in pinned,
                                                           width=(widths or {}).get(column))
        elif pd.api.types.is_datetime64_any_dtype(frame[column]) and _has_time_of_day(frame[column]):
            config[column] = st.column_config.DatetimeColumn(title, format="D MMM YYYY, HH:mm")
        elif pd.api.types.is_datetime64_any_dtype(frame[column]):
            config[column] = st.column_config.DateColumn(title, format="YYYY-MM-DD", pinned=column in pinned,
                                                         width=(widths or {}).get(column))
        elif kind == RATIO and numeric:
            config[column] = st.column_config.NumberColumn(title, format="percent")
        elif kind == QUANTITY and numeric:
            config[column] = st.column_config.NumberColumn(title, format="%,.2f")
        else:
            config[column] = st.column_config.Column(title, pinned=column in pinned, width=(widths or {}).get(column))
    return config


def _has_time_of_day(moments: pd.Series) -> bool:
    """Whether moments carry a time of day (a run's creation, an access-log entry), not only dates."""
    known = moments.dropna()
    return bool((known != known.dt.normalize()).any())


def shown_places(amounts: pd.Series, places: int) -> int:
    """The decimals a money column is shown with: its declared places, or two when every amount is whole
    cents (a unit price of $22.00, not $22.0000; $0.085 keeps its four)."""
    if places <= 2:
        return places
    cents = amounts.dropna().astype("float64") * 100
    return 2 if len(cents) and bool(((cents - cents.round()).abs() < 1e-6).all()) else places


def _colour(value: object) -> str:
    if value is None or pd.isna(value):  # type: ignore[call-overload]
        return ""
    if float(value) < 0:  # type: ignore[arg-type]
        return f"color: {charts.UNDER_COLOR}; font-weight: 600"
    return f"color: {charts.OVER_COLOR}; font-weight: 600" if float(value) > 0 else ""  # type: ignore[arg-type]


def table(frame: pd.DataFrame, *, key: str, currency: str, file_name: str | None = None,
          columns: Sequence[str] | None = None, labels: dict[str, str] | None = None,
          selection: str | None = None, height: int | str = "auto", download: bool = True,
          on_select: Callable[[], None] | None = None, pinned: Sequence[str] = (),
          widths: dict[str, int] | None = None, hidden: Sequence[str] = ()) -> object:
    """A money-aware table: currency formats, losses red and over-billing blue in variance columns, and
    (below it) a CSV download with exact decimal money. ``selection`` ("single-row" / "multi-row")
    makes rows selectable and returns the selection event. ``hidden`` columns (an internal key the page
    selects by) travel with the rows but are never shown nor downloaded."""
    shown = frame[list(columns)] if columns else frame
    display = display_frame(shown.assign(**{column: frame[column] for column in hidden}))
    coloured = [column for column in COLOURED_COLUMNS if column in display]
    body: object = display.style.map(_colour, subset=coloured) if coloured and len(display) <= 5000 else display
    config = column_config(display, currency, labels, pinned, widths) | dict.fromkeys(hidden)
    options: dict[str, object] = {"hide_index": True, "column_config": config, "key": key, "height": height,
                                  "width": "stretch", "placeholder": ""}
    if selection:
        options |= {"on_select": on_select or "rerun", "selection_mode": selection}
    event = st.dataframe(body, **options)  # type: ignore[arg-type]
    if download and file_name:
        download_csv(shown, file_name=file_name, key=f"{key}.csv")
    return event


def table_to_open(frame: pd.DataFrame, *, key: str, column: str, state_key: str, page: str,
                  **options: object) -> None:
    """A table whose row, once selected, opens ``page`` with ``state_key`` set to the row's ``column``.
    The table is re-keyed after each pick, so coming back shows it unselected (no navigation loop)."""
    nonce = st.session_state.setdefault(f"{key}.nonce", 0)
    widget_key = f"{key}.{nonce}"

    def picked() -> None:
        rows = selected_rows(st.session_state.get(widget_key))
        if rows:
            st.session_state[state_key] = str(frame.iloc[rows[0]][column])
            st.session_state[f"{key}.nonce"] = nonce + 1
            st.session_state[f"{key}.open"] = True

    table(frame, key=widget_key, selection="single-row", on_select=picked, **options)  # type: ignore[arg-type]
    if st.session_state.pop(f"{key}.open", False):
        st.switch_page(page)


def download_csv(frame: pd.DataFrame, *, file_name: str, key: str, label: str = "Download CSV") -> None:
    """A download button producing the CSV only when clicked (exact money, ISO dates, formulas in text
    cells neutralised), for a principal who may export."""
    export_button(label, lambda: safe_csv(export_frame(frame)), file_name=file_name, key=key, mime="text/csv",
                  icon=":material/download:", type="tertiary", detail=f"{len(frame)} row(s)")


def export_button(label: str, produce: Callable[[], bytes], *, file_name: str, key: str, mime: str,
                  action: str = access.EXPORT, detail: str = "", **options: object) -> None:
    """A download button shown only to a principal allowed ``action``; the file is made when clicked,
    under a safe file name, and the download is written to the access log (who, what, when)."""
    principal = login.current_principal()
    if principal is None or not access.can(principal, action):
        return
    storage, source = session.auth_storage(), login.client_source()
    name = download_name(*file_name.rsplit(".", 1)[:1], suffix="." + file_name.rsplit(".", 1)[-1])

    def logged() -> bytes:
        content = produce()
        access.record(storage, principal, action, login.now(), target=name, detail=detail, source=source)
        return content

    st.download_button(label, data=logged, file_name=name, mime=mime, key=key, on_click="ignore",
                       **options)  # type: ignore[arg-type]


def error_text(error: BaseException) -> str:
    """An error for the screen: secrets masked, and literal (file content in a message stays text)."""
    return md(redact(str(error)))


def names_label(names: Sequence[str], limit: int = 60) -> str:
    """A run's label from the names of its files (or pulls): whole names, as many as fit in ``limit``
    characters, then "and N more"; never a name cut in the middle."""
    shown: list[str] = []
    for name in names:
        if shown and len(", ".join([*shown, name])) > limit:
            break
        shown.append(name)
    rest = len(names) - len(shown)
    return ", ".join(shown) + (f" and {rest} more" if rest else "")


def md(value: object) -> str:
    """Text from data, literal in markdown: a client name can never become a link, image or colour."""
    return markdown_text(value)


def selected_rows(event: object) -> list[int]:
    """Row positions selected in a ``table(..., selection=...)``."""
    if event is None:
        return []
    selection = getattr(event, "selection", None) or (event.get("selection") if isinstance(event, dict) else None)
    if selection is None:
        return []
    rows = selection.get("rows", []) if isinstance(selection, dict) else getattr(selection, "rows", [])
    return list(rows)


# ----------------------------------------------------------------------------------------- evidence

EVIDENCE_COLUMNS = {
    "contract": ["agreement_id", "sku", "quantity", "unit_price", "start_date", "end_date", "billing_frequency",
                 "prorate", "service_id", "source_file", "source_line"],
    "usage": ["client_raw", "sku_raw", "row_type", "quantity", "period_start", "period_end", "vendor", "unit_cost",
              "subscription_id", "source_file", "source_line"],
    "invoice": ["invoice_number", "invoice_date", "quantity", "unit_price", "amount", "period_start", "status",
                "description", "source_file", "source_line"],
    "time": ["date", "hours", "billable", "rate", "invoice_number", "technician", "ticket", "source_file",
             "source_line"],
}
EVIDENCE_TITLES = {"contract": "Contract", "usage": "Vendor usage", "invoice": "Invoice", "time": "Time entries"}


def evidence(context: session.PageContext, period: str, client: str, sku: str, key: str) -> None:
    """The contract, usage and invoice rows behind one key, side by side (time entries for labour)."""
    rows = data.key_evidence(context.key, period, client, sku, context.result)
    parts = [name for name in ("contract", "usage", "invoice", "time") if name in rows]
    st.markdown(f"**Evidence for {md(client)} · {md(sku)} · {md(period)}**: the input rows behind this finding "
                "(file and line for each).")
    facts = rows.get("key")
    if facts is not None and len(facts):
        carried, trial = int(facts["carried_days"].iloc[0] or 0), float(facts["trial_qty"].iloc[0] or 0)
        if carried:
            st.caption(f"{carried} day(s) of this month no loaded charge covers carry the nearest charge's quantity "
                       "(load the earlier month's file, or keep it in the store, to see them).")
        if trial:
            st.caption(f"{trial:g} trial seat(s) on this key ({TRIAL_WEIGHTING}) are not expected to be billed.")
    for column, name in zip(st.columns(len(parts)), parts, strict=True):
        with column:
            frame = rows[name]
            st.markdown(f"**{EVIDENCE_TITLES[name]}** · {len(frame)} row(s)")
            if frame.empty:
                st.caption("No rows.")
                continue
            wanted = display_frame(frame[[column for column in EVIDENCE_COLUMNS[name] if column in frame]])
            st.dataframe(wanted, hide_index=True, key=f"{key}.{name}", width="stretch",
                         column_config=column_config(wanted, context.currency))
