"""The security layer in front of Streamlit's server (issue 23): an ASGI middleware ``dashboard/server.py``
puts before every route.

Streamlit serves the page, a websocket per browser tab, uploads and downloads. On its own it binds a
session to nothing but its id, answers uploads and downloads for anyone who has the URL, and lets any
visitor empty every user's caches. This middleware:

- gives every browser a **session cookie** (``__Host-recon_session``: random, ``Secure``, ``HttpOnly``,
  ``SameSite=Lax``, sent back only to this host). The app keys the signed-in session on it (a record in
  the store), so a session id alone (it appears in upload URLs and the server log) is worth nothing;
- tells the app who is asking, in headers a browser cannot forge (any it sends are dropped): the
  cookie's SHA-256 (``x-recon-browser``; ``server.trustedUserHeaders`` also makes it part of the
  session's identity, so Streamlit refuses to reattach a session to a connection without the cookie),
  the client's address as the trusted proxies report it (``x-recon-client``), and a token proving the
  guard is in front (``x-recon-guard``);
- lets a websocket send only what the pages need: reruns, stops and heartbeats always; upload URLs and
  deferred downloads only for a browser that has signed in; anything else (``clear_cache``, run-on-save,
  developer and agent messages) closes the connection;
- answers an upload only for a signed-in browser and the session its own connection holds, and a
  download (``/media/<file>``) only to the signed-in browser it was made for, for ten minutes, uncached
  (every download button is made when clicked, ``dashboard.ui.export_button``; a file placed on the page
  beforehand would answer nobody; images such as the logo answer everyone);
- closes ``/_stcore/metrics`` and the agent API, and forbids framing the app (``X-Frame-Options``,
  ``frame-ancestors``).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any

from recon.access.sessions import NO_BROWSER, browser_digest

LOG = logging.getLogger("dashboard.guard")

COOKIE_NAME = "__Host-recon_session"
BROWSER_HEADER = "x-recon-browser"
CLIENT_HEADER = "x-recon-client"
GUARD_HEADER = "x-recon-guard"
OWN_HEADERS = frozenset({BROWSER_HEADER, CLIENT_HEADER, GUARD_HEADER})
TRUSTED_PROXIES_ENV = "RECON_TRUSTED_PROXIES"
# Proof, for the app in this process, that the headers above come from the guard (never sent anywhere).
TOKEN = secrets.token_urlsafe(32)
DOWNLOAD_LIFETIME_S = 600.0

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# ------------------------------------------------------------------------------------------- cookie

def new_cookie_value() -> str:
    """A fresh browser key: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def set_cookie_header(value: str) -> bytes:
    """``Set-Cookie`` for the browser key: host-only (``__Host-``), HTTPS or localhost only (``Secure``),
    invisible to scripts (``HttpOnly``), not sent with cross-site requests other than top-level links
    (``SameSite=Lax``), ending with the browser session."""
    return f"{COOKIE_NAME}={value}; Path=/; Secure; HttpOnly; SameSite=Lax".encode("latin-1")


