"""Attacks on the running server (issue 23), each the way an attacker ran it: a bare websocket or HTTP
client beside a real signed-in Chromium tab, against the one app server of the session.

- a signed-in session's id (it shows in upload URLs and the server log) reattached over a new websocket
  gets the sign-in page, not the session;
- a visitor who never signed in cannot empty the caches (``clear_cache``), ask for upload URLs or upload;
- a download answers only the signed-in browser it was made for;
- no metrics, no framing, and the session cookie is ``__Host-``, ``Secure``, ``HttpOnly``, ``SameSite=Lax``;
- a reload keeps the session (bound to the cookie), signing out ends it for the whole browser.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from .conftest import settle, sign_in


@dataclass
class Stream:
    """What a bare websocket client got: the session id Streamlit gave it, every message as text, and
    the close code when the server closed the connection."""

    session_id: str = ""
    texts: list[str] = field(default_factory=list)
    closed_with: int | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


def rerun() -> BackMsg:
    message = BackMsg()
    message.rerun_script.query_string = ""
    return message


def talk(app_url: str, protocols: list[str], after_first_run: Callable[[str], list[BackMsg]] = lambda sid: [],
         cookies: dict[str, str] | None = None) -> Stream:
    """Connect to the app's websocket as a script would (``Sec-WebSocket-Protocol: streamlit, <xsrf>,
    <session id>``), run the page once, then send what ``after_first_run(session id)`` gives; collect
    everything until the page ran again, or the server closed the socket."""
    got = Stream()
    header = "; ".join(f"{name}={value}" for name, value in (cookies or {}).items())

    async def session() -> None:
        url = app_url.replace("http://", "ws://") + "/_stcore/stream"
        extra = {"Cookie": header} if header else {}
        async with websockets.connect(url, subprotocols=protocols, additional_headers=extra,  # type: ignore[arg-type]
                                      max_size=None) as socket:
            try:
                for _ in range(3):  # a loaded server may finish a first run that drew nothing: ask again
                    await socket.send(rerun().SerializeToString())
                    if await read_until_finished(socket, got):
                        break
                messages = after_first_run(got.session_id)
                for message in messages:
                    await socket.send(message.SerializeToString())
                if messages:
                    await read_until_finished(socket, got)
            except websockets.ConnectionClosed as closed:
                got.closed_with = closed.rcvd.code if closed.rcvd else None

    worker = threading.Thread(target=lambda: asyncio.run(session()))  # Playwright's sync API owns this loop
    worker.start()
    worker.join(timeout=180)
    return got


async def read_until_finished(socket: websockets.ClientConnection, got: Stream) -> bool:
    """Read until a run has finished; whether it drew anything."""
    drew = False
    while True:
        message = ForwardMsg()
        message.ParseFromString(await asyncio.wait_for(socket.recv(), timeout=120))
        got.texts.append(str(message))
        kind = message.WhichOneof("type")
        drew = drew or kind == "delta"
        if kind == "new_session" and message.new_session.initialize.session_id:
            got.session_id = message.new_session.initialize.session_id
        if kind == "script_finished":
            return drew


def visitor(app_url: str) -> dict[str, str]:
    """The cookies a browser's first requests get (the app's session cookie, Streamlit's XSRF token)."""
    with httpx.Client() as client:
        client.get(app_url + "/")
        client.get(app_url + "/_stcore/health")
        return dict(client.cookies.items())


def test_a_signed_in_session_id_reattached_elsewhere_gets_the_sign_in_page(chromium_browser, app_url):
    context = chromium_browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(90_000)
    ids: list[str] = []

    def watch(socket) -> None:
        def frame(payload: bytes | str) -> None:
            message = ForwardMsg()
            if isinstance(payload, bytes):
                message.ParseFromString(payload)
                if message.WhichOneof("type") == "new_session":
                    ids.append(message.new_session.initialize.session_id)
        socket.on("framereceived", frame)

    page.on("websocket", watch)
    page.goto(app_url)
    sign_in(page, "admin")
    victim = ids[-1]
    attacker = talk(app_url, ["streamlit", "x", victim])
    assert attacker.session_id and attacker.session_id != victim
    assert "Billed revenue" not in attacker.text and "Overview" not in attacker.text
    assert "This browser cannot be signed in" in attacker.text, attacker.text  # the sign-in page (without
    # the browser's cookie, not even the form)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Discrepancies").click()
    page.get_by_role("heading", name="Discrepancies", level=1).wait_for()  # the owner is still signed in
    context.close()


