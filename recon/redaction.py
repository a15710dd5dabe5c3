"""Secrets never reach a message, a log line or a page (issues 7 and 23): ``redact`` masks them by name
and by value.

**By name** (pattern): the password of a ``scheme://user:password@host`` URL (up to the last ``@``: a
password may hold ``@`` or ``/``); the value of a ``name=value``, ``name: value`` or JSON
``"name": "value"`` pair whose name says secret: password, passwd, pwd, secret, token, credentials, or
api / private / access key, with any prefix or suffix (``db_password``, ``PGPASSWORD``,
``client_secret``, ``RECON_CONN_CW_PRIVATE_KEY``), but not a name of an address (``token_url``); every
``RECON_CONN_<NAME>_<KEY>=value`` (the environment is where connection secrets go); and the
credentials of an HTTP ``Authorization`` header.

**By value**: every secret the app knows is masked wherever it appears, with or without a name beside
it: the values of environment variables named as above (``PWD``, the working directory, excepted), the
password of ``RECON_DATABASE_URL`` as written and decoded, and whatever ``remember_secrets`` was given
(the connection secrets of ``.streamlit/secrets.toml`` when they are loaded). Values shorter than
``MIN_SECRET_LENGTH`` are masked by name only (by value they would mask ordinary words).

A core module (the standard library only), so the store, the connectors and the exports all use it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

REDACTED = "***"
MIN_SECRET_LENGTH = 4
DATABASE_URL_ENV = "RECON_DATABASE_URL"
CONNECTION_ENV_PREFIX = "RECON_CONN_"

_SECRET_WORD = re.compile(r"pass(?:wd|word)?s?(?![a-z])|pwd|secret|token|credential|(?:api|private|access)[_.-]?key",
                          re.IGNORECASE)
_ADDRESS_WORD = re.compile(r"(?:url|uri|endpoint|host|path|file|dir|name|type)s?$", re.IGNORECASE)
_NOT_SECRETS = frozenset({"PWD", "OLDPWD"})
_URL_CREDENTIALS = re.compile(r"(?P<head>\b[a-zA-Z][\w+.-]*://[^:/@\s]*:)(?P<secret>\S*)@")
_NAME = re.compile(r"(?<![\w.-])(?P<name>[\"']?[A-Za-z_][\w.-]*[\"']?)\s*[=:]\s*")
_VALUE = re.compile(r"\"[^\"\n]*\"|'[^'\n]*'|[^\s'\"&;,\x00]+")
_AUTHORIZATION = re.compile(
    r"(?P<head>\b(?:proxy-)?authorization[\"']?\s*[=:]\s*[\"']?(?:(?:basic|bearer|digest|token)\s+)?)"
    r"(?P<secret>[^\s'\"]+)", re.IGNORECASE)

_remembered: set[str] = set()
_lock = threading.Lock()


def is_secret_name(name: str) -> bool:
    """Whether a setting or variable called ``name`` holds a secret (see the module docstring)."""
    bare = name.strip("\"'")
    if bare in _NOT_SECRETS:
        return False
    if bare.upper().startswith(CONNECTION_ENV_PREFIX):
        return True
    return bool(_SECRET_WORD.search(bare)) and not _ADDRESS_WORD.search(bare)


def remember_secrets(values: Iterable[str]) -> None:
    """Add ``values`` to the secrets ``redact`` masks by value (for the life of the process)."""
    with _lock:
        _remembered.update(value for value in values if value and len(value) >= MIN_SECRET_LENGTH)


def url_secrets(url: str) -> set[str]:
    """The password of ``url`` (as written and percent-decoded) and any ``password=`` in its query."""
    try:
        parts = urlsplit(url)
        password = parts.password
        query = parse_qsl(parts.query)
    except ValueError:  # a malformed port or host: take what lies between "user:" and the last "@"
        match = _URL_CREDENTIALS.search(url)
        return {match.group("secret"), unquote(match.group("secret"))} if match else set()
    found = {password, unquote(password)} if password else set()
    return found | {value for key, value in query if is_secret_name(key) and value}


def known_secrets(environ: Mapping[str, str] | None = None) -> set[str]:
    """Every secret value the process knows now: the environment's (see the module docstring) and the
    remembered ones, each at least ``MIN_SECRET_LENGTH`` long."""
    environment = os.environ if environ is None else environ
    found = {value for name, value in environment.items() if is_secret_name(name)}
    found |= url_secrets(environment.get(DATABASE_URL_ENV, ""))
    with _lock:
        found |= _remembered
    return {value for value in found if len(value) >= MIN_SECRET_LENGTH}


def _mask_pairs(text: str) -> str:
    """The values of ``name=value`` / ``name: value`` pairs whose name says secret, masked (a pair inside
    another's value is found too: ``Error: password=x``)."""
    pieces, position = [], 0
    for match in _NAME.finditer(text):
        if match.start() < position or not is_secret_name(match.group("name")):
            continue
        value = _VALUE.match(text, match.end())
        if value is None:
            continue
        quote = value.group(0)[0] if value.group(0)[0] in "\"'" else ""
        pieces += [text[position:match.end()], quote, REDACTED, quote]
        position = value.end()
    return "".join([*pieces, text[position:]])


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every secret masked by name and by value (the known ones plus ``extra``). Use on
    anything shown, logged or written that may carry configuration, a URL or an error from a driver."""
    masked = text
    for secret in sorted(known_secrets() | {value for value in extra if value and len(value) >= MIN_SECRET_LENGTH},
                         key=len, reverse=True):
        masked = masked.replace(secret, REDACTED)
    masked = _URL_CREDENTIALS.sub(lambda m: m.group("head") + REDACTED + "@", masked)
    masked = _AUTHORIZATION.sub(lambda m: m.group("head") + REDACTED, masked)
    return _mask_pairs(masked)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """``record`` with its message (arguments merged in) and traceback text ``redact``-ed, in place."""
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # arguments that do not fit the format: logging reports those itself
        return record
    record.msg, record.args = redact(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    return record


class RedactingFilter(logging.Filter):
    """A logging filter that passes every record with its message and traceback ``redact``-ed."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


class _RedactingRecordFactory:
    """The process's log record factory, wrapped: every record is redacted when it is made."""

    def __init__(self, make: Callable[..., logging.LogRecord]) -> None:
        self.make = make

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(self.make(*args, **kwargs))


def install_log_redaction(*logger_names: str) -> None:
    """Redact every log record of the process, whichever logger makes it and whichever handler writes
    it, also those created later (Streamlit gives each module a logger with a handler of its own that
    does not propagate): the record factory redacts each record as it is made. Also adds
    ``RedactingFilter`` to the handlers of the root logger and of ``logger_names`` (for records made
    another way). Installing twice changes nothing."""
    with _lock:
        if not isinstance(logging.getLogRecordFactory(), _RedactingRecordFactory):
            logging.setLogRecordFactory(_RedactingRecordFactory(logging.getLogRecordFactory()))
    for name in ("", *logger_names):
        for handler in logging.getLogger(name or None).handlers:
            if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
                handler.addFilter(RedactingFilter())


__all__ = ["REDACTED", "RedactingFilter", "install_log_redaction", "is_secret_name", "known_secrets", "redact",
           "redact_record", "remember_secrets", "url_secrets"]
