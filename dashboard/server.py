"""The dashboard's web server: Streamlit's own (``st.App``), with the guard (``dashboard.guard``) in front.

``recon dashboard`` starts it (``streamlit run dashboard/server.py``); so do ``make run`` and the browser
tests. Started as ``streamlit run dashboard/app.py`` instead, the app still serves its sign-in page but
lets nobody sign in (the page says how to start it), because nothing would bind a session to a browser.

What the guard needs to know it asks here: whether a browser (the SHA-256 of its session cookie) has a
live signed-in session in the store (``recon.access.browser_session``, read-only), which browser holds a
Streamlit session's connection, and whether a stored media file is a download.
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run dashboard/server.py` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from dashboard.guard import COOKIE_NAME, Guard, Hooks  # noqa: E402
from recon import access  # noqa: E402
from recon.errors import ReconError  # noqa: E402
from recon.ingest import quality  # noqa: E402
from recon.redaction import install_log_redaction  # noqa: E402

install_log_redaction("uvicorn", "uvicorn.error", "dashboard")  # no secret in the server's own log lines
# Great Expectations' suites run in a worker process, as for `recon run` (``recon.ingest.quality.start_worker``):
# it imports GX (about 2 s of CPU) on the other core from the moment the server starts, not in this process
# while the first visitor's files are read, and judges them there; this process never imports GX.
quality.start_worker()


class StoreSessions:
    """Signed-in browsers as the store has them; the store is opened on first use (and again after a
    failure). Blocking: the guard calls it from a worker thread."""

    def __init__(self) -> None:
        self._storage: access.AuthStorage | None = None
        self._lock = threading.Lock()

    def signed_in(self, digest: str) -> bool:
        try:
            session, _ = access.browser_session(self._opened(), digest, datetime.now(UTC), touch_it=False)
        except ReconError:
            return False  # no database, no signed-in browser
        return session is not None

    def _opened(self) -> access.AuthStorage:
        with self._lock:
            if self._storage is None:
                from recon.store import Store

                self._storage = access.StoreAuthStorage(Store())
            return self._storage


def session_browser(session_id: str) -> str | None:
    """The digest of the session cookie the connection of Streamlit session ``session_id`` carries."""
    from streamlit.runtime import Runtime

    client = Runtime.instance().get_client(session_id) if Runtime.exists() else None
    context = getattr(client, "client_context", None)
    return access.browser_digest(context.cookies.get(COOKIE_NAME)) if context is not None else None


def media_kind(file_id: str) -> str | None:
    """``"downloadable"`` (a download button's file), ``"media"`` (an image such as the logo) or ``None``."""
    from streamlit.runtime import Runtime
    from streamlit.runtime.media_file_storage import MediaFileKind

    if not Runtime.exists():
        return None
    stored = Runtime.instance().media_file_mgr.read_file(file_id)
    if stored is None:
        return None
    return "downloadable" if stored.kind == MediaFileKind.DOWNLOADABLE else "media"


HOOKS = Hooks(signed_in=StoreSessions().signed_in, session_browser=session_browser, media_kind=media_kind)

app = st.App("app.py", middleware=[Middleware(Guard, hooks=HOOKS)])
