"""Named connections: what to connect to (``connections.toml``) and the secrets to do it with.

A connection is defined once, in ``connections.toml`` in the working directory (or the file
``$RECON_CONNECTIONS_FILE`` names, or a file passed in)::

    [connections.psa-replica]
    type = "sql"
    url = "postgresql+psycopg://recon_reader@psa-db.internal/psa"
    [connections.psa-replica.queries]
    contracts = "SELECT company AS client, ... WHERE start_date <= :period_end"

    [connections.pax8]
    type = "pax8"
    client_id = "..."

Secrets never live in that file (it is meant to be shared and committed). Each connector type names its
secret keys (``password`` for SQL, ``private_key`` for ConnectWise, ``secret`` for Autotask,
``client_secret`` for the OAuth services); they come from ``.streamlit/secrets.toml`` (``[connections.NAME]
password = "..."``, the layout Streamlit's own ``st.connection`` uses) or from the environment as
``RECON_CONN_<NAME>_<KEY>`` (``NAME`` upper-cased, anything but letters and digits as ``_``), the environment
winning. A secret
found in ``connections.toml``, or a password inside a database URL there, is refused with the place to
move it to.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from recon.errors import ConnectorError
from recon.redaction import is_secret_name, remember_secrets

CONNECTIONS_FILE = "connections.toml"
CONNECTIONS_FILE_ENV = "RECON_CONNECTIONS_FILE"
SECRETS_FILE = Path(".streamlit") / "secrets.toml"
ENV_PREFIX = "RECON_CONN_"

CONNECTOR_TYPES = ("sql", "connectwise", "autotask", "pax8", "partner_center")
CONNECTOR_LABELS = {"sql": "SQL database", "connectwise": "ConnectWise PSA", "autotask": "Autotask PSA",
                    "pax8": "Pax8", "partner_center": "Microsoft Partner Center"}
SECRET_KEYS: dict[str, tuple[str, ...]] = {
    "sql": ("password",),
    "connectwise": ("private_key",),
    "autotask": ("secret",),
    "pax8": ("client_secret",),
    "partner_center": ("client_secret",),
}
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "sql": ("url", "queries"),
    "connectwise": ("base_url", "company", "public_key", "client_id"),
    "autotask": ("username", "integration_code"),
    "pax8": ("client_id",),
    "partner_center": ("tenant_id", "client_id"),
}


@dataclass(frozen=True)
class Connection:
    """One named connection: its type, its settings (from ``connections.toml``) and its resolved secrets.

    ``secrets`` is left out of ``repr`` so a connection can be printed or logged safely.
    """

    name: str
    type: str
    settings: Mapping[str, Any]
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        return f"{CONNECTOR_LABELS[self.type]} connection {self.name!r}"

    def setting(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)

    def secret(self, key: str) -> str:
        """The secret ``key``; raises ``ConnectorError`` saying where to put it when it is missing."""
        value = self.secrets.get(key)
        if not value:
            raise ConnectorError(f"{self.label}: no {key} found. {where_secrets_go(self.name, key)}")
        return value

    def optional_secret(self, key: str) -> str | None:
        return self.secrets.get(key) or None

    def secret_values(self) -> tuple[str, ...]:
        """Every secret value, for redaction of messages and logs."""
        return tuple(value for value in self.secrets.values() if value)


def env_name(connection: str, key: str) -> str:
    """``RECON_CONN_<NAME>_<KEY>``: the environment variable holding ``key`` of ``connection``."""
    return ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", f"{connection}_{key}".upper())


def where_secrets_go(connection: str, key: str) -> str:
    return (f"Put it in {SECRETS_FILE} under [connections.{connection}] as {key} = \"...\", "
            f"or in the environment variable {env_name(connection, key)}.")


def connections_file(environ: Mapping[str, str] | None = None) -> Path:
    """Where connections are defined by default: ``$RECON_CONNECTIONS_FILE``, else ``./connections.toml``."""
    configured = (os.environ if environ is None else environ).get(CONNECTIONS_FILE_ENV)
    return Path(configured) if configured else Path(CONNECTIONS_FILE)


def load_connections(path: Path | None = None, secrets_path: Path | None = None,
                     environ: Mapping[str, str] | None = None) -> dict[str, Connection]:
    """All connections defined in ``path`` (default ``connections_file()``; none when ``./connections.toml``
    is absent), with their secrets from ``secrets_path`` (default ``./.streamlit/secrets.toml``) and
    ``environ``.

    Raises ``ConnectorError`` listing every problem of every definition at once, and when a file given
    (as ``path`` or ``$RECON_CONNECTIONS_FILE``) does not exist.
    """
    environ = os.environ if environ is None else environ
    given = path is not None or bool(environ.get(CONNECTIONS_FILE_ENV))
    definitions = _read_toml(path or connections_file(environ), required=given)
    stored_secrets = _read_toml(secrets_path or SECRETS_FILE, required=False).get("connections", {})
    connections, problems = {}, []
    for name, definition in (definitions.get("connections") or {}).items():
        found = _check_definition(name, definition)
        problems.extend(found)
        if not found:
            connections[name] = _connection(name, definition, stored_secrets.get(name, {}), environ)
    remember_secrets(value for connection in connections.values() for value in connection.secret_values())
    missing = [problem for connection in connections.values() for problem in _missing_keys(connection)]
    if problems or missing:
        raise ConnectorError("connections.toml: " + "; ".join([*problems, *missing]))
    return connections


def get_connection(name: str, path: Path | None = None, secrets_path: Path | None = None,
                   environ: Mapping[str, str] | None = None) -> Connection:
    """The connection called ``name``; ``ConnectorError`` naming the defined ones when there is none."""
    connections = load_connections(path, secrets_path, environ)
    if name not in connections:
        known = ", ".join(sorted(connections)) or "none"
        raise ConnectorError(f"no connection named {name!r} in {path or connections_file(environ)} "
                             f"(defined: {known}); define it as a [connections.{name}] table")
    return connections[name]


def _read_toml(path: Path, required: bool) -> dict[str, Any]:
    if not path.exists():
        if required:
            raise ConnectorError(f"connections file not found: {path}")
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConnectorError(f"{path}: not valid TOML ({error})") from None


def _check_definition(name: str, definition: Any) -> list[str]:
    if not isinstance(definition, dict):
        return [f"[connections.{name}] must be a table"]
    kind = definition.get("type")
    if kind not in CONNECTOR_TYPES:
        return [f"[connections.{name}] type must be one of {', '.join(CONNECTOR_TYPES)} (got {kind!r})"]
    problems = [f"[connections.{name}] holds the secret {key!r}: remove it. {where_secrets_go(name, key)}"
                for key in SECRET_KEYS[kind] if key in definition]
    url = str(definition.get("url", ""))
    if re.match(r"^[^:/]+(\+[^:/]+)?://[^/@]*:[^/@]*@", url) or _query_holds_a_secret(url):
        problems.append(f"[connections.{name}] url contains a password: remove it from the URL. "
                        + where_secrets_go(name, "password"))
    return problems


def _query_holds_a_secret(url: str) -> bool:
    """Whether ``url``'s query has a ``password=`` (or another secret-named) parameter."""
    try:
        return any(is_secret_name(key) for key, _ in parse_qsl(urlsplit(url).query))
    except ValueError:
        return False


def _connection(name: str, definition: dict[str, Any], stored: dict[str, Any],
                environ: Mapping[str, str]) -> Connection:
    kind = definition["type"]
    secret_keys = SECRET_KEYS[kind]
    settings = {**{k: v for k, v in stored.items() if k not in secret_keys}, **definition}
    secrets = {key: str(stored[key]) for key in secret_keys if stored.get(key)}
    secrets |= {key: environ[env_name(name, key)] for key in secret_keys if environ.get(env_name(name, key))}
    return Connection(name, kind, settings, secrets)


def _missing_keys(connection: Connection) -> list[str]:
    return [f"[connections.{connection.name}] needs {key}"
            for key in REQUIRED_KEYS[connection.type] if key not in connection.settings]
