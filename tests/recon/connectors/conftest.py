"""Stand-in servers and connections to them, defined the way a user defines them (TOML + secrets)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from recon.connectors.config import Connection, load_connections
from tests.recon.connectors import vendors
from tests.recon.connectors.standin import StandIn

FAST_RETRIES = "retry_base_seconds = 0.01\nretry_attempts = 4\ntimeout_seconds = 5\n"


@pytest.fixture
def connectwise_server() -> Iterator[StandIn]:
    app = vendors.ConnectWise(forbidden=frozenset())
    with StandIn(app) as server:
        app.base = server.url
        yield server


@pytest.fixture
def pax8_server() -> Iterator[StandIn]:
    with StandIn(vendors.Pax8()) as server:
        yield server


@pytest.fixture
def blob_server() -> Iterator[StandIn]:
    """Azure Blob Storage for the Partner Center export files (another host than Graph's)."""
    with StandIn(vendors.BlobStorage()) as server:
        yield server


@pytest.fixture
def partner_center_server(blob_server: StandIn) -> Iterator[StandIn]:
    """Partner Center (API v1, invoices) and Microsoft Graph (API v2) on one host."""
    assert isinstance(blob_server.app, vendors.BlobStorage)
    app = vendors.PartnerCenter(blob_server.app, blob_server.url.replace("127.0.0.1", "localhost"))
    with StandIn(app) as server:
        app.base = server.url
        yield server


@pytest.fixture
def autotask_server() -> Iterator[StandIn]:
    app = vendors.Autotask()
    with StandIn(app) as server:
        app.base = server.url
        yield server


def connections_toml(connectwise: str = "", pax8: str = "", partner_center: str = "", autotask: str = "") -> str:
    """``connections.toml`` text for the stand-ins at the given URLs (no secrets in it)."""
    parts = []
    if connectwise:
        parts.append(f'[connections.cw]\ntype = "connectwise"\nbase_url = "{connectwise}{vendors.CW_PREFIX}"\n'
                     f'company = "{vendors.CW_COMPANY}"\npublic_key = "{vendors.CW_PUBLIC}"\n'
                     f'client_id = "{vendors.CW_CLIENT_ID}"\npage_size = 2\n{FAST_RETRIES}')
    if pax8:
        parts.append(f'[connections.pax8]\ntype = "pax8"\nbase_url = "{pax8}/v1"\ntoken_url = "{pax8}/oauth/token"\n'
                     f'client_id = "{vendors.PAX8_CLIENT_ID}"\npage_size = 2\n{FAST_RETRIES}')
    if partner_center:
        parts.append(f'[connections.msft]\ntype = "partner_center"\nbase_url = "{partner_center}/v1"\n'
                     f'token_url = "{partner_center}/{{tenant_id}}/oauth2/token"\ntenant_id = "{vendors.PC_TENANT}"\n'
                     f'graph_url = "{partner_center}/v1.0"\n'
                     f'graph_token_url = "{partner_center}/{{tenant_id}}/oauth2/v2.0/token"\n'
                     f'client_id = "{vendors.PC_CLIENT_ID}"\npage_size = 2\n{FAST_RETRIES}')
    if autotask:
        parts.append(f'[connections.at]\ntype = "autotask"\nbase_url = "{autotask}{vendors.AT_PREFIX}"\n'
                     f'username = "{vendors.AT_USER}"\nintegration_code = "{vendors.AT_CODE}"\n'
                     f'vendor_sku_udf = "Vendor SKU"\npage_size = 2\n{FAST_RETRIES}')
    return "\n".join(parts)


SECRETS_TOML = (f'[connections.cw]\nprivate_key = "{vendors.CW_PRIVATE}"\n'
                f'[connections.pax8]\nclient_secret = "{vendors.PAX8_SECRET}"\n'
                f'[connections.msft]\nclient_secret = "{vendors.PC_SECRET}"\n'
                f'[connections.at]\nsecret = "{vendors.AT_SECRET}"\n')


def write_project(root: Path, toml: str, secrets: str = SECRETS_TOML) -> tuple[Path, Path]:
    """Write ``connections.toml`` and ``.streamlit/secrets.toml`` under ``root``; return both paths."""
    (root / ".streamlit").mkdir(parents=True, exist_ok=True)
    (root / "connections.toml").write_text(toml)
    (root / ".streamlit" / "secrets.toml").write_text(secrets)
    return root / "connections.toml", root / ".streamlit" / "secrets.toml"


def connection(root: Path, name: str, toml: str, secrets: str = SECRETS_TOML) -> Connection:
    definitions, stored = write_project(root, toml, secrets)
    return load_connections(definitions, stored, environ={})[name]
