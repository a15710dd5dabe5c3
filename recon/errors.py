"""Errors for bad calls and bad configuration; bad *data* becomes quarantine rows instead."""

from __future__ import annotations


class ReconError(Exception):
    """Base class: something the caller or the configuration got wrong. The message is user-facing."""


class SourceError(ReconError):
    """A source file (or query result) cannot be used at all: unreadable, or required columns missing."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class MissingSourceError(ReconError):
    """A required source (contracts, usage, invoices) was not supplied."""


class SettingsError(ReconError):
    """A setting is out of range or of the wrong type."""


class ProfileError(ReconError):
    """``profile.toml`` (or a saved column mapping) is malformed; the message names the key and line."""


class QualityError(ReconError):
    """The data-quality suite could not run one of its expectations (a bug to report, not bad data)."""


class StoreError(ReconError):
    """The database cannot be used (unreachable, refused the schema), or a store call names something
    that is not there (an unknown run, fingerprint or status)."""


class ConnectorError(ReconError):
    """A connection cannot be used: its definition is incomplete, a secret is missing, the service refused
    the credentials or stayed unavailable after retries. The message names the connection and what to
    check, and never contains a secret."""


class AuthError(ReconError):
    """A user or role request that cannot be honoured (unknown role, weak password, taken name)."""


class AccessDeniedError(ReconError):
    """The principal may not do this; the message says what was refused (never why a login failed)."""


class FilterError(ReconError):
    """A filter that cannot select anything meaningful (for example a reversed period range)."""


class MoneyRangeError(ReconError):
    """The amounts or quantities of a run are too large for its totals to be computed exactly; the message
    says which and by how much (each line is bounded by ``max_line_amount``, totals by 64-bit money)."""


class NoMonthError(ReconError):
    """The sources give no month to reconcile: no invoice line, and no usage row mapped to a client and sku
    (header-only files, or usage rows none of which maps); the message says which and what to add."""


class OutputError(ReconError):
    """The results cannot be written where asked (a folder holding other files, a path that is a file)."""


class SparkUnavailableError(ReconError):
    """pyspark or Java is not installed (``pip install -e ".[spark]"``; Java 17)."""


class SparkRunError(ReconError):
    """Spark could not do what the run asked (a file system it cannot reach, a task that failed)."""


class DataError(Exception):
    """Bad *data* met while reading a file (not a bad call: never a ``ReconError``). Ingest catches it and
    turns its message into the file's refusal or a row's quarantine reason; it never reaches a caller."""


class JailError(DataError):
    """A path leads out of the data directory, or is not a file that may be read; the message says why."""


class EncodingError(DataError):
    """The file cannot be read as text; the message says why, with the line and byte."""


class SheetLimitError(DataError):
    """The sheet breaks a limit; the message says which, where, and the setting."""
