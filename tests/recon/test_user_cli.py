"""``recon user ...`` and ``recon access-log``: managing who may sign in from the command line, with
passwords prompted or printed once, and database URLs never printed with their password."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from recon import access
from recon.access.storage import StoreAuthStorage
from recon.cli import app
from recon.store import Store

runner = CliRunner()


def recon(url: str, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["--database-url", url, *args], input=stdin)
    return result.exit_code, result.output


def storage(url: str) -> StoreAuthStorage:
    return StoreAuthStorage(Store(url))


def sign_in(url: str, name: str, password: str) -> access.LoginResult:
    return access.authenticate(storage(url), name, password, "test", datetime.now(UTC))


def test_add_with_a_prompted_password(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'recon.db'}"
    code, output = recon(url, "user", "add", "Fin", "--role", "finance",
                         stdin="finance-password\nfinance-password\n")
    assert code == 0, output
    assert "Added fin (finance)." in output and "finance-password" not in output
    assert sign_in(url, "fin", "finance-password").principal == access.Principal("fin", "finance")


def test_add_an_account_manager_with_a_generated_password(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'recon.db'}"
    code, output = recon(url, "user", "add", "dana", "--role", "account_manager", "--manager-name", "Dana Lee",
                         "--clients", "Beta LLC", "--clients", "Acme Corp", "--generate")
    assert code == 0, output
    password = re.search(r"One-time password .*: (\S+)$", output, re.MULTILINE)
    assert password
    outcome = sign_in(url, "dana", password.group(1))
    assert outcome.must_change_password
    assert outcome.principal == access.Principal("dana", "account_manager", frozenset({"Acme Corp", "Beta LLC"}),
                                               "Dana Lee")
    code, output = recon(url, "user", "list")
    assert "dana" in output and "must change password" in output and "clients: Acme Corp, Beta LLC" in output


def test_bad_requests_are_one_line_each(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'recon.db'}"
    code, output = recon(url, "user", "add", "x", "--role", "root", "--generate")
    assert code == 2 and "unknown role 'root'" in output
    code, output = recon(url, "user", "add", "fin", "--role", "finance", stdin="short\nshort\n")
    assert code == 2 and "at least 12 characters" in output
    recon(url, "user", "add", "ann@msp.example", "--role", "auditor", "--identity-provider")
    code, output = recon(url, "user", "add", "ANN@msp.example", "--role", "auditor", "--identity-provider")
    assert code == 2 and "already exists" in output
    code, output = recon(url, "user", "reset-password", "ghost")
    assert code == 2 and "no user named 'ghost'" in output


def test_reset_disable_and_the_access_log(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'recon.db'}"
    recon(url, "user", "add", "fin", "--role", "finance", "--generate")
    code, output = recon(url, "user", "reset-password", "fin", "--by", "admin")
    new_password = output.rsplit(": ", 1)[1].strip()
    assert code == 0 and sign_in(url, "fin", new_password).principal is not None
    assert recon(url, "user", "disable", "fin")[0] == 0
    assert sign_in(url, "fin", new_password).principal is None
    assert recon(url, "user", "disable", "fin", "--enable")[0] == 0
    code, output = recon(url, "access-log", "--limit", "20")
    lines = output.strip().splitlines()
    assert code == 0 and "user_changed" in lines[0] and "disabled True -> False" in lines[0]
    assert "password_reset" in output and "fin" in output
    assert new_password not in output


def test_the_first_admin_banner_prints_the_password_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'recon.db'}"
    store = Store(url)
    from recon.cli import announce_first_admin

    first = runner.invoke(app, ["--database-url", url, "user", "list"])
    assert "No users yet" in first.output
    assert "First start" in access.first_admin_banner("pw")
    announce_first_admin(store)
    users = StoreAuthStorage(store).list_users()
    assert [(u.username, u.role, u.must_change_password) for u in users] == [("admin", "admin", True)]


def test_a_database_password_never_reaches_the_terminal(tmp_path: Path) -> None:
    code, output = recon("postgresql://recon:Sup3rS3cret@127.0.0.1:1/recon", "user", "list")
    assert code == 2 and "Sup3rS3cret" not in output and "***" in output


def test_the_access_log_cannot_be_forged_with_line_breaks(tmp_path: Path) -> None:
    """Issue 23 item 9: a user name typed with a line break (a failed sign-in) or a note with one (a
    resolution) prints as one line of the access log, its control characters shown escaped."""
    url = f"sqlite:///{tmp_path / 'recon.db'}"
    forged = "2026-12-01 09:00:00 UTC  admin                    login (password) from 10.0.0.1  ok"
    sign_in(url, f"mallory\n{forged}", "wrong-password!")
    storage(url).record_access(access.AccessEvent(datetime.now(UTC), "fin", "resolve", "ab12",
                                                  f"credited: see note\r\n{forged}\x1b[2K"))
    code, output = recon(url, "access-log")
    assert code == 0, output
    lines = output.splitlines()
    assert len(lines) == 2 and not any(line.startswith(forged[:23]) for line in lines), output
    assert "(not a user name)" in lines[1] and "\\r\\n" in lines[0] and "\\x1b" in lines[0] and "\x1b" not in output
