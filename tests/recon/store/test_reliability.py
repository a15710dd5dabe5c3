"""The store under stress, on SQLite and PostgreSQL: a process killed mid-save, writers racing on the
same fingerprint (threads and processes), and the schema migrated from an empty database."""

from __future__ import annotations

import dataclasses
import os
import select
import subprocess
import sys
import textwrap
import threading
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from recon import access
from recon.access.roles import FINANCE
from recon.access.storage import StoreAuthStorage
from recon.errors import StoreError
from recon.store import Store, create_store_engine, tables
from recon.store.database import SCHEMA_REVISION, _alembic_config
from tests.recon.store.cases import before_fixes, fingerprint_of

ROOT = Path(__file__).resolve().parents[3]
STORE_TABLES = {tables.table(model).name for model in tables.TABLES}


def python(code: str, *args: str) -> subprocess.Popen[str]:
    """A separate Python process running ``code`` from the repository root."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def start_together(children: list[subprocess.Popen[str]]) -> list[tuple[str, str]]:
    """Wait until every child printed ``ready`` (imports done), then release them all at once; returns
    each child's remaining (stdout, stderr)."""
    for child in children:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready", child.stderr
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    return [child.communicate(timeout=180) for child in children]


def row_counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as connection:
        return {name: connection.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()
                for name in ("run", "discrepancy", "run_import", "import_file")}


# ------------------------------------------------------------------------------------------ crashes

SAVE_THEN_HANG = """
    import sys, time
    import sqlalchemy as sa
    from recon.store import Store
    from tests.recon.store.cases import before_fixes

    store = Store(sys.argv[1])
    result = before_fixes()

    def hang_after_discrepancies(conn, cursor, statement, parameters, context, executemany):
        # the files are recorded right after the discrepancies (which go in bulk: a COPY on PostgreSQL,
        # which SQLAlchemy's events do not see)
        if statement.lstrip().upper().startswith("INSERT INTO IMPORT_FILE"):
            print("inside the save: run row and discrepancies written, not committed", flush=True)
            time.sleep(300)

    sa.event.listen(store.engine, "after_cursor_execute", hang_after_discrepancies)
    store.save_run(result)
    print("saved (the test should have killed this process first)", flush=True)
"""


def test_a_process_killed_mid_save_leaves_no_partial_run(store_url: str) -> None:
    Store(store_url).close()  # migrate first, so the child spends its time in the save
    child = python(SAVE_THEN_HANG, store_url)
    try:
        ready, _, _ = select.select([child.stdout], [], [], 120)
        line = child.stdout.readline() if ready and child.stdout else ""
        assert line.startswith("inside the save"), f"child never reached the save: {child.stderr.read()}"
        child.kill()  # SIGKILL: no cleanup, no rollback by the client
    finally:
        child.kill()
        child.wait(30)
        for stream in (child.stdout, child.stderr):
            if stream:
                stream.close()
    assert child.returncode == -9
    store = Store(store_url)
    assert store.list_runs().empty and store.latest_run_id() is None
    assert row_counts(store) == {"run": 0, "discrepancy": 0, "run_import": 0, "import_file": 0}
    run_id = store.save_run(before_fixes())  # the database is usable: no lock or journal left behind
    assert list(store.list_runs()["id"]) == [run_id]
    assert row_counts(store)["discrepancy"] == 3
    store.close()


def test_a_failure_mid_save_rolls_everything_back(store: Store) -> None:
    result = before_fixes()
    broken = dataclasses.replace(result, discrepancies=result.discrepancies.drop(columns=["variance"]))
    with pytest.raises(StoreError, match=r"lack column.*variance"):
        store.save_run(broken)
    assert store.list_runs().empty
    assert row_counts(store) == {"run": 0, "discrepancy": 0, "run_import": 0, "import_file": 0}


# ---------------------------------------------------------------------------------------- races

