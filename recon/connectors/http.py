"""The one HTTP client every API connector uses: timeouts, retries, OAuth tokens and clear failures.

- Every request has a timeout (``httpx.Timeout``: 30 s to read, 10 s to connect by default).
- 429 and 5xx answers, timeouts and dropped connections are retried with exponential backoff and jitter,
  a bounded number of times; a ``Retry-After`` header (seconds or an HTTP date) is honoured, capped.
- 401 and 403 become a ``ConnectorError`` naming the connection, the endpoint and what to check; other
  refusals quote the service's own error message. Every message and log line passes through
  ``redact`` first, so no secret value can reach the screen or a log; httpx's own request log lines are
  kept without the URL's query (where a storage SAS token travels).
- A client is bound to one origin (scheme, host and port of its base URL): an absolute URL a service
  hands back (a next-page link, an operation's ``Location``) is followed only when it is on that origin,
  so the connection's credentials are never sent to another host.
- JSON is decoded with ``Decimal`` for non-integer numbers, so money stays exact from the wire on.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from recon import redaction
from recon.errors import ConnectorError

logger = logging.getLogger("recon.connectors")


class QueryRedactingFilter(logging.Filter):
    """httpx logs every request's full URL (INFO ``HTTP Request: GET <url> ...``); a URL's query can carry a
    secret (a storage SAS token), so its log records keep the URL without the query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(arg.copy_with(query=None) if isinstance(arg, httpx.URL) and arg.query else arg
                                for arg in record.args)
        elif isinstance(record.msg, str):  # already rendered (recon.redaction's record factory merges the URL in)
            record.msg = _URL_QUERY.sub(r"\1", record.msg)
        return True


_URL_QUERY = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s?#\"']+)\?[^\s#\"']*", re.IGNORECASE)


_HTTPX_LOGGER = logging.getLogger("httpx")
if not any(isinstance(existing, QueryRedactingFilter) for existing in _HTTPX_LOGGER.filters):
    _HTTPX_LOGGER.addFilter(QueryRedactingFilter())

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_PAGES = 10_000
USER_AGENT = "msp-billing-recon"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: ``attempts`` in all; waits of ``base_seconds x 2^n`` (jittered), at most
    ``max_seconds``; a server's ``Retry-After`` is honoured up to ``max_retry_after`` seconds."""

    attempts: int = 5
    base_seconds: float = 0.5
    max_seconds: float = 30.0
    max_retry_after: float = 120.0

    def backoff(self, attempt: int) -> float:
        """Wait before retry number ``attempt`` (1-based): exponential, with equal jitter."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter, not cryptography


@dataclass(frozen=True)
class Hints:
    """What to tell a user to check when the service refuses: credentials (401), permissions (403)."""

    credentials: str
    permissions: str


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with ``secrets`` (this connection's values) and every other secret the app knows masked
    (``recon.redaction``: by value and by name)."""
    return redaction.redact(text, secrets)


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def decode_json(response: httpx.Response) -> Any:
    """The body as JSON with exact decimals; an empty body is ``None``."""
    if not response.content.strip():
        return None
    return json.loads(response.content, parse_float=Decimal)


