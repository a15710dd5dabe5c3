"""Text from data is never markup (issue 23 item 7): the small test MSP with client, account manager and
product names that are HTML, markdown links, web and e-mail addresses, rendered on every page under
AppTest; no element that renders markdown (text, captions, headings, alerts, labels, radio options,
tab and expander titles, metrics) and no chart holds them in a form that would become a link, an image,
a style or an icon. Plain-text places (select box options, tables) show them as they are."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from google.protobuf.message import Message
from streamlit.testing.v1 import AppTest

from recon import access
from tests.dashboard.signin import signed_in_app

MINI_MSP = Path(__file__).resolve().parents[1] / "fixtures" / "mini_msp"
ACME = "Acme <a href='https://evil.example/a'>Corp</a> www.evil.example"
BIRCH = "Birch [Dental](https://evil.example/b) ops@evil.example :red[LLC] **bold**"
HOSTILE = {"Acme Corporation": ACME, "Birch Dental LLC": BIRCH, "Dana Lee": "Dana <b>Lee</b> https://evil.example/d"}
# What would be live markup in markdown: the constructs unescaped, and the addresses markdown links by
# itself with or without escapes (a word joiner inside them is what keeps them text).
LIVE = re.compile(r"(?<!\\)<a href|(?<!\\)<b>Lee|(?i:www\\?\.evil)|https\\?://evil|ops\\?@evil"
                  r"|(?<!\\)\]\(https|(?<!\\)\*\*bold|(?<!\\):red\[LLC")
PLAIN_FIELDS = {"options", "default", "raw_values", "raw_value", "spec", "data", "url", "value"}


@pytest.fixture(scope="module")
def hostile_msp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test MSP with three names made hostile everywhere they appear (so every join still holds)."""
    folder = tmp_path_factory.mktemp("hostile_msp")
    for path in MINI_MSP.iterdir():
        if path.suffix != ".csv":
            shutil.copy(path, folder / path.name)
            continue
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.replace(HOSTILE).to_csv(folder / path.name, index=False)
    return folder


@pytest.fixture
def admin(hostile_msp: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AppTest:
    monkeypatch.setenv("RECON_SAMPLE_DIR", str(hostile_msp))
    monkeypatch.setenv("RECON_DATABASE_URL", f"sqlite:///{tmp_path / 'recon.db'}")
    return signed_in_app(access.ADMIN)


def strings(message: Message, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string of a protobuf message, with the name of the field holding it."""
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        for item in values:
            if isinstance(item, Message):
                yield from strings(item, field.name)
            elif isinstance(item, str):
                yield field.name, item


def rendered(at: AppTest) -> tuple[list[str], list[str], list[str]]:
    """(markdown-rendered strings, plain-text strings, chart strings) of everything on the page."""
    markdown, plain, chart = [], [], []

    def walk(node: object) -> None:
        for child in getattr(node, "children", {}).values():
            walk(child)
        proto = getattr(node, "proto", None)
        if proto is None:
            return
        for name, text in strings(proto):
            if name == "spec":
                chart.extend(chart_strings(json.loads(text)))
            (plain if name in PLAIN_FIELDS else markdown).append(text)

    walk(at._tree)
    return markdown, plain, chart


def chart_strings(spec: object) -> Iterator[str]:
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key != "hovertemplate":  # ours: it holds the <b> and <br> we mean
                yield from chart_strings(value)
    elif isinstance(spec, list):
        for value in spec:
            yield from chart_strings(value)
    elif isinstance(spec, str):
        yield spec


def live(texts: list[str]) -> list[str]:
    return [text for text in texts if LIVE.search(text)]


def visit(at: AppTest) -> Iterator[str]:
    """Every page an admin has, the Client page on each hostile client with a finding's evidence open,
    and the Discrepancies and Fixes pages with every row selected; yields a name for each view."""
    for page in ("overview", "receivables", "sources", "mappings", "runs", "settings", "admin"):
        at.switch_page(f"app_pages/{page}.py").run()
        yield page
    at.switch_page("app_pages/client.py").run()
    for client in (ACME, BIRCH):
        at.selectbox(key="client.selected").select(client).run()
        at.session_state["client.findings"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
        at.run()
        yield f"client {client}"
    at.switch_page("app_pages/discrepancies.py").run()
    rows = len(next(frame.value for frame in at.dataframe if "label" in frame.value))
    at.session_state["discrepancies.table"] = {"selection": {"rows": list(range(rows)), "columns": [], "cells": []}}
    at.run()
    yield "discrepancies"
    at.switch_page("app_pages/fixes.py").run()
    rows = len(next(frame.value for frame in at.dataframe if "fix_key" in frame.value))
    at.session_state["fixes.table"] = {"selection": {"rows": list(range(rows)), "columns": [], "cells": []}}
    at.run()
    yield "fixes"


def test_names_from_data_are_never_markup_on_any_page(admin: AppTest) -> None:
    seen_plain, seen_markdown, seen_chart = False, False, False
    for view in visit(admin):
        assert not admin.exception, (view, [item.value for item in admin.exception])
        markdown, plain, chart = rendered(admin)
        assert live(markdown) == [], view
        assert [text for text in chart if "<a href" in text or "<b>Lee" in text] == [], view
        seen_plain |= ACME in plain  # select boxes and tables show the name as it is
        seen_markdown |= any("Acme" in text and "evil" in text for text in markdown)
        seen_chart |= any("&lt;a href=" in text for text in chart)
    assert seen_plain and seen_markdown and seen_chart  # the names were on the pages, only never live


def test_what_the_next_run_reads_is_never_markup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The Sources page says what the next run replaces, keeps, adds and would lose before it runs: the
    uploaded file's name and the vendors of the current data are text from outside, never markup there
    (the plan's note, the warning and the checkbox asking to go on)."""
    monkeypatch.setenv("RECON_SAMPLE_DIR", str(MINI_MSP))
    monkeypatch.setenv("RECON_DATABASE_URL", f"sqlite:///{tmp_path / 'recon.db'}")
    at = signed_in_app(access.ADMIN)
    usage = pd.read_csv(MINI_MSP / "usage.csv", dtype=str, keep_default_na=False)
    usage["vendor"] = "Pax8 [Dental](https://evil.example/v) www.evil.example"
    hostile_name = "usage <a href='https://evil.example/f'>x</a> www.evil.example.csv"
    at.switch_page("app_pages/sources.py").run()
    at.file_uploader(key="sources.uploads").set_value([(hostile_name, usage.to_csv(index=False).encode(),
                                                        "text/csv")]).run()
    at.radio(key="sources.mode").set_value("add").run()
    assert not at.exception
    said = " ".join(item.value for item in at.info)
    assert "evil" in said and live([said]) == [], said
    at.button(key="sources.reconcile").click().run()
    assert not at.exception and not at.error
    datto = usage.assign(vendor="Datto").to_csv(index=False).encode()  # usage stays, the hostile vendor's goes
    at.file_uploader(key="sources.uploads").set_value([("datto.csv", datto, "text/csv")]).run()
    at.radio(key="sources.mode").set_value("only").run()
    markdown, _, _ = rendered(at)
    warned = " ".join(item.value for item in at.warning)
    assert "evil" in warned, warned  # the vendor of the usage the next run would lose
    assert live(markdown) == [] and live([warned, at.checkbox(key="sources.mode.confirm_loss").label]) == []