def test_two_threads_resolving_the_same_discrepancy_both_land(store_url: str) -> None:
    first_store = Store(store_url)
    result = before_fixes()
    first_store.save_run(result)
    fingerprint = fingerprint_of(result, "missed_recurring_charge")
    start, errors = threading.Barrier(2), []

    def session(name: str) -> None:
        own = Store(store_url)  # a second browser session: its own engine and connections
        try:
            start.wait(30)
            for attempt in range(15):
                own.resolve([fingerprint], "disputed" if attempt % 2 else "credited", note=f"{name}-{attempt}",
                            by=name)
        except Exception as error:  # collected: an assert in a thread would go unnoticed
            errors.append(error)
        finally:
            own.close()

    workers = [threading.Thread(target=session, args=(name,)) for name in ("ann", "bob")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert errors == []
    events = first_store.history(fingerprint)
    assert sorted(events["note"]) == sorted(f"{name}-{i}" for name in ("ann", "bob") for i in range(15))
    assert events["id"].is_unique and events["id"].is_monotonic_increasing
    latest = first_store.resolutions().set_index("fingerprint").loc[fingerprint]
    assert latest["note"] == events["note"].iloc[-1]
    first_store.close()


RESOLVE_MANY = """
    import sys
    from recon.store import Store

    store = Store(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()
    for attempt in range(25):
        store.resolve([sys.argv[2]], "accepted", note=f"{sys.argv[3]}-{attempt}", by=sys.argv[3])
    print("done", flush=True)
"""


def test_two_processes_resolving_the_same_discrepancy_both_land(store: Store, store_url: str) -> None:
    result = before_fixes()
    store.save_run(result)
    fingerprint = fingerprint_of(result, "quantity_under_billed")
    children = [python(RESOLVE_MANY, store_url, fingerprint, name) for name in ("ann", "bob")]
    for child, (out, err) in zip(children, start_together(children), strict=True):
        assert child.returncode == 0, err
        assert out.split() == ["done"]
    notes = store.history(fingerprint)["note"]
    assert sorted(notes) == sorted(f"{name}-{i}" for name in ("ann", "bob") for i in range(25))


def test_the_same_file_imported_by_two_sessions_at_once_is_stored_once(store_url: str) -> None:
    records = before_fixes().imports
    start, outcomes, errors = threading.Barrier(2), [], []

    def session() -> None:
        own = Store(store_url)
        try:
            start.wait(30)
            outcomes.append(own.record_import(records[1]))
        except Exception as error:
            errors.append(error)
        finally:
            own.close()

    workers = [threading.Thread(target=session) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert errors == []
    assert len({outcome.id for outcome in outcomes}) == 1
    assert sorted(outcome.duplicate for outcome in outcomes) == [False, True]


# ------------------------------------------------------------------------------------ migrations

def current_revision(store: Store) -> str | None:
    with store.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_migrations_build_the_schema_from_an_empty_database(store_url: str) -> None:
    engine = create_store_engine(store_url)
    assert not set(sa.inspect(engine).get_table_names()) & STORE_TABLES
    engine.dispose()
    store = Store(store_url)
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert current_revision(store) == head
    assert set(sa.inspect(store.engine).get_table_names()) >= STORE_TABLES
    Store(store_url).close()  # opening again is a no-op
    assert current_revision(store) == head
    store.close()


def test_the_migrations_match_the_models(store: Store) -> None:
    """What Alembic would autogenerate against the migrated schema is nothing: the models and the
    migrations agree on tables, columns, types, nullability and indexes (a model added without a
    migration fails here)."""
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_the_schema_revision_opened_without_alembic_is_alembics_head() -> None:
    """``SCHEMA_REVISION`` names the newest migration: a migration added without it fails here (the store
    would still open, through Alembic, but 0.15 s slower on every command)."""
    assert ScriptDirectory.from_config(_alembic_config()).get_current_head() == SCHEMA_REVISION


def test_a_store_at_the_newest_schema_opens_without_importing_alembic(store_url: str) -> None:
    """Every command that opens the store paid Alembic's import (0.15 s) to learn the schema was current;
    a fresh process opening a migrated store now reads the revision itself, and migrates through Alembic
    only when it is behind."""
    Store(store_url).close()  # migrated here
    code = """
        import sys
        from recon.store import Store
        store = Store(sys.argv[1])
        store.list_runs()
        store.close()
        print("alembic" in sys.modules, "alembic.command" in sys.modules)
    """
    child = python(code, store_url)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert out.split() == ["False", "False"]


def test_the_stored_charges_are_indexed_only_by_their_import(store: Store) -> None:
    """No query reads the charge history by period (it scans a window of 400 days and more in import order,
    on both databases), so ``usage_charge`` keeps only its import's index: the period indexes cost every run
    storing a million charges 1 to 3 s (issue 25). Downgrading to 0007 puts them back."""
    def indexes() -> set[str]:
        return {index["name"] for index in sa.inspect(store.engine).get_indexes("usage_charge")}

    assert indexes() == {"ix_usage_charge_import_id"}
    config = _alembic_config()
    with store.engine.connect() as connection, connection.begin():
        config.attributes["connection"] = connection
        command.downgrade(config, "0007_current_data")
    assert indexes() == {f"ix_usage_charge_{name}" for name in ("import_id", "period_start", "period_end")}
    with store.engine.connect() as connection, connection.begin():
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    assert indexes() == {"ix_usage_charge_import_id"}


def test_upgrading_moves_a_runs_key_out_of_its_label(store: Store) -> None:
    """Before 0003 the dashboard found a run by a label suffix ("... · run key <12 characters>"): the
    migration moves it into ``run_key``, leaves the label as written, and the run is found again."""
    config = _alembic_config()
    first, second = store.save_run(before_fixes()), store.save_run(before_fixes(), label="March close")
    with store.engine.connect() as connection, connection.begin():
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
        run = sa.table("run", sa.column("id", sa.Integer()), sa.column("label", sa.Text()))
        connection.execute(sa.update(run).where(run.c.id == first).values(label="sample_data · run key 0123456789ab"))
    with store.engine.connect() as connection, connection.begin():
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    listed = store.list_runs().set_index("id")["label"]
    assert (listed[first], listed[second]) == ("sample_data", "March close")
    assert store.find_run("0123456789ab" + "f" * 12) == first  # the whole key of that run today
    assert store.find_run("f" * 24) is None


def test_a_database_at_0003_run_key_upgrades_to_the_sign_in_tables(store_url: str) -> None:
    """A database left at ``0003_run_key`` (before ``0004_sign_in``) upgrades in place when opened: failed
    sign-ins become counters (``login_throttle``), signed-in browsers get their table, users and runs
    are kept and the user can sign in."""
    store = Store(store_url)
    storage = StoreAuthStorage(store)
    now = datetime.now(UTC)
    access.add_user(storage, access.new_user("fin", FINANCE, "finance-password", rounds=4), "test", now)
    run_id = store.save_run(before_fixes(), key="c" * 24)
    config = _alembic_config()
    with store.engine.connect() as connection, connection.begin():
        config.attributes["connection"] = connection
        command.downgrade(config, "0003_run_key")
    assert current_revision(store) == "0003_run_key"
    names = set(sa.inspect(store.engine).get_table_names())
    assert "login_attempt" in names and not names & {"login_throttle", "browser_session"}
    store.close()
    store = Store(store_url)  # opening migrates
    assert current_revision(store) == ScriptDirectory.from_config(_alembic_config()).get_current_head()
    names = set(sa.inspect(store.engine).get_table_names())
    assert {"login_throttle", "browser_session"} <= names and "login_attempt" not in names
    assert store.find_run("c" * 24) == run_id
    assert access.authenticate(StoreAuthStorage(store), "fin", "finance-password", "10.0.0.1", now).principal
    store.close()


def test_two_processes_opening_an_empty_database_at_once_both_succeed(store_url: str) -> None:
    code = """
        import sys
        from recon.store import Store
        print("ready", flush=True)
        sys.stdin.readline()
        Store(sys.argv[1]).close()
        print("opened", flush=True)
    """
    children = [python(code, store_url) for _ in range(2)]
    for child, (out, err) in zip(children, start_together(children), strict=True):
        assert child.returncode == 0 and out.strip() == "opened", err
    store = Store(store_url)
    assert current_revision(store) == ScriptDirectory.from_config(_alembic_config()).get_current_head()
    store.close()


def test_downgrade_to_empty_and_upgrade_again(store: Store) -> None:
    config = _alembic_config()
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    for target, expected in (("base", None), ("head", head)):
        with store.engine.connect() as connection, connection.begin():
            config.attributes["connection"] = connection
            getattr(command, "downgrade" if target == "base" else "upgrade")(config, target)
        assert current_revision(store) == expected
    store.save_run(before_fixes())
    assert len(store.list_runs()) == 1


def test_the_migrations_ship_inside_the_package() -> None:
    """An installed package migrates its own database: every migrations folder is a package (found by
    setuptools) and every non-Python file Alembic reads is declared as package data."""
    migrations = ROOT / "recon" / "store" / "migrations"
    for folder in [migrations, *[path for path in migrations.rglob("*") if path.is_dir()]]:
        if folder.name != "__pycache__":
            assert (folder / "__init__.py").exists(), folder
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    data_files = {path.name for path in migrations.iterdir() if path.is_file() and path.suffix != ".py"}
    assert data_files <= set(declared["recon.store.migrations"])
    assert _alembic_config().get_main_option("script_location") == "recon.store:migrations"


def test_a_schema_newer_than_the_code_is_refused_clearly(store: Store, store_url: str) -> None:
    with store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match=r"schema \(revision 9999\) is newer than this version of recon"):
        Store(store_url)
