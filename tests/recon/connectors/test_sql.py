"""The SQL source against real databases: SQLite always, PostgreSQL when RECON_TEST_POSTGRES_URL is set.

A small PSA reporting schema is created per test (its own schema on PostgreSQL), the user's queries run
for 2026-02 with the period bound as parameters, and the result goes through quarantine like a file.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from recon.connectors import check, pull
from recon.connectors.config import Connection, load_connections
from recon.engine import reconcile
from recon.errors import ConnectorError
from recon.money import from_decimal

QUERIES = {
    "contracts": """SELECT c.name AS client, a.product_code AS sku, a.unit_price, a.qty AS quantity,
                           a.starts AS start_date, a.ends AS end_date, a.bill_customer AS billable
                    FROM agreement_lines a JOIN companies c ON c.id = a.company_id
                    WHERE a.starts <= :period_end""",
    "invoices": """SELECT i.invoice_no AS invoice_number, i.invoice_date, c.name AS client, i.product_code AS sku,
                          i.qty AS quantity, i.unit_price
                   FROM invoice_lines i JOIN companies c ON c.id = i.company_id
                   WHERE i.invoice_date >= :period_start AND i.invoice_date < :next_period_start""",
    "usage": """SELECT customer, vendor_sku, seats, period_start, period_end, unit_cost FROM vendor_usage
                WHERE period_start <= :period_end AND period_end >= :period_start""",
    "catalog": "SELECT sku, description, list_price, vendor_sku FROM product_catalog",
}
USAGE_MAPPING = 'client = "customer"\nsku = "vendor_sku"\nquantity = "seats"\n'


def psa_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    money, qty = sa.Numeric(14, 4), sa.Numeric(12, 2)
    return {
        "companies": sa.Table("companies", metadata, sa.Column("id", sa.Integer, primary_key=True),
                              sa.Column("name", sa.String(100))),
        "agreement_lines": sa.Table(
            "agreement_lines", metadata, sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("company_id", sa.Integer), sa.Column("product_code", sa.String(30)), sa.Column("qty", qty),
            sa.Column("unit_price", money), sa.Column("starts", sa.Date), sa.Column("ends", sa.Date),
            sa.Column("bill_customer", sa.String(20))),
        "invoice_lines": sa.Table(
            "invoice_lines", metadata, sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("invoice_no", sa.String(20)), sa.Column("invoice_date", sa.Date),
            sa.Column("company_id", sa.Integer), sa.Column("product_code", sa.String(30)), sa.Column("qty", qty),
            sa.Column("unit_price", money)),
        "vendor_usage": sa.Table(
            "vendor_usage", metadata, sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("customer", sa.String(100)), sa.Column("vendor_sku", sa.String(30)), sa.Column("seats", qty),
            sa.Column("period_start", sa.Date), sa.Column("period_end", sa.Date), sa.Column("unit_cost", money)),
        "product_catalog": sa.Table(
            "product_catalog", metadata, sa.Column("sku", sa.String(30), primary_key=True),
            sa.Column("description", sa.String(100)), sa.Column("list_price", money),
            sa.Column("vendor_sku", sa.String(100))),
    }


ROWS = {
    "companies": [{"id": 1, "name": "Acme Corp"}, {"id": 2, "name": "Globex LLC"}],
    "agreement_lines": [
        {"id": 1, "company_id": 1, "product_code": "M365-BP", "qty": Decimal(25), "unit_price": Decimal("22.00"),
         "starts": date(2025, 1, 1), "ends": None, "bill_customer": "Billable"},
        {"id": 2, "company_id": 2, "product_code": "MANAGED-WS", "qty": Decimal(4), "unit_price": Decimal("45.00"),
         "starts": date(2025, 6, 1), "ends": None, "bill_customer": "Billable"},
        {"id": 3, "company_id": 2, "product_code": "BACKUP", "qty": Decimal(1), "unit_price": Decimal("60.00"),
         "starts": date(2026, 4, 1), "ends": None, "bill_customer": "Billable"},  # starts after the month
    ],
    "invoice_lines": [
        {"id": 1, "invoice_no": "INV-1001", "invoice_date": date(2026, 2, 1), "company_id": 1,
         "product_code": "M365-BP", "qty": Decimal(25), "unit_price": Decimal("22.00")},
        {"id": 2, "invoice_no": "INV-1002", "invoice_date": date(2026, 2, 1), "company_id": 2,
         "product_code": "MANAGED-WS", "qty": Decimal(4), "unit_price": Decimal("45.00")},
        {"id": 3, "invoice_no": "INV-1002", "invoice_date": date(2026, 2, 1), "company_id": 2,
         "product_code": "PROJECT", "qty": None, "unit_price": Decimal("500.00")},  # quarantined: no quantity
        {"id": 4, "invoice_no": "INV-0990", "invoice_date": date(2026, 1, 1), "company_id": 1,
         "product_code": "M365-BP", "qty": Decimal(25), "unit_price": Decimal("22.00")},  # January
    ],
    "vendor_usage": [
        {"id": 1, "customer": "ACME Corp.", "vendor_sku": "MS-OFF-BUS-PREM", "seats": Decimal(27),
         "period_start": date(2026, 2, 1), "period_end": date(2026, 2, 28), "unit_cost": Decimal("19.8000")},
        {"id": 2, "customer": "ACME Corp.", "vendor_sku": "MS-OFF-BUS-PREM", "seats": Decimal(25),
         "period_start": date(2026, 1, 1), "period_end": date(2026, 1, 31), "unit_cost": Decimal("19.8000")},
    ],
    "product_catalog": [
        {"sku": "M365-BP", "description": "Microsoft 365 Business Premium", "list_price": Decimal("22.00"),
         "vendor_sku": "MS-OFF-BUS-PREM"},
        {"sku": "MANAGED-WS", "description": "Managed workstation", "list_price": Decimal("45.00"),
         "vendor_sku": None},
    ],
}


@dataclass(frozen=True)
class Database:
    backend: str
    url: str  # without the password
    password: str | None
    engine: sa.Engine


def _postgres_url() -> str | None:
    url = os.environ.get("RECON_TEST_POSTGRES_URL")
    if not url and os.environ.get("RECON_REQUIRE_POSTGRES") == "1":
        pytest.fail("RECON_REQUIRE_POSTGRES=1 but RECON_TEST_POSTGRES_URL is not set "
                    "(export RECON_TEST_POSTGRES_URL=\"$(scripts/start-postgres.sh)\")")
    return url


def _sqlite(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'psa.db'}"
    engine = sa.create_engine(url)
    yield Database("sqlite", url, None, engine)
    engine.dispose()


def _postgres() -> Iterator[Database]:
    full_url = _postgres_url()
    if not full_url:
        pytest.skip("PostgreSQL tests need RECON_TEST_POSTGRES_URL (e.g. \"$(scripts/start-postgres.sh)\")")
    schema = f"psa_{uuid.uuid4().hex[:10]}"
    parsed = sa.make_url(full_url)
    admin = sa.create_engine(parsed)
    with admin.begin() as db:
        db.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    scoped = parsed.update_query_dict({"options": f"-csearch_path={schema}"})
    engine = sa.create_engine(scoped)
    try:
        no_password = sa.URL.create(scoped.drivername, scoped.username, None, scoped.host, scoped.port,
                                    scoped.database, scoped.query)
        yield Database("postgresql", no_password.render_as_string(hide_password=False), parsed.password, engine)
    finally:
        engine.dispose()
        with admin.begin() as db:
            db.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def psa_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A PSA reporting database holding the sample tables."""
    source = _sqlite(tmp_path) if request.param == "sqlite" else _postgres()
    database = next(source)
    metadata = sa.MetaData()
    tables = psa_tables(metadata)
    metadata.create_all(database.engine)
    with database.engine.begin() as db:
        for name, rows in ROWS.items():
            db.execute(tables[name].insert(), rows)
    yield database
    next(source, None)