def test_a_visitor_who_never_signed_in_can_neither_clear_the_caches_nor_upload(app_url):
    cookies = visitor(app_url)
    xsrf = cookies["_streamlit_xsrf"]

    def clear(session_id: str) -> list[BackMsg]:
        message = BackMsg()
        message.clear_cache = True
        return [message]

    cleared = talk(app_url, ["streamlit", xsrf], clear, cookies)
    assert "User name" in cleared.text and cleared.closed_with == 1008  # refused: the socket is closed

    def ask_for_upload_urls(session_id: str) -> list[BackMsg]:
        message = BackMsg()
        message.file_urls_request.request_id, message.file_urls_request.session_id = "r1", session_id
        message.file_urls_request.file_names.append("usage.csv")
        return [message]

    asked = talk(app_url, ["streamlit", xsrf], ask_for_upload_urls, cookies)
    assert asked.closed_with == 1008 and "upload_url" not in asked.text

    held: dict[str, int] = {}

    def upload_meanwhile(session_id: str) -> list[BackMsg]:
        held["status"] = httpx.put(f"{app_url}/_stcore/upload_file/{session_id}/file-1", cookies=cookies,
                                   headers={"X-Xsrftoken": xsrf},
                                   files={"file": ("usage.csv", b"client,sku\n" * 1000, "text/csv")}).status_code
        return []

    talk(app_url, ["streamlit", xsrf], upload_meanwhile, cookies)
    assert held["status"] == 403  # its own session, but it has not signed in


def test_a_download_answers_only_the_signed_in_browser_it_was_made_for(app_page, app_url):
    app_page.goto(app_url)
    sign_in(app_page, "admin")
    with app_page.expect_download() as started:
        app_page.get_by_role("button", name="Download CSV").last.click()
    url = started.value.url
    assert re.search(r"/media/\w+\.csv$", url)
    owner = app_page.context.request.get(url)
    assert owner.status == 200 and owner.headers.get("cache-control") == "no-store"
    assert httpx.get(url).status_code == 404  # no cookie
    assert httpx.get(url, cookies=visitor(app_url)).status_code == 404  # another browser


def test_no_metrics_no_framing_and_a_session_cookie_scripts_cannot_read(app_url):
    assert httpx.get(f"{app_url}/_stcore/metrics").status_code == 404
    page = httpx.get(app_url + "/")
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    cookie = next(value for name, value in page.headers.multi_items() if name == "set-cookie"
                  and value.startswith("__Host-recon_session="))
    assert {"Secure", "HttpOnly", "SameSite=Lax", "Path=/"} <= {part.strip() for part in cookie.split(";")}
    assert "Domain" not in cookie and "Max-Age" not in cookie and "Expires" not in cookie


def test_a_reload_keeps_the_session_and_signing_out_ends_it_for_the_browser(app_page, app_url):
    app_page.goto(f"{app_url}/discrepancies")
    app_page.get_by_label("User name").fill("auditor")
    from .conftest import USERS

    app_page.get_by_label("Password", exact=True).fill(USERS["auditor"][1])
    app_page.get_by_role("button", name="Sign in").click()
    app_page.get_by_role("heading", name="Discrepancies", level=1).wait_for(timeout=120_000)
    app_page.reload()
    app_page.get_by_role("heading", name="Discrepancies", level=1).wait_for(timeout=120_000)
    second_tab = app_page.context.new_page()
    second_tab.goto(app_url)
    second_tab.get_by_role("heading", name="Overview", level=1).wait_for(timeout=120_000)
    settle(second_tab)
    second_tab.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    second_tab.get_by_label("User name").wait_for()
    app_page.reload()
    app_page.get_by_label("User name").wait_for(timeout=120_000)
