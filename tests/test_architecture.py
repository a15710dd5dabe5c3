"""The core never depends on the face: importing every recon module pulls in no UI library."""

import importlib
import pkgutil
import subprocess
import sys

import recon


def test_recon_imports_no_ui() -> None:
    modules = [f"recon.{info.name}" for info in pkgutil.iter_modules(recon.__path__)]
    code = ("import importlib, sys\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'streamlit', 'plotly', 'dashboard'})\n"
            "print(','.join(bad))")
    leaked = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert leaked == ""


def test_public_api_is_declared() -> None:
    for name in recon.__all__:
        assert hasattr(recon, name), name
    assert importlib.import_module("recon.cli").app is not None


def test_no_string_built_sql_and_no_raw_html() -> None:
    """SQL goes through SQLAlchemy with bound parameters (the one f-string runs fixed SQLite PRAGMAs);
    the dashboard renders no HTML of its own, so no user text can become markup."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    built_sql = re.compile(r"(execute|exec_driver_sql|text)\(\s*f[\"']"
                           r"|[\"']\s*(SELECT|INSERT|UPDATE|DELETE)\b.*[\"']\s*%")
    allowed = {("store.py", 'cursor.execute(f"PRAGMA {pragma}")')}
    for path in sorted((root / "recon").rglob("*.py")):
        for line in path.read_text().splitlines():
            if built_sql.search(line):
                assert (path.name, line.strip()) in allowed, f"{path.name}: {line.strip()}"
    for path in sorted((root / "dashboard").rglob("*.py")):
        source = path.read_text()
        assert "unsafe_allow_html=True" not in source and "st.html(" not in source, path.name