class ApiClient:
    """A synchronous httpx client bound to one connection of one service.

    ``service`` and ``connection`` name it in every message; ``secrets`` are the values to redact;
    ``token`` (optional) is called for a bearer token and told to refresh after a 401.
    """

    def __init__(self, *, service: str, connection: str, base_url: str, hints: Hints,
                 secrets: Iterable[str] = (), headers: Mapping[str, str] | None = None,
                 auth: httpx.Auth | tuple[str, str] | None = None, timeout: float = 30.0,
                 retry: RetryPolicy = RetryPolicy(), sleep: Callable[[float], None] = time.sleep) -> None:
        self.service, self.connection, self.hints, self.retry, self.sleep = service, connection, hints, retry, sleep
        self.secrets = tuple(secrets)
        self.base_url = base_url.rstrip("/")
        self.token: Callable[[bool], str] | None = None
        self._client = httpx.Client(
            base_url=self.base_url + "/", auth=auth, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"Accept": "application/json", "User-Agent": USER_AGENT, **(headers or {})},
            follow_redirects=False)

    # -------------------------------------------------------------------------------------- lifecycle

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    # ---------------------------------------------------------------------------------------- calling

    def get_json(self, path: str, params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None,
                 accept: Collection[int] = ()) -> tuple[Any, httpx.Response]:
        """GET ``path`` (relative to the base URL, or absolute) and decode its JSON body. A status in
        ``accept`` (a 404 that means "none") is answered instead of raised."""
        return self.request_json("GET", path, params=params, headers=headers, accept=accept)

    def request_json(self, method: str, path: str, **kwargs: Any) -> tuple[Any, httpx.Response]:
        """``request`` and the answer's JSON body (exact decimals)."""
        response = self.request(method, path, **kwargs)
        try:
            return decode_json(response), response
        except json.JSONDecodeError:
            raise self.error(f"answered {_path(response.request.url)} with something that is not JSON") from None

    def get_bytes(self, path: str, params: Mapping[str, Any] | None = None) -> bytes:
        """GET ``path`` and return the body as it came (a file download)."""
        return self.request("GET", path, params=params).content

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send with retries; return a 2xx response or raise ``ConnectorError``. An absolute ``path`` (a link a
        service answered with) must be on the client's own origin: ``ConnectorError`` otherwise, before
        anything is sent. The token call (``token_call=True``) goes to the configured token URL.

        ``accept``: statuses answered as they are (neither raised nor retried). ``settle``: for a request
        that is not idempotent (a POST creating a record), called before each retry; when it finds that an
        earlier attempt did get through (and returns that record's response), nothing is sent again."""
        token_call = kwargs.pop("token_call", False)
        accept = frozenset(kwargs.pop("accept", ()))
        settle: Callable[[], httpx.Response | None] | None = kwargs.pop("settle", None)
        absolute = path.startswith(("http://", "https://"))
        url = path.lstrip("/") if not absolute else path if token_call else self._on_origin(path)
        refreshed = False
        for attempt in range(1, self.retry.attempts + 1):
            settled = settle() if settle is not None and attempt > 1 else None
            if settled is not None:
                return settled
            response = self._send(method, url, attempt, kwargs)
            if response is None:
                continue
            if response.status_code == 401 and self.token is not None and not refreshed:
                refreshed = True  # an expired token: fetch a fresh one once before giving up
                self.token(True)
                continue
            if response.status_code in RETRY_STATUSES - accept and attempt < self.retry.attempts:
                self._wait(attempt, response)
                continue
            return response if response.status_code in accept else self._checked(response, token_call)
        raise self.error(f"did not answer {_path_of(self._client, url)} after {self.retry.attempts} attempts "
                         "(timeouts or dropped connections). Check base_url and the network, or try later")

    def _on_origin(self, url: str) -> str:
        if not same_origin(url, self.base_url):
            raise self.error(f"was sent to another host ({httpx.URL(url).host}) by an answer of "
                             f"{httpx.URL(self.base_url).host}; refused to follow it with the connection's "
                             "credentials. Check base_url")
        return url

    def _send(self, method: str, url: str, attempt: int, kwargs: dict[str, Any]) -> httpx.Response | None:
        headers = dict(kwargs.get("headers") or {})
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token(False)}"
        try:
            response = self._client.request(method, url, **{**kwargs, "headers": headers})
        except (httpx.TimeoutException, httpx.TransportError) as error:
            logger.info(self.redact(f"{self.service} {method} {_path_of(self._client, url)}: "
                                    f"{type(error).__name__} (attempt {attempt})"))
            if attempt < self.retry.attempts:
                self.sleep(self.retry.backoff(attempt))
            return None
        logger.debug(self.redact(f"{self.service} {method} {_path(response.request.url)} -> "
                                 f"{response.status_code} (attempt {attempt})"))
        return response

    def _wait(self, attempt: int, response: httpx.Response) -> None:
        asked = retry_after_seconds(response.headers.get("Retry-After"))
        wait = min(asked, self.retry.max_retry_after) if asked is not None else self.retry.backoff(attempt)
        logger.info(self.redact(f"{self.service} {_path(response.request.url)} answered {response.status_code}; "
                                f"retrying in {wait:.1f}s (attempt {attempt} of {self.retry.attempts})"))
        self.sleep(wait)

    # ----------------------------------------------------------------------------------------- errors

    def _checked(self, response: httpx.Response, token_call: bool = False) -> httpx.Response:
        if response.is_success:
            return response
        status, where = response.status_code, _path(response.request.url)
        said = service_message(response)
        said = f" The service said: {said}" if said else ""
        if status == 401 or (token_call and status in (400, 403)):
            raise self.error(f"refused the credentials (HTTP {status} on {where}). "
                             f"Check {self.hints.credentials}.{said}")
        if status == 403:
            raise self.error(f"accepted the credentials but does not allow reading {where} (HTTP 403). "
                             f"Check {self.hints.permissions}.{said}")
        if status in RETRY_STATUSES:
            raise self.error(f"is unavailable (HTTP {status} on {where}) after {self.retry.attempts} attempts; "
                             f"try again later.{said}")
        raise self.error(f"answered HTTP {status} on {where}.{said}")

    def error(self, text: str) -> ConnectorError:
        return ConnectorError(self.redact(f"{self.service} connection {self.connection!r} {text}"))

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)


