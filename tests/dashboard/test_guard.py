"""dashboard.guard's decisions (issue 23), as pure functions: which address a connection comes from and
whether it may be locked out, what a browser is known by, which websocket messages are let through, and
how long a download answers its browser. The middleware itself is tested against the running server
(tests/e2e/test_hardening.py)."""

from __future__ import annotations

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from dashboard import guard
from recon.access import NO_BROWSER, browser_digest

TRUSTED = guard.trusted_networks("10.0.0.0/24, 192.0.2.10, not-an-address")


@pytest.mark.parametrize(("peer", "forwarded", "address", "lockable"), [
    ("203.0.113.5", [], "203.0.113.5", True),                          # a browser straight on the server
    ("127.0.0.1", [], "127.0.0.1", False),                             # this machine: never locked
    ("10.0.0.2", ["198.51.100.7"], "198.51.100.7", True),              # through a trusted proxy
    ("10.0.0.2", ["1.2.3.4, 198.51.100.7"], "198.51.100.7", True),     # what the client wrote itself: ignored
    ("10.0.0.2", ["198.51.100.7, 192.0.2.10"], "198.51.100.7", True),  # two trusted proxies
    ("10.0.0.2", [], "10.0.0.2", False),                               # a trusted proxy's own address
    ("203.0.113.5", ["198.51.100.7"], "203.0.113.5", False),           # a proxy the settings do not trust
    ("127.0.0.1", ["198.51.100.7"], "127.0.0.1", False),               # (an unconfigured local proxy too)
    ("10.0.0.2", ["bogus"], "bogus", False),
    (None, [], "unknown", False),
])
def test_the_client_address_and_whether_it_may_be_locked(peer: str | None, forwarded: list[str], address: str,
                                                          lockable: bool) -> None:
    """Issue 23 item 4: an address is locked out only when it is one client's, established directly or by
    a proxy the settings trust; behind any other proxy all users would share it."""
    client = guard.resolve_client(peer, forwarded, TRUSTED)
    assert (client.address, client.lockable) == (address, lockable)
    assert guard.Client.parse(client.header().decode()) == client


def test_a_browser_is_known_by_its_cookies_digest_only() -> None:
    cookie = guard.new_cookie_value()
    assert len(cookie) == 43 and browser_digest(cookie) == browser_digest(cookie) != NO_BROWSER
    assert cookie not in browser_digest(cookie) and len(browser_digest(cookie)) == 64
    for forged in ("", "short", cookie + "x", cookie[:-1] + "!", "a" * 43 + "\n"):
        assert browser_digest(forged) == NO_BROWSER
    header = guard.set_cookie_header(cookie).decode()
    assert header.startswith("__Host-recon_session=") and "; Secure; HttpOnly; SameSite=Lax" in header


def back(kind: str) -> bytes:
    message = BackMsg()
    if kind == "clear_cache":
        message.clear_cache = True
    elif kind == "rerun_script":
        message.rerun_script.query_string = ""
    elif kind == "file_urls_request":
        message.file_urls_request.request_id = "r"
    elif kind == "deferred_file":
        message.backend_operation_request.request_id = "d1"
        message.backend_operation_request.deferred_file.file_id = "abc"
    elif kind == "install_skills":
        message.backend_operation_request.install_skills.SetInParent()
    return message.SerializeToString()


@pytest.mark.parametrize(("kind", "always", "signed_in_only"), [
    ("rerun_script", True, False), ("clear_cache", False, False), ("install_skills", False, False),
    ("file_urls_request", False, True), ("deferred_file", False, True),
])
def test_which_websocket_messages_pass(kind: str, always: bool, signed_in_only: bool) -> None:
    """Issue 23 item 3: reruns always; upload URLs and downloads only once signed in; cache clearing and
    developer or agent messages never."""
    assert guard.message_kind(back(kind)) == kind
    assert (kind in guard.ALWAYS, kind in guard.SIGNED_IN_ONLY) == (always, signed_in_only)
    assert guard.message_kind(b"\xff\xff not a protobuf") == "unreadable"


def test_a_download_answers_the_browser_it_was_handed_to_for_ten_minutes() -> None:
    answer = ForwardMsg()
    answer.backend_operation_response.request_id = "d1"
    answer.backend_operation_response.deferred_file.url = "/media/0a1b2c3d.csv"
    pending = {"d1"}
    file_id = guard.download_answer(answer.SerializeToString(), pending)
    assert file_id == "0a1b2c3d" and pending == set()
    assert guard.download_answer(answer.SerializeToString(), pending) is None  # not asked for (any more)
    downloads = guard.Downloads()
    downloads.grant("0a1b2c3d", "browser-a", now=100.0)
    assert downloads.allows("0a1b2c3d", "browser-a", now=100.0 + guard.DOWNLOAD_LIFETIME_S - 1)
    assert not downloads.allows("0a1b2c3d", "browser-b", now=101.0)
    assert not downloads.allows("0a1b2c3d", "browser-a", now=100.0 + guard.DOWNLOAD_LIFETIME_S)
    downloads.prune(now=100.0 + guard.DOWNLOAD_LIFETIME_S)
    assert downloads.issued == {}


def test_the_streamlit_settings_are_the_safe_defaults() -> None:
    """Issue 23 deliverable 6: the settings Streamlit reads wherever ``recon dashboard`` starts (the
    project's ``.streamlit/config.toml``, linked beside the app) listen on this machine only, refuse
    cross-site requests, keep the agent API off and show no error details. The guard closes the metrics
    and framing (``tests/e2e/test_hardening.py``); this test fails if a setting is loosened."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    beside_the_app = root / "dashboard" / ".streamlit"
    assert beside_the_app.is_symlink() and beside_the_app.resolve() == (root / ".streamlit").resolve()
    settings = tomllib.loads((root / ".streamlit" / "config.toml").read_text())
    server = settings["server"]
    assert server["address"] == "127.0.0.1"
    assert server["enableXsrfProtection"] is True and server["enableCORS"] is True
    assert server["enableAgentApi"] is False and server["headless"] is True
    assert [name.lower() for name in server["trustedUserHeaders"]] == [guard.BROWSER_HEADER]  # reattach per browser
    assert settings["client"]["showErrorDetails"] == "none"
    assert settings["browser"]["gatherUsageStats"] is False
