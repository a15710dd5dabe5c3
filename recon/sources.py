"""What a run takes in: the canonical frames of its sources, the rows sent to quarantine, and per file
an import record (content hash, row counts) and a validation report.

``recon.ingest`` builds these from files and ``recon.connectors`` from APIs; the engine reads them and
knows nothing of how they were read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from recon.schema import ISSUE_COLUMNS, canonical_dtypes

# ---------------------------------------------------------------------------------------------- results

@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation run on one file: what it checks, and how many rows it checked and failed."""

    expectation: str  # the GX expectation type, e.g. "expect_column_values_to_be_between"
    column: str  # the field(s) it looks at, canonical names
    rule: str  # the same in words, e.g. "quantity >= 0"
    success: bool
    checked: int  # rows with a value the expectation judged (all rows for column-level ones)
    failed: int  # rows it found unexpected (each one is in quarantine)
    observed: str = ""  # for column-level expectations (type, presence): what GX saw

    def to_dict(self) -> dict[str, str | int | bool]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class UnusedColumn:
    """A column a file has that no field is read from: one the file's format documents but nothing needs
    (``known``), or one it does not know (an optional column renamed, a column of someone's own), with
    the field or column it looks like a misspelling of (``did_you_mean``; ``None``: none)."""

    column: str
    did_you_mean: str | None = None
    known: bool = False

    def describe(self) -> str:
        """``'Vendr' (did you mean vendor?)``, or ``'Notes'``."""
        return repr(self.column) + (f" (did you mean {self.did_you_mean}?)" if self.did_you_mean else "")

    def to_dict(self) -> dict[str, str | bool | None]:
        return dict(self.__dict__)


UNUSED_SHOWN = 20  # columns named in the warning (the report keeps them all)


def unused_warning(unused: Sequence[UnusedColumn]) -> str:
    """One sentence for a validation report: how many columns the file's format does not know were not
    used, which (the first ``UNUSED_SHOWN``), and what to do. Empty when there are none (the columns a
    preset documents and does not need are in the report, not in a warning: every such export has them)."""
    unknown = [column for column in unused if not column.known]
    if not unknown:
        return ""
    named = ", ".join(column.describe() for column in unknown[:UNUSED_SHOWN])
    more = f", ... ({len(unknown) - UNUSED_SHOWN} more)" if len(unknown) > UNUSED_SHOWN else ""
    return (f"{len(unknown):,} column(s) not used, their values not read: {named}{more}; if one holds a field, "
            "rename it in the file or map it in profile.toml")


@dataclass(frozen=True)
class AbsentColumn:
    """A column the file's export format has that the file lacks (deleted in a spreadsheet, or an export
    set up without it), where the findings depend on it: the canonical ``field`` it gives, left empty or
    read without it, and what that means for the findings (``recon.schema.WITHOUT_FIELD``)."""

    column: str
    field: str
    means: str

    def describe(self) -> str:
        """``'subscriptionId' (subscription_id): rows of one subscription are added up ...``."""
        return f"{self.column!r} ({self.field}): {self.means}"

    def warning(self) -> str:
        """One sentence for a validation report."""
        return (f"no column {self.column!r} ({self.field}), which this export format has: {self.means}; if the "
                "export left it out, export the file again with it")

    def to_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Lines:
    """Every physical line of a file accounted for: ``lines = header + used + quarantined + blank``
    (a row whose quoted value holds line breaks spans several lines). ``lines`` is ``None`` for a table
    that is not a file (a pulled source)."""

    lines: int | None = None
    header: int = 0
    used: int = 0
    quarantined: int = 0
    blank: int = 0

    @property
    def balanced(self) -> bool:
        return self.lines is None or self.lines == self.header + self.used + self.quarantined + self.blank

    def describe(self) -> str:
        """``lines 3,089 = header 1 + used 3,080 + quarantined 8 + blank 0`` (empty when not a file)."""
        if self.lines is None:
            return ""
        return (f"lines {self.lines:,} = header {self.header:,} + used {self.used:,} + quarantined "
                f"{self.quarantined:,} + blank {self.blank:,}")