def sql_connection(tmp_path: Path, database: Database, queries: dict[str, str] | None = None,
                   password: str | None = None, name: str = "psa") -> Connection:
    chosen = queries or QUERIES
    lines = [f'[connections.{name}]', 'type = "sql"', f'url = "{database.url}"', f"[connections.{name}.queries]"]
    lines += [f'{kind} = """{sql}"""' for kind, sql in chosen.items()]
    lines += [f"[connections.{name}.mappings.usage]", USAGE_MAPPING]
    (tmp_path / "connections.toml").write_text("\n".join(lines))
    secret = password if password is not None else database.password
    environ = {f"RECON_CONN_{name.upper()}_PASSWORD": secret} if secret else {}
    return load_connections(tmp_path / "connections.toml", tmp_path / "no-secrets.toml", environ)[name]


def test_queries_run_for_the_period_and_go_through_quarantine(tmp_path: Path, psa_database: Database) -> None:
    result = pull(sql_connection(tmp_path, psa_database), "2026-02")
    counts = result.counts().set_index("source")
    assert counts["rows_in"].to_dict() == {"contracts": 2, "invoices": 3, "usage": 1, "catalog": 2}
    assert counts["rows_quarantined"].to_dict() == {"contracts": 0, "invoices": 1, "usage": 0, "catalog": 0}
    [issue] = result.issues.itertuples()
    assert issue.file == "psa@2026-02:query invoices"
    assert issue.reason.startswith("quantity: required value is empty")
    sources = result.sources()
    contracts = sources["contracts"].sort_values("sku")
    assert list(contracts["unit_price"]) == [from_decimal("22"), from_decimal("45")]
    assert list(contracts["billable"]) == [True, True]
    usage = sources["usage"]
    assert (usage["client"].iloc[0], usage["sku"].iloc[0], usage["quantity"].iloc[0]) == (
        "ACME Corp.", "MS-OFF-BUS-PREM", 27.0)
    assert usage["unit_cost"].iloc[0] == from_decimal("19.8")


