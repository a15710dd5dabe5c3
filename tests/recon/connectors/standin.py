"""A real HTTP server on 127.0.0.1 (a free port) for the connector tests: no mocks, real sockets.

``StandIn(app)`` serves ``app(request) -> Reply`` (a JSON body, or bytes for a file) in a background thread.
``fail(path, *replies)`` makes the next requests to ``path`` get those replies first (a 429 with
``Retry-After``, a flaky 503...), and every request is logged (headers included) so a test can check what
the connector sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-encoded; bytes are sent as they are (a file download)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (to provoke client timeouts)

    def payload(self) -> tuple[bytes, str]:
        """The body's bytes and their content type."""
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        return (b"" if self.body is None else json.dumps(self.body).encode()), "application/json"


App = Callable[[Request], Reply]


class StandIn:
    """An HTTP/1.1 server on 127.0.0.1 answering with ``app``; use as a context manager."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.requests: list[Request] = []
        self._failures: dict[str, deque[tuple[str | None, Reply]]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> StandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def fail(self, path: str, *replies: Reply, method: str | None = None) -> None:
        """The next ``len(replies)`` requests to ``path`` (of ``method`` only, when given: a write's failures
        leave the reads before it alone) get ``replies`` (in order) instead of the app."""
        with self._lock:
            self._failures.setdefault(path, deque()).extend((method, reply) for reply in replies)

    def hits(self, path: str) -> list[Request]:
        return [request for request in self.requests if request.path == path]

    def _answer(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            queued = self._failures.get(request.path) or deque()
            for position, (method, reply) in enumerate(queued):
                if method in (None, request.method):
                    del queued[position]
                    return reply
        return self.app(request)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms ACK waits

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self.command, parts.path,
                                  {key: values[0] for key, values in parse_qs(parts.query).items()},
                                  {key.lower(): value for key, value in self.headers.items()},
                                  self.rfile.read(length) if length else b"")
                reply = standin._answer(request)
                time.sleep(reply.delay)
                payload, content_type = reply.payload()
                self.send_response(reply.status)
                for key, value in {"Content-Type": content_type, **reply.headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's naming

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def page_of(records: list[Any], page: int, size: int) -> list[Any]:
    return records[page * size:(page + 1) * size]