@dataclass(frozen=True)
class ValidationReport:
    """What validating one file found: the expectations passed and failed, the row counts
    (``rows_in = rows_used + rows_quarantined``; blank rows are skipped and counted apart) and the
    physical lines they came from (``line_counts``), how its text was decoded (``encoding``) and what
    the user should know about how it was read (``warnings``: a decimal comma that may be meant, a
    stray byte, columns not used, columns of its format it lacks, ...), the columns it has that no field
    is read from (``unused_columns``, each with a "did you mean" where it looks like a misspelling) and
    the columns its export format has that it lacks where a finding depends on them
    (``absent_columns``). A refused file
    (unreadable, required columns missing) has ``problems`` and no rows used."""

    source: str
    file: str
    rows_in: int = 0
    rows_used: int = 0
    rows_quarantined: int = 0
    blank_rows: int = 0
    expectations: tuple[ExpectationOutcome, ...] = ()
    read_as: str = ""  # how the file was read: canonical columns, a profile entry, a detected preset
    problems: tuple[str, ...] = ()
    line_counts: Lines = field(default_factory=Lines)
    encoding: str = ""
    warnings: tuple[str, ...] = ()
    unused_columns: tuple[UnusedColumn, ...] = ()  # columns present that no field is read from
    absent_columns: tuple[AbsentColumn, ...] = ()  # columns of the file's format it lacks (each in a warning)

    @property
    def refused(self) -> bool:
        return bool(self.problems)

    @property
    def passed(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(outcome for outcome in self.expectations if outcome.success)

    @property
    def failed(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(outcome for outcome in self.expectations if not outcome.success)

    @property
    def balanced(self) -> bool:
        return self.rows_in == self.rows_used + self.rows_quarantined

    def expectations_frame(self) -> pd.DataFrame:
        """One row per expectation (columns of ``ExpectationOutcome``), for a table on a page."""
        columns = list(ExpectationOutcome.__dataclass_fields__)
        return pd.DataFrame([outcome.to_dict() for outcome in self.expectations], columns=columns)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {**{key: value for key, value in self.__dict__.items()
                   if key not in ("expectations", "line_counts", "unused_columns", "absent_columns")},
                "problems": list(self.problems), "refused": self.refused, "warnings": list(self.warnings),
                "unused_columns": [column.to_dict() for column in self.unused_columns],
                "absent_columns": [column.to_dict() for column in self.absent_columns],
                "line_counts": dict(self.line_counts.__dict__),
                "expectations": [outcome.to_dict() for outcome in self.expectations]}


def refused_report(source: str, file: str, problems: list[str], read_as: str = "") -> ValidationReport:
    """The report of a file that could not be used at all."""
    return ValidationReport(source, file, read_as=read_as, problems=tuple(problems))



@dataclass(frozen=True)
class ImportRecord:
    """What one file contributed: the counts that must add up (rows, and the physical lines they came
    from), and its content hash."""

    source: str
    file: str
    sha256: str
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    blank_rows: int = 0
    line_counts: Lines = field(default_factory=Lines)

    def to_dict(self) -> dict[str, str | int | None]:
        out: dict[str, str | int | None] = {key: value for key, value in self.__dict__.items()
                                            if key != "line_counts"}
        counts = self.line_counts
        out.update(lines=counts.lines, header_lines=counts.header, lines_used=counts.used,
                   lines_quarantined=counts.quarantined, blank_lines=counts.blank)
        return out




@dataclass(frozen=True)
class Sources:
    """All canonical frames of a run (missing optional sources are empty frames) plus their quarantine."""

    frames: dict[str, pd.DataFrame]
    issues: pd.DataFrame
    imports: tuple[ImportRecord, ...] = field(default=())
    reports: tuple[ValidationReport, ...] = field(default=())

    def __getitem__(self, kind: str) -> pd.DataFrame:
        return self.frames[kind]




def empty_issues() -> pd.DataFrame:
    """A quarantine with no rows (``ISSUE_COLUMNS``)."""
    return pd.DataFrame({column: pd.Series(dtype="Int64" if column == "line" else "string")
                         for column in ISSUE_COLUMNS})


def empty_source(kind: str) -> pd.DataFrame:
    """A canonical frame of ``kind`` with no rows."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in canonical_dtypes(kind).items()})


class Loaded(Protocol):
    """One file read and validated (``recon.ingest.normalise.LoadedSource`` is one)."""

    @property
    def frame(self) -> pd.DataFrame: ...
    @property
    def issues(self) -> pd.DataFrame: ...
    @property
    def record(self) -> ImportRecord: ...
    @property
    def report(self) -> ValidationReport: ...


def combine(loaded: Iterable[Loaded], kinds: Iterable[str]) -> Sources:
    """Concatenate loaded files per kind into one ``Sources``; kinds with no file get empty frames."""
    by_kind: dict[str, list[pd.DataFrame]] = {kind: [] for kind in kinds}
    issues, records, reports = [], [], []
    for item in loaded:
        by_kind.setdefault(item.record.source, []).append(item.frame)
        issues.append(item.issues)
        records.append(item.record)
        reports.append(item.report)
    frames = {kind: (pd.concat(parts, ignore_index=True) if parts else empty_source(kind))
              for kind, parts in by_kind.items()}
    all_issues = pd.concat([empty_issues(), *[i for i in issues if len(i)]], ignore_index=True)
    return Sources(frames, all_issues, tuple(records), tuple(reports))