def test_a_month_reconciles_from_the_database_alone(tmp_path: Path, psa_database: Database) -> None:
    result = reconcile(pull(sql_connection(tmp_path, psa_database), "2026-02").sources(), periods=["2026-02"])
    found = result.discrepancies[["client", "sku", "type", "variance"]].to_dict("records")
    assert found == [{"client": "Acme Corp", "sku": "M365-BP", "type": "quantity_under_billed",
                      "variance": from_decimal("-44")}]
    assert len(result.quarantine) == 1


def test_same_rows_same_hash(tmp_path: Path, psa_database: Database) -> None:
    connection = sql_connection(tmp_path, psa_database)
    assert [r.sha256 for r in pull(connection, "2026-02").imports] == \
        [r.sha256 for r in pull(connection, "2026-02").imports]
    other_month = {r.source: r.sha256 for r in pull(connection, "2026-01").imports}
    assert other_month["invoices"] != {r.source: r.sha256 for r in pull(connection, "2026-02").imports}["invoices"]


def test_queries_run_read_only(tmp_path: Path, psa_database: Database) -> None:
    writing = {"contracts": "UPDATE companies SET name = 'Hacked' WHERE id = 1"}
    with pytest.raises(ConnectorError, match=r"SQL database connection 'psa': the query for contracts failed: .*"
                                             r"read.?only"):
        pull(sql_connection(tmp_path, psa_database, writing), "2026-02")
    with psa_database.engine.connect() as db:
        assert db.execute(sa.text("SELECT name FROM companies WHERE id = 1")).scalar() == "Acme Corp"


def test_bad_sql_and_unknown_parameters_name_the_source(tmp_path: Path, psa_database: Database) -> None:
    with pytest.raises(ConnectorError, match=r"the query for usage failed: .*no_such_table"):
        pull(sql_connection(tmp_path, psa_database, {"usage": "SELECT * FROM no_such_table"}), "2026-02")
    with pytest.raises(ConnectorError, match=r"the query for usage uses :client; only :period_start, :period_end, "
                                             r":next_period_start are bound"):
        pull(sql_connection(tmp_path, psa_database, {"usage": "SELECT * FROM vendor_usage WHERE customer = :client"}),
             "2026-02")


def test_check_connects(tmp_path: Path, psa_database: Database) -> None:
    answer = check(sql_connection(tmp_path, psa_database))
    assert answer.startswith(f"connected to {psa_database.backend} at ")