def same_origin(url: str, base_url: str) -> bool:
    """Whether ``url`` has the scheme, host and port of ``base_url``."""
    target, base = httpx.URL(url), httpx.URL(base_url)
    return (target.scheme, target.host, target.port) == (base.scheme, base.host, base.port)


def service_message(response: httpx.Response) -> str:
    """The human part of an error body (``message``, ``description``, ``error_description``, an
    ``errors`` list...), short."""
    try:
        body = decode_json(response)
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        said = [str(item.get("message", "")) if isinstance(item, dict) else str(item) for item in body["errors"]]
        return "; ".join(text.strip() for text in said if text.strip())[:300]
    if isinstance(body, dict):
        for key in ("error_description", "message", "description", "detail", "title", "error"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:300]
            if isinstance(value, dict):
                return service_message_from(value)
    return ""


def service_message_from(body: Mapping[str, Any]) -> str:
    for key in ("message", "description", "code"):
        if isinstance(body.get(key), str):
            return str(body[key])[:300]
    return ""


def _path(url: httpx.URL) -> str:
    return url.path


def _path_of(client: httpx.Client, url: str) -> str:
    return httpx.URL(url).path if url.startswith("http") else client.base_url.join(url).path


class ClientCredentials:
    """OAuth 2.0 client-credentials tokens, cached until a minute before they expire.

    ``form`` (the token request body) is sent as a form (Microsoft identity platform) or as JSON (Pax8),
    through the connection's own ``ApiClient`` so retries and redaction apply to the token call too.
    """

    def __init__(self, api: ApiClient, token_url: str, form: Mapping[str, str], as_json: bool = False) -> None:
        self.api, self.token_url, self.form, self.as_json = api, token_url, dict(form), as_json
        self._token: str | None = None
        self._expires_at = 0.0

    def __call__(self, refresh: bool = False) -> str:
        if refresh or self._token is None or time.monotonic() >= self._expires_at:
            self._fetch()
        assert self._token is not None
        return self._token

    def _fetch(self) -> None:
        body = {"json": self.form} if self.as_json else {"data": self.form}
        getter, self.api.token = self.api.token, None  # the token call itself carries no bearer
        try:
            response = self.api.request("POST", self.token_url, token_call=True, **body)
        finally:
            self.api.token = getter
        payload = decode_json(response) or {}
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not token:
            raise self.api.error(f"token endpoint {_path(response.request.url)} answered without an access_token")
        self._token = str(token)
        self.api.secrets = (*self.api.secrets, self._token)
        lifetime = float(payload.get("expires_in") or 3600)
        self._expires_at = time.monotonic() + max(0.0, lifetime - 60)
