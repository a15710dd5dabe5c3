"""Profiles: how to read files that are not canonical, saved once and used every month (issue 4).

An optional ``profile.toml`` in a data directory holds one ``[[source]]`` table per kind of file. This
format is the contract (other keys may be added)::

    [[source]]
    path = "pax8_*.csv"            # glob relative to the data directory (case ignored)
    kind = "usage"                 # contracts | usage | invoices | time_entries | payments | catalog |
                                   # client_aliases; may be left out when a preset is named
    preset = "pax8-invoice-items"  # or give columns
    [[source]]
    path = "agreements.csv"
    kind = "contracts"
    encoding = "cp1252"            # default: detect utf-8, utf-8-sig, cp1252
    delimiter = ";"                # default: sniff
    date_format = "%d/%m/%Y"       # default: ISO, then M/D/YYYY
    decimal = ","                  # default "."
    sheet = "Agreements"           # .xlsx: sheet name or 0-based index; default the first with a header
    [source.columns]               # canonical field = column in the file; beside a preset, adds or overrides
    client = "Company"
    sku = "Product ID"
    [source.client_lookup]         # for exports without a client column (Autotask contract units):
    "1001" = "Acme Corporation"    # value of the key column (the preset's, or client_key = "...") -> client

A file is read with the first entry whose ``path`` matches it. ``SourceEntry`` is one such table, also
what the dashboard's Sources page builds and saves (``to_dict`` / ``entry_from_dict`` for the database,
``profile_to_toml`` for a file). ``suggest_mapping`` prefills a column mapping for an unknown file.
"""

from __future__ import annotations

import codecs
import difflib
import json
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pandas as pd
from rapidfuzz import fuzz

from recon.errors import ProfileError
from recon.ingest.jail import glob_matches, path_problem
from recon.ingest.presets import PRESETS, Detection, Preset, derived_column, detect_preset, fold, mark_read
from recon.schema import SOURCES

PROFILE_FILE = "profile.toml"
ENTRY_KEYS = ("path", "kind", "preset", "encoding", "delimiter", "date_format", "decimal", "sheet",
              "client_key", "columns", "client_lookup")
DECIMAL_MARKS = (".", ",")


@dataclass(frozen=True)
class SourceEntry:
    """How to read the files matching ``path``: their kind, preset, read options and column mapping.
    ``None`` options mean detect (encoding, delimiter) or the preset's / the default (dates, decimal)."""

    path: str
    kind: str
    preset: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    date_format: str | None = None
    decimal: str | None = None
    sheet: str | int | None = None
    columns: Mapping[str, str] = field(default_factory=dict)  # canonical field -> file column
    client_lookup: Mapping[str, str] = field(default_factory=dict)  # key column value -> client
    client_key: str | None = None  # the column client_lookup reads (default: the preset's)
    line: int = field(default=0, compare=False)  # where the entry starts in profile.toml (0: not from a file)

    @property
    def preset_spec(self) -> Preset | None:
        return PRESETS[self.preset] if self.preset else None

    def matches(self, relative_path: str) -> bool:
        """Whether a file (path relative to the data directory, ``/`` separated) matches ``path``."""
        if "/" in self.path:
            return glob_matches(self.path, relative_path)
        return fnmatchcase(relative_path.casefold(), self.path.casefold())

    def to_dict(self) -> dict[str, Any]:
        """The entry as a TOML-shaped dict (keys left out when unset), for saving."""
        out: dict[str, Any] = {"path": self.path, "kind": self.kind}
        for key in ENTRY_KEYS[2:]:
            value = getattr(self, key)
            if value is None or (isinstance(value, Mapping) and not value):
                continue
            out[key] = dict(value) if isinstance(value, Mapping) else value
        return out

    def prepare(self, text: pd.DataFrame) -> pd.DataFrame:
        """The file's text frame with the preset's rule applied and the looked-up client column added."""
        preset = self.preset_spec
        out = preset.prepare(text) if preset else text.copy()
        key = self.lookup_column
        if self.client_lookup and key is not None and key in out:
            mark_read(key)
            lookup = {str(k).strip(): v for k, v in self.client_lookup.items()}
            clients = out[key].astype("string").str.strip().map(lookup)
            out[derived_column("client")] = clients.fillna("").astype("string")
        return out

    @property
    def lookup_column(self) -> str | None:
        preset = self.preset_spec
        return self.client_key or (preset.client_key if preset else None)

    def mapping(self, header: Iterable[str]) -> dict[str, str]:
        """Canonical field -> column of the prepared ``header``: the preset's, then the looked-up client,
        then the entry's own ``columns`` (which win)."""
        header = list(header)
        preset = self.preset_spec
        found = preset.mapping(header) if preset else {}
        if self.client_lookup and derived_column("client") in header:
            found["client"] = derived_column("client")
        return found | dict(self.columns)