def request_cookies(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in headers:
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except CookieError:
                continue
    return {key: morsel.value for key, morsel in jar.items()}


# ------------------------------------------------------------------------------------------ address

@dataclass(frozen=True)
class Client:
    """Who connects: the address to log and throttle, and whether a per-address lockout may apply to it
    (not to loopback, a trusted proxy, or an address an untrusted peer claims to forward)."""

    address: str
    lockable: bool

    def header(self) -> bytes:
        return f"{self.address};{'lockable' if self.lockable else 'shared'}".encode("latin-1", "replace")

    @classmethod
    def parse(cls, value: str | None) -> Client:
        address, _, kind = (value or "").partition(";")
        return cls(address or "unknown", kind == "lockable")


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(text: str | None) -> tuple[Network, ...]:
    """``RECON_TRUSTED_PROXIES`` (addresses or networks, comma separated) as networks; bad entries skipped
    with a warning."""
    networks = []
    for item in (text or "").split(","):
        if item.strip():
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                LOG.warning("%s: %r is not an address or network; ignored", TRUSTED_PROXIES_ENV, item.strip())
    return tuple(networks)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    host = text.strip()
    if host.startswith("[") and "]" in host:
        host = host[1:host.index("]")]
    elif host.count(":") == 1:
        host = host.split(":")[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def resolve_client(peer: str | None, forwarded_for: list[str], trusted: tuple[Network, ...]) -> Client:
    """The client behind a connection: the peer, or (walking ``X-Forwarded-For`` from the right while the
    hop before is a trusted proxy) the first address a trusted proxy reports."""
    current = _ip(peer or "")
    if current is None:
        return Client(peer or "unknown", False)
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not any(current in network for network in trusted):
            break
        parsed = _ip(hop)
        if parsed is None:
            return Client(hop.strip()[:100], False)
        current = parsed
    untrusted_forward = bool(hops) and not any(_ip(peer or "") in network for network in trusted)
    behind_proxy = any(current in network for network in trusted)
    lockable = not (current.is_loopback or behind_proxy or untrusted_forward)
    return Client(str(current), lockable)


# ---------------------------------------------------------------------------------- websocket messages

ALWAYS = frozenset({"rerun_script", "stop_script", "app_heartbeat"})
SIGNED_IN_ONLY = frozenset({"file_urls_request", "deferred_file", "dataframe_chunk"})


def message_kind(payload: bytes) -> str:
    """What a browser's websocket message asks for: the BackMsg type, or for a backend operation its
    payload (``deferred_file``...); ``"unreadable"`` when it is not a BackMsg."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    message = BackMsg()
    try:
        message.ParseFromString(payload)
    except Exception:  # protobuf's DecodeError and friends: not ours to interpret
        return "unreadable"
    kind = message.WhichOneof("type") or "empty"
    if kind == "backend_operation_request":
        request = message.backend_operation_request
        return request.WhichOneof("payload") or "empty"
    return kind


def deferred_request_id(payload: bytes) -> str:
    from streamlit.proto.BackMsg_pb2 import BackMsg

    message = BackMsg()
    message.ParseFromString(payload)
    return message.backend_operation_request.request_id


def download_answer(payload: bytes, pending: set[str]) -> str | None:
    """The media file id a ForwardMsg hands to the browser for one of its ``pending`` deferred downloads."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    message = ForwardMsg()
    try:
        message.ParseFromString(payload)
    except Exception:
        return None
    if message.WhichOneof("type") != "backend_operation_response":
        return None
    response = message.backend_operation_response
    if response.request_id not in pending or response.WhichOneof("payload") != "deferred_file":
        return None
    pending.discard(response.request_id)
    return media_file_id(response.deferred_file.url)


def media_file_id(url_or_path: str) -> str:
    """``/media/ab12...ef.csv`` -> ``ab12...ef``."""
    name = url_or_path.rsplit("/", 1)[-1].split("?", 1)[0]
    return name.split(".", 1)[0]


# ------------------------------------------------------------------------------------------- downloads

@dataclass
class Downloads:
    """The deferred downloads handed out: file id -> {browser digest: until (monotonic seconds)}. Only
    the event loop touches it."""

    issued: dict[str, dict[str, float]] = field(default_factory=dict)

    def grant(self, file_id: str, digest: str, now: float) -> None:
        self.prune(now)
        self.issued.setdefault(file_id, {})[digest] = now + DOWNLOAD_LIFETIME_S

    def allows(self, file_id: str, digest: str, now: float) -> bool:
        return self.issued.get(file_id, {}).get(digest, 0.0) > now

    def prune(self, now: float) -> None:
        for file_id in [key for key, owners in self.issued.items() if max(owners.values()) <= now]:
            del self.issued[file_id]


# ------------------------------------------------------------------------------------------ middleware

SECURITY_HEADERS = ((b"x-frame-options", b"DENY"), (b"content-security-policy", b"frame-ancestors 'none'"),
                    (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"))
CLOSED_PATHS = ("_stcore/metrics", "_stcore/agent")


@dataclass(frozen=True)
class Hooks:
    """What the guard asks the app and Streamlit's runtime (functions, so tests can give real stand-ins):
    whether a browser digest has a live signed-in session (blocking: run in a thread), the digest of the
    cookie a Streamlit session's connection carries, and the kind of a stored media file."""

    signed_in: Callable[[str], bool]
    session_browser: Callable[[str], str | None]
    media_kind: Callable[[str], str | None]


class Guard:
    """The ASGI middleware (see the module docstring). ``base_path`` is ``server.baseUrlPath`` (read from
    Streamlit's configuration when not given); ``trusted_proxies`` is ``RECON_TRUSTED_PROXIES``'s form."""

    def __init__(self, app: ASGIApp, hooks: Hooks, base_path: str | None = None,
                 trusted_proxies: str | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.app, self.hooks, self.clock = app, hooks, clock
        if base_path is None:
            from streamlit import config

            base_path = str(config.get_option("server.baseUrlPath") or "")
        self.base = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self.trusted = trusted_networks(trusted_proxies if trusted_proxies is not None
                                        else os.environ.get(TRUSTED_PROXIES_ENV))
        self.downloads = Downloads()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        route = self._route(str(scope.get("path", "")))
        if route.startswith(CLOSED_PATHS):
            await _refuse(scope, send, 404)
            return
        digest = browser_digest(request_cookies(scope.get("headers", [])).get(COOKIE_NAME))
        scope = self._identified(scope, digest)
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send, digest)
            return
        status = await self._refusal(scope, route, digest)
        if status:
            await _refuse(scope, send, status)
            return
        no_store = route.startswith("media/")
        fresh = new_cookie_value() if digest == NO_BROWSER else None
        await self.app(scope, receive, _with_headers(send, fresh, no_store))

    def _route(self, path: str) -> str:
        if self.base and path.startswith(self.base):
            path = path[len(self.base):]
        return path.lstrip("/")

    def _identified(self, scope: Scope, digest: str) -> Scope:
        headers = [(name, value) for name, value in scope.get("headers", [])
                   if name.decode("latin-1").lower() not in OWN_HEADERS]
        forwarded = [value.decode("latin-1") for name, value in headers if name == b"x-forwarded-for"]
        peer = (scope.get("client") or (None,))[0]
        client = resolve_client(peer, forwarded, self.trusted)
        headers += [(BROWSER_HEADER.encode(), digest.encode()), (CLIENT_HEADER.encode(), client.header()),
                    (GUARD_HEADER.encode(), TOKEN.encode())]
        return {**scope, "headers": headers}

    async def _signed_in(self, digest: str) -> bool:
        from anyio import to_thread

        return digest != NO_BROWSER and await to_thread.run_sync(self.hooks.signed_in, digest)

    async def _refusal(self, scope: Scope, route: str, digest: str) -> int:
        """The status to refuse an HTTP request with, or 0 to let it through."""
        method = str(scope.get("method", "GET")).upper()
        parts = route.split("/")
        if route.startswith("_stcore/upload_file/") and method in ("PUT", "DELETE", "POST"):
            owner = self.hooks.session_browser(parts[2]) if len(parts) > 2 else None
            return 0 if owner == digest and await self._signed_in(digest) else 403
        if route.startswith("media/") and len(parts) == 2:
            file_id = media_file_id(parts[1])
            if self.hooks.media_kind(file_id) != "downloadable":
                return 0
            allowed = self.downloads.allows(file_id, digest, self.clock()) and await self._signed_in(digest)
            return 0 if allowed else 404
        return 0

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, digest: str) -> None:
        pending: set[str] = set()
        closed = False

        async def receiving() -> Message:
            nonlocal closed
            message = await receive()
            payload = message.get("bytes") if message["type"] == "websocket.receive" else None
            if payload is None or closed:
                return message
            kind = message_kind(payload)
            if kind in ALWAYS:
                return message
            if kind in SIGNED_IN_ONLY and await self._signed_in(digest):
                if kind == "deferred_file":
                    pending.add(deferred_request_id(payload))
                return message
            LOG.warning("closed a websocket that sent %r (%s)", kind,
                        "signed in" if kind in SIGNED_IN_ONLY else "never allowed")
            closed = True
            await send({"type": "websocket.close", "code": 1008, "reason": "not allowed"})
            return {"type": "websocket.disconnect", "code": 1008}

        async def sending(message: Message) -> None:
            if closed:
                return
            payload = message.get("bytes") if message["type"] == "websocket.send" else None
            if pending and payload:
                file_id = download_answer(payload, pending)
                if file_id:
                    self.downloads.grant(file_id, digest, self.clock())
            await send(message)

        await self.app(scope, receiving, sending)


def _with_headers(send: Send, fresh_cookie: str | None, no_store: bool) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(name, value) for name, value in message.get("headers", [])
                       if not (no_store and name.lower() == b"cache-control")]
            present = {name.lower() for name, _ in headers}
            headers += [header for header in SECURITY_HEADERS if header[0] not in present]
            if no_store:
                headers.append((b"cache-control", b"no-store"))
            if fresh_cookie:
                headers.append((b"set-cookie", set_cookie_header(fresh_cookie)))
            message = {**message, "headers": headers}
        await send(message)

    return sending


async def _refuse(scope: Scope, send: Send, status: int) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"0"), *SECURITY_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
