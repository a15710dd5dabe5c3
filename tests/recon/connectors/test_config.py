"""Named connections: definitions in connections.toml, secrets only from secrets.toml or the environment."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from recon.connectors import Period
from recon.connectors.config import CONNECTOR_TYPES, env_name, get_connection, load_connections
from recon.errors import ConnectorError

DEFINITIONS = """
[connections.psa-replica]
type = "sql"
url = "postgresql://reader@db.internal/psa"
[connections.psa-replica.queries]
contracts = "SELECT 1"

[connections.pax8]
type = "pax8"
client_id = "app-1"
"""


def write(tmp_path: Path, definitions: str, secrets: str = "") -> tuple[Path, Path]:
    (tmp_path / "connections.toml").write_text(definitions)
    (tmp_path / "secrets.toml").write_text(secrets)
    return tmp_path / "connections.toml", tmp_path / "secrets.toml"


def test_secrets_come_from_the_secrets_file_and_the_environment_wins(tmp_path: Path) -> None:
    paths = write(tmp_path, DEFINITIONS, '[connections.pax8]\nclient_secret = "from-file"\n'
                                         '[connections.psa-replica]\npassword = "pw-file"\n')
    connections = load_connections(*paths, environ={"RECON_CONN_PSA_REPLICA_PASSWORD": "pw-env"})
    assert connections["pax8"].secret("client_secret") == "from-file"
    assert connections["psa-replica"].secret("password") == "pw-env"
    assert "from-file" not in repr(connections["pax8"]) and "pw-env" not in repr(connections["psa-replica"])
    assert env_name("psa-replica", "password") == "RECON_CONN_PSA_REPLICA_PASSWORD"


def test_a_missing_secret_says_where_to_put_it(tmp_path: Path) -> None:
    pax8 = load_connections(*write(tmp_path, DEFINITIONS), environ={})["pax8"]
    with pytest.raises(ConnectorError) as error:
        pax8.secret("client_secret")
    assert str(error.value) == (
        "Pax8 connection 'pax8': no client_secret found. Put it in .streamlit/secrets.toml under "
        "[connections.pax8] as client_secret = \"...\", or in the environment variable RECON_CONN_PAX8_CLIENT_SECRET.")


def test_secrets_in_the_definitions_are_refused_all_at_once(tmp_path: Path) -> None:
    bad = DEFINITIONS.replace('client_id = "app-1"', 'client_id = "app-1"\nclient_secret = "oops"').replace(
        "postgresql://reader@", "postgresql://reader:hunter22@")
    with pytest.raises(ConnectorError) as error:
        load_connections(*write(tmp_path, bad), environ={})
    message = str(error.value)
    assert "[connections.psa-replica] url contains a password" in message
    assert "[connections.pax8] holds the secret 'client_secret': remove it" in message
    assert "hunter22" not in message and "oops" not in message


def test_unknown_type_and_missing_keys(tmp_path: Path) -> None:
    bad = '[connections.a]\ntype = "ftp"\n[connections.b]\ntype = "connectwise"\nbase_url = "https://x"\n'
    with pytest.raises(ConnectorError) as error:
        load_connections(*write(tmp_path, bad), environ={})
    message = str(error.value)
    assert "[connections.a] type must be one of sql, connectwise, autotask, pax8, partner_center (got 'ftp')" in message
    assert "[connections.b] needs company" in message and "[connections.b] needs client_id" in message


def test_unknown_name_lists_the_defined_ones(tmp_path: Path) -> None:
    definitions, secrets = write(tmp_path, DEFINITIONS)
    with pytest.raises(ConnectorError, match=r"no connection named 'cw' .*\(defined: pax8, psa-replica\)"):
        get_connection("cw", definitions, secrets, environ={})


def test_no_connections_file_means_no_connections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_connections(environ={}) == {}
    with pytest.raises(ConnectorError, match="connections file not found"):
        load_connections(tmp_path / "elsewhere.toml", environ={})


def test_period_bounds() -> None:
    period = Period.parse("2024-02")
    assert (str(period.start), str(period.end), str(period.next_start)) == ("2024-02-01", "2024-02-29", "2024-03-01")
    assert str(Period.parse("2025-12").next_start) == "2026-01-01"
    for bad in ("2025-13", "25-01", "2025-1"):
        with pytest.raises(ConnectorError, match="period must be YYYY-MM"):
            Period.parse(bad)


def test_the_connections_file_can_be_named_in_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    definitions, secrets = write(tmp_path, DEFINITIONS)
    monkeypatch.chdir(tmp_path / "..")
    named = {"RECON_CONNECTIONS_FILE": str(definitions)}
    assert sorted(load_connections(secrets_path=secrets, environ=named)) == ["pax8", "psa-replica"]
    assert load_connections(secrets_path=secrets, environ={}) == {}  # no ./connections.toml: none defined
    with pytest.raises(ConnectorError, match=r"connections file not found: .*elsewhere\.toml"):
        load_connections(environ={"RECON_CONNECTIONS_FILE": str(tmp_path / "elsewhere.toml")})
    with pytest.raises(ConnectorError, match=r"no connection named 'cw' in .*connections\.toml \(defined: pax8, "):
        get_connection("cw", secrets_path=secrets, environ=named)


@pytest.mark.parametrize(("today", "month"), [("2026-03-01", "2026-02"), ("2026-03-31", "2026-02"),
                                              ("2026-01-15", "2025-12")])
def test_the_last_closed_month(today: str, month: str) -> None:
    closed = Period.last_closed(date.fromisoformat(today))
    assert closed.label == month and closed.next_start == date.fromisoformat(today).replace(day=1)


def test_the_example_file_defines_one_connection_of_each_type(tmp_path: Path) -> None:
    example = Path(__file__).parents[3] / "connections.example.toml"
    connections = load_connections(example, tmp_path / "no-secrets.toml", environ={})
    assert sorted(connection.type for connection in connections.values()) == sorted(CONNECTOR_TYPES)