# ----------------------------------------------------------------------------------------------- parsing

def read_profile(data_dir: Path) -> tuple[SourceEntry, ...]:
    """The entries of ``data_dir/profile.toml`` (none when there is no such file)."""
    path = data_dir / PROFILE_FILE
    if not path.is_file():
        return ()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ProfileError(f"{path}: cannot read: {error}") from None
    return parse_profile(text, str(path))


def parse_profile(text: str, origin: str = PROFILE_FILE) -> tuple[SourceEntry, ...]:
    """Parse profile TOML into entries. Raises ``ProfileError`` naming every bad key with its line."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"{origin}: not valid TOML: {error}") from None
    problems = [f"unknown top-level key {key!r} (expected [[source]] tables)"
                for key in document if key != "source"]
    tables = document.get("source", [])
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        problems.append("'source' must be written as [[source]] tables")
        tables = []
    starts = _entry_lines(text)
    entries = []
    for number, table in enumerate(tables):
        start = starts[number] if number < len(starts) else 0
        block = _block(text, start, starts[number + 1] if number + 1 < len(starts) else None)
        entry, entry_problems = _entry(table, f"[[source]] #{number + 1}",
                                       lambda key, b=block, s=start: _key_line(b, s, key))
        problems += entry_problems
        if entry is not None:
            entries.append(SourceEntry(**{**entry.__dict__, "line": start}))
    if problems:
        raise ProfileError(f"{origin}: " + "; ".join(problems))
    return tuple(entries)


def entry_from_dict(table: Mapping[str, Any], where: str = "source") -> SourceEntry:
    """One entry from a TOML-shaped dict (as ``SourceEntry.to_dict`` makes, or a saved profile in the
    database). Raises ``ProfileError`` naming every bad key."""
    entry, problems = _entry(dict(table), where, lambda key: 0)
    if problems or entry is None:
        raise ProfileError("; ".join(problems))
    return entry


def _entry_lines(text: str) -> list[int]:
    return [number for number, line in enumerate(text.splitlines(), start=1)
            if re.match(r"^\s*\[\[\s*source\s*\]\]", line)]


def _block(text: str, start: int, end: int | None) -> list[str]:
    lines = text.splitlines()
    return lines[start - 1:(end - 1 if end else len(lines))] if start else []


def _key_line(block: list[str], start: int, key: str) -> int:
    """The line of ``key = ...`` within an entry's block (the entry's first line if not found)."""
    pattern = re.compile(r'^\s*["\']?' + re.escape(key) + r'["\']?\s*=')
    return next((start + offset for offset, line in enumerate(block) if pattern.match(line)), start)


def _entry(table: dict[str, Any], where: str, line_of: Any) -> tuple[SourceEntry | None, list[str]]:
    """Validate one [[source]] table; (entry or None, problems, each naming its line and key)."""
    problems: list[str] = []

    def problem(key: str, message: str) -> None:
        line = line_of(key)
        problems.append((f"line {line}: " if line else "") + f"{where}: {message}")

    for key in table:
        if key not in ENTRY_KEYS:
            close = difflib.get_close_matches(key, ENTRY_KEYS, n=1)
            problem(key, f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    path = table.get("path")
    if not isinstance(path, str) or not path.strip():
        problem("path", "'path' (a file name or glob) is required")
    elif path_problem(path.strip()):
        problem("path", f"path {path.strip()!r} {path_problem(path.strip())}: a data directory is a jail, no "
                        "path leads out of it")
        path = None
    preset = _preset(table, problem)
    kind = _kind(table, preset, problem)
    options = _options(table, problem)
    columns = _string_table(table, "columns", problem)
    lookup = _string_table(table, "client_lookup", problem)
    if kind is not None:
        for name in columns:
            if name not in {spec.name for spec in SOURCES[kind]}:
                close = difflib.get_close_matches(name, [spec.name for spec in SOURCES[kind]], n=1)
                problem(name, f"[source.columns] {name!r} is not a {kind} field"
                        + (f" (did you mean {close[0]!r}?)" if close else ""))
    client_key = table.get("client_key")
    if client_key is not None and not isinstance(client_key, str):
        problem("client_key", "'client_key' must be a column name")
    _check_client_source(preset, columns, lookup, client_key, problem)
    if problems or kind is None or not isinstance(path, str):
        return None, problems
    return SourceEntry(path=path.strip(), kind=kind, preset=preset.name if preset else None, columns=columns,
                       client_lookup=lookup, client_key=client_key, **options), problems


def _preset(table: dict[str, Any], problem: Any) -> Preset | None:
    name = table.get("preset")
    if name is None:
        return None
    if not isinstance(name, str) or name not in PRESETS:
        close = difflib.get_close_matches(str(name), list(PRESETS), n=1)
        problem("preset", f"unknown preset {name!r}; known: {', '.join(PRESETS)}"
                + (f" (did you mean {close[0]!r}?)" if close else ""))
        return None
    return PRESETS[name]


def _kind(table: dict[str, Any], preset: Preset | None, problem: Any) -> str | None:
    kind = table.get("kind")
    if kind is None:
        if preset is None and "preset" not in table:
            problem("path", f"'kind' is required without a preset (one of {', '.join(SOURCES)})")
        return preset.kind if preset else None
    if kind not in SOURCES:
        problem("kind", f"unknown kind {kind!r}; expected one of {', '.join(SOURCES)}")
        return None
    if preset is not None and preset.kind != kind:
        problem("kind", f"kind {kind!r} does not fit preset {preset.name!r}, which reads {preset.kind}")
        return None
    return str(kind)


def _options(table: dict[str, Any], problem: Any) -> dict[str, Any]:
    """encoding, delimiter, date_format, decimal and sheet, checked."""
    options = {key: table.get(key) for key in ("encoding", "delimiter", "date_format", "decimal", "sheet")}
    checks = {
        "encoding": (lambda v: isinstance(v, str) and _known_encoding(v),
                     "an encoding Python knows, e.g. 'cp1252'"),
        "delimiter": (lambda v: isinstance(v, str) and len(v) == 1 and v.isascii() and v not in '"\r\n',
                      "one ASCII character other than a quote or a line break, e.g. ';' or '\\t'"),
        "date_format": (lambda v: isinstance(v, str) and _usable_date_format(v),
                        "a strftime format, e.g. '%d/%m/%Y'"),
        "decimal": (lambda v: v in DECIMAL_MARKS, "'.' or ','"),
        "sheet": (lambda v: isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool) and v >= 0),
                  "a sheet name or a 0-based index"),
    }
    for key, (valid, expected) in checks.items():
        if options[key] is not None and not valid(options[key]):
            problem(key, f"{key} {options[key]!r} is not {expected}")
            options[key] = None
    return options


def _known_encoding(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def _usable_date_format(date_format: str) -> bool:
    """A format that writes and reads back a date (it has day, month and year directives)."""
    sample = datetime(2026, 3, 15)
    try:
        return datetime.strptime(sample.strftime(date_format), date_format).date() == sample.date()
    except ValueError:
        return False


def _string_table(table: dict[str, Any], key: str, problem: Any) -> dict[str, str]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        problem(key, f"[source.{key}] must be a table of names")
        return {}
    bad = [name for name, column in value.items()
           if not isinstance(column, str | int) or not str(column).strip()]
    for name in bad:
        problem(name, f"[source.{key}] {name!r} must be a non-empty string")
    return {str(name): str(column).strip() for name, column in value.items() if name not in bad}


def _check_client_source(preset: Preset | None, columns: dict[str, str], lookup: dict[str, str],
                         client_key: str | None, problem: Any) -> None:
    # (a preset whose rows may name no client, Autotask's, is checked against the file's header when the
    # file is read: the Autotask connector's rows carry companyName, an API dump may not)
    if lookup and not client_key and not (preset and preset.client_key):
        problem("client_lookup",
                "[source.client_lookup] needs client_key = \"<column>\" (which column it reads)")


# ----------------------------------------------------------------------------------------------- writing

def profile_to_toml(entries: Sequence[SourceEntry]) -> str:
    """Entries as ``profile.toml`` text (``parse_profile`` reads it back to equal entries)."""
    blocks = []
    for entry in entries:
        data = entry.to_dict()
        lines = ["[[source]]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in data.items()
                  if not isinstance(value, dict)]
        for table in ("columns", "client_lookup"):
            if table in data:
                lines.append(f"[source.{table}]")
                lines += [f"{_toml_key(name)} = {_toml_value(value)}" for name, value in data[table].items()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _toml_value(value: str | int) -> str:
    """A TOML basic string (JSON's escapes are valid TOML) or an integer."""
    return str(value) if isinstance(value, int) else json.dumps(value, ensure_ascii=False)


def _toml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _toml_value(name)


# ------------------------------------------------------------------------------------ suggesting columns

@dataclass(frozen=True)
class ColumnGuess:
    """The best guess for one canonical field: the column (or None), a score 0..100, and its basis."""

    column: str | None
    score: float = 0.0
    basis: str = ""  # "preset <name>", "canonical name", "synonym", "similar name", or "" (no guess)


FUZZY_MIN_SCORE = 80.0
SYNONYMS: dict[str, tuple[str, ...]] = {
    "client": ("company", "customer", "customer name", "company name", "account", "account name",
               "client name", "organization", "organisation", "tenant"),
    "sku": ("product id", "product code", "product", "item", "item id", "part number", "sku id",
            "service id"),
    "quantity": ("qty", "units", "seats", "licenses", "licences", "billable quantity", "count"),
    "unit_price": ("price", "unit price", "price each", "sell price", "each"),
    "start_date": ("effective date", "start", "begin date", "from date"),
    "end_date": ("cancelled date", "canceled date", "end", "expiry date", "expiration date", "to date"),
    "period_start": ("start period", "charge start date", "service start", "start date", "from"),
    "period_end": ("end period", "charge end date", "service end", "end date", "to"),
    "invoice_number": ("invoice", "invoice #", "invoice no", "invoice id", "document number"),
    "invoice_date": ("date", "document date"),
    "amount": ("total", "line total", "extended price", "ext price", "subtotal", "line amount"),
    "due_date": ("due", "payment due"),
    "billable": ("bill customer", "billable option", "chargeable"),
    "hours": ("actual hours", "duration", "hours worked"),
    "rate": ("hourly rate", "bill rate"),
    "hourly_rate": ("labor rate", "labour rate"),
    "technician": ("member", "resource", "engineer", "tech", "staff"),
    "ticket": ("ticket number", "ticket #", "service ticket"),
    "work_type": ("type of work",),
    "entry_id": ("time entry id", "entry"),
    "payment_date": ("paid date", "date paid", "date"),
    "unit_cost": ("cost", "buy price", "unit cost"),
    "list_price": ("msrp", "retail price"),
    "vendor_sku": ("vendor part", "manufacturer part number", "mpn"),
    "vendor": ("vendor name", "manufacturer", "distributor", "publisher"),
    "agreement_id": ("agreement", "contract", "contract id", "agreement name"),
    "product_name": ("product name", "sku name", "description"),
    "subscription_id": ("subscription",),
    "currency": ("currency code", "ccy"),
    "account_manager": ("owner", "sales rep"),
    "tax": ("tax total", "tax amount", "vat", "sales tax"),
    "date": ("date worked", "work date", "time start", "entry date"),
    "line_id": ("line", "line number", "line no", "sequence"),
    "billing_frequency": ("frequency", "billing cycle"),
    "included_hours": ("hours included", "block hours"),
}


def suggest_mapping(columns: Iterable[str], kind: str, preset: str | None = None) -> dict[str, ColumnGuess]:
    """A best guess of the file column for every canonical field of ``kind`` (to prefill dropdowns).

    In order of trust: the preset's mapping, the canonical name, a synonym (``Company`` for client), then
    a similar name (rapidfuzz ratio >= ``FUZZY_MIN_SCORE``). Each column is given to one field at most,
    best score first. Fields without a guess get ``ColumnGuess(None)``.
    """
    if kind not in SOURCES:
        raise ProfileError(f"unknown kind {kind!r}; expected one of {', '.join(SOURCES)}")
    header = [str(column) for column in columns]
    candidates = sorted(_candidates(header, kind, preset), key=lambda item: -item[0])
    fields_order = [spec.name for spec in SOURCES[kind]]
    guesses: dict[str, ColumnGuess] = {}
    taken: set[str] = set()
    for score, name, column, basis in candidates:
        if name not in guesses and column not in taken:
            guesses[name] = ColumnGuess(column, score, basis)
            taken.add(column)
    return {name: guesses.get(name, ColumnGuess(None)) for name in fields_order}


def _candidates(header: list[str], kind: str, preset: str | None) -> list[tuple[float, str, str, str]]:
    out: list[tuple[float, str, str, str]] = []
    spec = PRESETS.get(preset) if preset else None
    if spec is not None and spec.kind == kind:
        out += [(100.0, name, column, f"preset {spec.name}") for name, column in spec.mapping(header).items()
                if column in header]
    for name in (field_spec.name for field_spec in SOURCES[kind]):
        words = [fold(word) for word in SYNONYMS.get(name, ())]
        for column in header:
            folded = fold(column)
            if folded == fold(name):
                out.append((99.0, name, column, "canonical name"))
            elif folded in words:
                out.append((95.0 - words.index(folded) * 0.1, name, column, "synonym"))
            else:
                score = max(fuzz.ratio(folded, word) for word in [fold(name), *words])
                if score >= FUZZY_MIN_SCORE:
                    out.append((round(score * 0.9, 1), name, column, "similar name"))
    return out


def suggest_entry(columns: Iterable[str], file_name: str) -> tuple[SourceEntry | None, str]:
    """A first guess at how to read an uploaded file, and why (for the Sources page to confirm).

    A preset the header matches wins; otherwise the source kind whose required fields the header covers
    best (by ``suggest_mapping``), with the guessed columns as the entry's mapping. ``None`` when no kind
    has a column for every required field.
    """
    header = [str(column) for column in columns]
    detection = detect_preset(header)
    if detection.preset is not None:
        preset = PRESETS[detection.preset]
        return SourceEntry(path=file_name, kind=preset.kind, preset=preset.name), detection.reason
    # the kind that reads more of the header's columns, then the better average guess: a usage file with a
    # unit_cost is usage (6 columns read), not a catalog (sku, vendor, unit_cost: 3, a better average)
    best: tuple[tuple[int, float], str, dict[str, ColumnGuess]] | None = None
    for kind in SOURCES:
        guesses = suggest_mapping(header, kind)
        required = [spec.name for spec in SOURCES[kind] if spec.required]
        if all(guesses[name].column for name in required):
            score = (sum(1 for guess in guesses.values() if guess.column),
                     sum(guess.score for guess in guesses.values()) / len(SOURCES[kind]))
            if best is None or score > best[0]:
                best = (score, kind, guesses)
    # a header naming every required field of a kind by its canonical name is that kind: a close preset
    # (which shares Quantity, Price and date columns with many files) is offered only to other files
    canonical = best is not None and all(
        best[2][spec.name].basis == "canonical name" for spec in SOURCES[best[1]] if spec.required)
    closest = None if canonical else _closest_preset_entry(header, file_name, detection)
    if closest is not None:
        return closest
    if best is None:
        return None, f"no source kind fits: {detection.reason}"
    _, kind, guesses = best
    mapping = {name: guess.column for name, guess in guesses.items() if guess.column}
    how = ", ".join(f"{name} <- {column}" for name, column in mapping.items())
    return SourceEntry(path=file_name, kind=kind, columns=mapping), f"looks like {kind}: {how}"


CLOSEST_PRESET_MIN = 0.3  # share of a preset's known columns that makes it worth offering for a mapping


def _closest_preset_entry(header: list[str], file_name: str, detection: Detection) -> tuple[SourceEntry, str] | None:
    """A file that matches no preset but looks like one (``CLOSEST_PRESET_MIN`` of its known columns: a
    list view with a column renamed): read it with that preset, its missing columns guessed from the
    header (names, synonyms, similar names), for the person to confirm and save as a profile. None when
    no preset is that close or a required field still has no column."""
    if detection.closest is None or detection.confidence < CLOSEST_PRESET_MIN:
        return None
    preset = PRESETS[detection.closest]
    mapped = preset.mapping(preset.prepare(pd.DataFrame(columns=header, dtype="string")).columns)
    if preset.client_key:
        mapped.setdefault("client", "")  # the profile's client lookup may name it
    guesses = suggest_mapping([column for column in header if column not in mapped.values()], preset.kind)
    required = [spec.name for spec in SOURCES[preset.kind] if spec.required and spec.name not in mapped]
    columns = {name: str(guesses[name].column) for name in required if guesses[name].column}
    if len(columns) < len(required):
        return None
    how = ", ".join(f"{name} <- {column}" for name, column in columns.items())
    reason = f"closest preset {preset.name} ({preset.title}), its missing columns guessed: {how}"
    return SourceEntry(path=file_name, kind=preset.kind, preset=preset.name, columns=columns), reason


__all__ = ["PROFILE_FILE", "ColumnGuess", "SourceEntry", "entry_from_dict", "parse_profile",
           "profile_to_toml", "read_profile", "suggest_entry", "suggest_mapping"]
