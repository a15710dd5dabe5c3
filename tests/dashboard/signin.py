"""Signing in under AppTest: a user in the test database and a session in ``st.session_state``, exactly
what ``dashboard.login`` leaves after a successful sign-in (the form itself is tested in test_access)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from streamlit.testing.v1 import AppTest

from recon import access
from recon.access.storage import StoreAuthStorage
from recon.store import Store

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
TIMEOUT_S = 120


def ensure_user(name: str, role: str, manager_name: str = "", clients: Iterable[str] = (),
                password: str | None = None, url: str | None = None) -> access.Principal:
    """The user ``name`` in the test database (``RECON_DATABASE_URL``), created when absent."""
    store = Store(url or os.environ["RECON_DATABASE_URL"])
    storage = StoreAuthStorage(store)
    user = storage.get_user(name)
    if user is None:
        user = access.new_user(name, role, password, clients, manager_name, rounds=4)
        storage.add_user(user)
    store.close()
    return user.principal()


def signed_in_app(role: str = access.ADMIN, name: str | None = None, manager_name: str = "",
                  clients: Iterable[str] = (), run: bool = True) -> AppTest:
    """A new browser session of the app, signed in as ``name`` (default: the role's name)."""
    principal = ensure_user(name or role.replace("_", "-"), role, manager_name, clients)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.session_state["access.session"] = access.start_session(principal, datetime.now(UTC))
    return stored(at.run()) if run else at


def stored(at: AppTest) -> AppTest:
    """``at`` once the run its first page view started storing is stored (``data.Saving``), run again as the
    sidebar does in a browser when the store is done (AppTest runs no timed fragment)."""
    from dashboard import data

    if data.savings().wait():
        at.run()
    return at