@pytest.mark.postgres
def test_wrong_password_is_refused_without_showing_it(tmp_path: Path) -> None:
    source = _postgres()
    database = next(source)
    try:
        connection = sql_connection(tmp_path, database, password="definitely-wrong-pw")
        with pytest.raises(ConnectorError) as error:
            check(connection)
        assert "cannot connect to postgresql+psycopg://" in str(error.value)
        assert "definitely-wrong-pw" not in str(error.value) and "password authentication failed" in str(error.value)
    finally:
        next(source, None)


def test_a_mistyped_sqlite_path_fails_and_creates_nothing(tmp_path: Path) -> None:
    (tmp_path / "connections.toml").write_text(
        f'[connections.psa]\ntype = "sql"\nurl = "sqlite:///{tmp_path / "typo.db"}"\n'
        '[connections.psa.queries]\nusage = "SELECT 1"\n')
    connection = load_connections(tmp_path / "connections.toml", tmp_path / "none.toml", {})["psa"]
    with pytest.raises(ConnectorError, match=r"SQL database connection 'psa': cannot connect to sqlite:///.*typo.db"):
        check(connection)
    assert not (tmp_path / "typo.db").exists()


def test_a_query_can_return_an_export_read_with_its_preset(tmp_path: Path, psa_database: Database) -> None:
    export = {"usage": """SELECT customer AS "companyName", vendor_sku AS sku, seats AS quantity,
                                 period_start AS "startPeriod", period_end AS "endPeriod", unit_cost AS cost,
                                 -1 * seats AS total
                          FROM vendor_usage WHERE period_start <= :period_end AND period_end >= :period_start"""}
    connection = sql_connection(tmp_path, psa_database, export)
    presets = tmp_path / "connections.toml"
    presets.write_text(presets.read_text().replace("[connections.psa.mappings.usage]", "[connections.psa.presets]\n"
                                                   'usage = "pax8-invoice-items"\n[connections.psa.mappings.usage]')
                       .replace(USAGE_MAPPING, ""))
    connection = load_connections(presets, tmp_path / "none.toml", {"RECON_CONN_PSA_PASSWORD": psa_database.password}
                                  if psa_database.password else {})["psa"]
    result = pull(connection, "2026-02")
    [loaded] = result.loaded
    assert loaded.report.read_as == "pulled, read with preset pax8-invoice-items"
    # PRODUCT.md 4a: a negative total is a credit, loaded (never quarantined) with its quantity negative
    assert loaded.record.rows_quarantined == 0
    assert loaded.frame["quantity"].tolist() == [-27.0]


def test_an_unknown_preset_is_refused(tmp_path: Path, psa_database: Database) -> None:
    connection = sql_connection(tmp_path, psa_database)
    definitions = tmp_path / "connections.toml"
    definitions.write_text(definitions.read_text() + '[connections.psa.presets]\nusage = "connectwise-time"\n')
    connection = load_connections(definitions, tmp_path / "none.toml", {"RECON_CONN_PSA_PASSWORD": "x"})["psa"]
    with pytest.raises(ConnectorError, match=r"presets.usage = 'connectwise-time' is not a usage preset \(one of: "
                                             r"microsoft-nce-recon, pax8-invoice-items\)"):
        pull(connection, "2026-02")


def test_a_password_in_the_url_query_is_refused_like_one_in_the_user_part(tmp_path: Path) -> None:
    """Issue 23 item 8: connections.toml is shared; ``?password=`` in a URL there is refused (with where
    the password goes), and the refusal does not repeat it."""
    with_query = Database("postgresql", "postgresql://reader@db.internal/psa?sslmode=require&password=Query-Pw-7",
                          None, sa.create_engine("sqlite://"))
    with pytest.raises(ConnectorError, match="url contains a password") as error:
        sql_connection(tmp_path, with_query)
    assert "Query-Pw-7" not in str(error.value) and "RECON_CONN_PSA_PASSWORD" in str(error.value)


@pytest.mark.postgres
def test_test_connection_shows_no_query(tmp_path: Path) -> None:
    """What *Test connection* answers names the database without the URL's query (where a password
    could hide)."""
    source = _postgres()
    database = next(source)
    try:
        answer = check(sql_connection(tmp_path, database))
        shown = answer.removeprefix("connected to postgresql at ")
        assert shown != answer and "?" not in shown and "options" not in shown
    finally:
        next(source, None)
