"""Sign-in before any page renders (issue 7).

Two ways in, chosen by ``.streamlit/secrets.toml`` (see ``.streamlit/secrets.example.toml``):

- **company identity provider** (OIDC) when the file has an ``[auth]`` section: Streamlit's own
  ``st.login`` / ``st.user`` prove who someone is; a user record in the store (by e-mail) grants a role;
- **local users** otherwise: a user name and password form checked by ``recon.access.authenticate``
  (bcrypt hashes in the store, throttled failed logins).

Every rule (passwords, lockout, expiry, roles) lives in ``recon.access``; this module only draws the forms
and keeps the signed-in session under ``auth.*`` keys of ``st.session_state``. The entrypoint calls
``signed_in`` on every script run, and shows nothing but the sign-in page until it returns a principal.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from dashboard import guard
from recon import access
from recon.access.roles import Principal
from recon.access.users import AuthStorage
from recon.exports.safe import markdown_text

LOG = logging.getLogger("dashboard.login")
SESSION_KEY = "access.session"
BROWSER_KEY = "access.browser"
EXPIRED = "Your session expired. Please sign in again."
INACTIVE = "Your account is no longer active."
NO_SESSION_COOKIE = (
    "This browser cannot be signed in: it has no session cookie. Open the app over HTTPS (or on this "
    "machine, at localhost) with cookies allowed. An administrator who started it with `streamlit run "
    "dashboard/app.py` should start it with `recon dashboard` instead.")
NOTICE_KEY = "access.notice"
REFUSED_KEY = "access.refused"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Browser:
    """The connection this script run serves, as the guard in front (``dashboard.guard``) reports it.

    ``connected``: there is a browser connection at all (``False`` under AppTest, which keeps sessions in
    ``st.session_state`` only). ``guarded``: the guard's headers are there and carry this process's token
    (``False`` when the app was started without ``dashboard/server.py``: nobody may sign in then).
    ``digest``: SHA-256 of the browser's session cookie (``NO_BROWSER`` without one); ``address`` and
    ``lockable``: the client as trusted proxies report it, and whether failures may lock its address."""

    connected: bool
    guarded: bool = False
    digest: str = access.NO_BROWSER
    address: str = "local"
    lockable: bool = False

    @property
    def can_sign_in(self) -> bool:
        return not self.connected or (self.guarded and self.digest != access.NO_BROWSER)


def browser() -> Browser:
    """This run's ``Browser`` (read from the connection's headers)."""
    try:
        headers = {name.lower(): value for name, value in st.context.headers.items()}
    except Exception:  # no script run context at all (scripts)
        headers = {}
    if not headers:
        return Browser(connected=False)
    if not hmac.compare_digest(headers.get(guard.GUARD_HEADER, ""), guard.TOKEN):
        return Browser(connected=True, address="unknown")
    client = guard.Client.parse(headers.get(guard.CLIENT_HEADER))
    return Browser(True, True, headers.get(guard.BROWSER_HEADER, access.NO_BROWSER), client.address[:100],
                   client.lockable)


def client_source() -> str:
    """Where the browser connects from (for login throttling and the access log): the address the guard
    resolved (``local`` without a browser connection)."""
    return browser().address


# ---------------------------------------------------------------------------------------- configuration

def _auth_secrets() -> Mapping[str, Any] | None:
    try:
        section = st.secrets.get("auth")
    except Exception:  # no secrets file at all, or an unreadable one: local mode
        return None
    return section if isinstance(section, Mapping) and section else None


def oidc_provider() -> str | None:
    """The identity provider to sign in with: ``"default"`` when ``[auth]`` holds ``client_id`` itself,
    else the first ``[auth.<name>]`` section; ``None`` in local mode (no ``[auth]`` in the secrets)."""
    section = _auth_secrets()
    if section is None:
        return None
    if "client_id" in section:
        return "default"
    named = [name for name, value in section.items() if isinstance(value, Mapping)]
    return named[0] if named else None


# -------------------------------------------------------------------------------------------- session

def current_principal() -> Principal | None:
    """The principal of this session's last successful check (pages and data wrappers read this), and
    only for the browser it was checked for: a widget callback (which runs before the script's check)
    sent over another connection gets ``None``."""
    session = st.session_state.get(SESSION_KEY)
    if not isinstance(session, access.Session):
        return None
    current = browser()
    if current.connected and st.session_state.get(BROWSER_KEY) != current.digest:
        return None
    return session.principal


def signed_in(storage: AuthStorage) -> Principal | None:
    """The signed-in principal for this script run, or ``None``. With a browser connection the session
    is the store's record for the browser's session cookie (so it survives a reload and a session id
    alone gives nothing); without one (AppTest) it is the one in ``st.session_state``. Either way an
    expired session ends, and a role change (or a disabled account) applies on every run."""
    current = browser()
    if not current.connected:
        return _signed_in_here(storage)
    if not current.can_sign_in:
        _end_here("")
        return None
    session, why = access.browser_session(storage, current.digest, now(), source=current.address)
    if session is None:
        _end_here({"expired": EXPIRED, "inactive": INACTIVE}.get(why, ""))
        return _from_identity_provider(storage) if oidc_provider() else None
    cached = st.session_state.get(SESSION_KEY)
    if isinstance(cached, access.Session) and cached.principal.user != session.principal.user:
        _forget_everything()  # someone else signed in from this browser since: nothing of theirs stays
    st.session_state[SESSION_KEY], st.session_state[BROWSER_KEY] = session, current.digest
    return session.principal


def _signed_in_here(storage: AuthStorage) -> Principal | None:
    """``signed_in`` without a browser connection: the session lives in ``st.session_state``."""
    session = st.session_state.get(SESSION_KEY)
    if not isinstance(session, access.Session):
        return _from_identity_provider(storage) if oidc_provider() else None
    moment = now()
    if access.session_expired(session, moment):
        access.record(storage, session.principal, "logout", moment, detail="session expired", source=client_source())
        _end_here(EXPIRED)
        return None
    fresh = access.current_principal(storage, session.principal)
    if fresh is None:
        _end_here(INACTIVE)
        return None
    st.session_state[SESSION_KEY] = replace(access.touch(session, moment), principal=fresh)
    return fresh


def _end_here(notice: str) -> None:
    """Forget a session this tab still holds (with ``notice`` for the sign-in page)."""
    if isinstance(st.session_state.get(SESSION_KEY), access.Session):
        _forget_everything()
        if notice:
            st.session_state[NOTICE_KEY] = notice


def _from_identity_provider(storage: AuthStorage) -> Principal | None:
    """Turn the identity provider's signed-in user into a session, once; refuse unknown e-mails."""
    if not st.user.get("is_logged_in", False):
        return None
    email = str(st.user.get("email") or "")
    if st.session_state.get(REFUSED_KEY) == email:
        return None
    verified = st.user.get("email_verified", True) is not False
    principal = access.principal_for_identity(storage, email if verified else None, now(), client_source())
    if principal is None:
        st.session_state[REFUSED_KEY] = email
        return None
    _begin(storage, principal, method="oidc")
    return principal


def _begin(storage: AuthStorage, principal: Principal, method: str, must_change: bool = False) -> None:
    """A fresh session: nothing from before signing in survives (no data of a previous user). With a
    browser connection, the store records the browser (its cookie's SHA-256) as signed in."""
    current = browser()
    _forget_everything()
    if current.connected:
        session = access.open_browser_session(storage, current.digest, principal, method, now())
        st.session_state[BROWSER_KEY] = current.digest
    else:
        session = access.start_session(principal, now(), method)
    st.session_state[SESSION_KEY] = replace(session, must_change_password=must_change)


def _forget_everything() -> None:
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def sign_out(storage: AuthStorage) -> None:
    """Log the sign-out, end the browser's session (every tab of it), forget the whole session state, and
    leave the identity provider too."""
    session = st.session_state.get(SESSION_KEY)
    method = session.method if isinstance(session, access.Session) else "password"
    if isinstance(session, access.Session):
        access.record(storage, session.principal, "logout", now(), source=client_source())
    current = browser()
    if current.connected and current.digest != access.NO_BROWSER:
        access.end_browser_session(storage, current.digest)
    _forget_everything()
    if method == "oidc":
        st.logout()


def must_change_password() -> bool:
    """Whether the signed-in user holds a one-time password still to be replaced (the store's word with
    a browser connection: a reload does not skip it)."""
    session = st.session_state.get(SESSION_KEY)
    return isinstance(session, access.Session) and session.must_change_password


# ---------------------------------------------------------------------------------------------- pages

def sign_in_form(storage: AuthStorage) -> None:
    """The only page anyone sees before signing in."""
    st.title(":material/lock: MSP Billing Recon")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.info(notice, icon=":material/info:")
    if not browser().can_sign_in:
        st.error(NO_SESSION_COOKIE, icon=":material/cookie_off:")
        return
    provider = oidc_provider()
    if provider:
        _identity_provider_form(provider)
        return
    with st.form("login.form", enter_to_submit=True):
        username = st.text_input("User name", key="login.username", autocomplete="username")
        password = st.text_input("Password", type="password", key="login.password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
    st.caption("First start: the one-time password of the user `admin` was printed once in the terminal "
               "that started the app. Lost it? Run `recon user reset-password admin`.")
    if not submitted:
        _load_chart_library_early()
    if submitted:
        current = browser()
        outcome = access.authenticate(storage, username, password, current.address, now(),
                                      source_lockable=current.lockable)
        if outcome.principal is None:
            st.error(outcome.message, icon=":material/error:")
            return
        _begin(storage, outcome.principal, method="password", must_change=outcome.must_change_password)
        st.rerun()


_WARM_UP_HEIGHT = 10  # px: the least Plotly draws


def _load_chart_library_early() -> None:
    """The pages behind this one draw Plotly charts, and a browser tab loads and runs Plotly's script
    when its first chart arrives: about a second on a two-core machine, half of the Overview's first
    render. An empty chart (transparent, no axes, 10 px at the foot of the page: nothing to see) has
    the tab do that while the user types their password."""
    blank = go.Figure(layout={"height": _WARM_UP_HEIGHT, "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
                              "xaxis": {"visible": False}, "yaxis": {"visible": False},
                              "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)"})
    st.plotly_chart(blank, key="login-warm-up", height=_WARM_UP_HEIGHT, theme=None,
                    config={"staticPlot": True, "displayModeBar": False})



def _identity_provider_form(provider: str) -> None:
    if st.user.get("is_logged_in", False):
        email = str(st.user.get("email") or "this account")
        st.error(f"{markdown_text(email)} has no access to MSP Billing Recon yet. Ask an administrator to add it "
                 "(`recon user add EMAIL --role ROLE`).", icon=":material/block:")
        st.button("Sign out", on_click=st.logout, icon=":material/logout:")
        return
    st.write("Sign in with your company account.")
    args = () if provider == "default" else (provider,)
    st.button("Sign in", type="primary", on_click=st.login, args=args, icon=":material/login:")


def change_password_form(storage: AuthStorage) -> None:
    """Shown instead of every page until a one-time password has been replaced."""
    principal = current_principal()
    st.title(":material/password: Choose a new password")
    who = markdown_text(principal.user) if principal else ""
    st.write(f"Signed in as **{who}** with a one-time password. "
             f"Choose your own (at least {access.MIN_PASSWORD_LENGTH} characters, not a common, repeated or "
             "keyboard-run one: a few words make a good one) to continue.")
    with st.form("login.change"):
        current = st.text_input("Current password", type="password", autocomplete="current-password",
                                key="login.current")
        new = st.text_input("New password", type="password", autocomplete="new-password", key="login.new")
        again = st.text_input("New password again", type="password", autocomplete="new-password",
                              key="login.again")
        submitted = st.form_submit_button("Save password", type="primary")
    if not submitted or principal is None:
        return
    if new != again:
        st.error("The two new passwords differ.", icon=":material/error:")
        return
    try:
        access.change_password(storage, principal.user, current, new, now())
    except access.AuthError as error:
        st.error(markdown_text(str(error)), icon=":material/error:")
        return
    session = st.session_state.get(SESSION_KEY)
    if isinstance(session, access.Session):
        st.session_state[SESSION_KEY] = replace(session, must_change_password=False)
    st.rerun()


def sidebar_identity(storage: AuthStorage, principal: Principal) -> None:
    """Who is signed in, and the way out."""
    role = principal.role.replace("_", " ")
    st.caption(f":material/person: **{markdown_text(principal.user)}** · {markdown_text(role)}")
    if st.button("Sign out", key="login.sign_out", icon=":material/logout:"):
        sign_out(storage)
        st.rerun()
