"""The core never depends on the face: importing every recon module pulls in no UI library."""

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

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

    root = Path(__file__).resolve().parent.parent
    built_sql = re.compile(r"(execute|exec_driver_sql|text)\(\s*f[\"']"
                           r"|[\"']\s*(SELECT|INSERT|UPDATE|DELETE)\b.*[\"']\s*%")
    allowed = {("database.py", 'cursor.execute(f"PRAGMA {pragma}")')}
    for path in sorted((root / "recon").rglob("*.py")):
        for line in path.read_text().splitlines():
            if built_sql.search(line):
                assert (path.name, line.strip()) in allowed, f"{path.name}: {line.strip()}"
    for path in sorted((root / "dashboard").rglob("*.py")):
        source = path.read_text()
        assert "unsafe_allow_html=True" not in source and "st.html(" not in source, path.name


# ----------------------------------------------------------------------------------------------- layering

ROOT = Path(__file__).resolve().parent.parent
# The core is every module at the top of recon/; each subpackage is a stage around it. A stage may use the
# core, itself and the stages named here; the core uses no stage (recon/__init__ only names them lazily,
# and the CLI, the face of the package, may use them all).
STAGES: dict[str, set[str]] = {
    "ingest": set(),
    "store": set(),
    "sample": set(),
    "exports": {"store"},
    "access": {"store", "exports"},
    "connectors": {"ingest", "exports"},
    "spark": {"ingest", "exports"},
}
FACES = {"recon", "recon.cli"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[tuple[str, str]]:
    """(module, name) of every ``from recon... import name`` (name ``""`` for ``import recon...``) in
    ``path``, at any depth, except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    found: set[tuple[str, str]] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            return
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "recon":
            found.update((node.module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update((alias.name, "") for alias in node.names if alias.name.split(".")[0] == "recon")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    """recon module -> the recon modules it imports (``from package import module`` names the module)."""
    paths = [path for path in (ROOT / "recon").rglob("*.py") if "migrations" not in path.parts]
    modules = {_module_name(path): path for path in paths}
    graph = {}
    for name, path in modules.items():
        targets = {f"{module}.{imported}" if f"{module}.{imported}" in modules else module
                   for module, imported in _imports(path)}
        graph[name] = {target for target in targets if target in modules and target != name}
    return graph


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in STAGES) else "core"


def test_stages_import_only_the_core_and_the_stages_below_them() -> None:
    wrong = []
    for module, targets in _graph().items():
        if module in FACES:
            continue
        stage = _stage(module)
        allowed = {"core", stage} | STAGES.get(stage, set())
        wrong += [f"{module} -> {target}" for target in sorted(targets) if _stage(target) not in allowed]
    assert wrong == []


def test_no_module_imports_itself_back_through_others() -> None:
    graph = _graph()
    cycles = []

    def reaches(start: str, node: str, seen: set[str]) -> bool:
        for target in graph[node]:
            if target == start:
                return True
            if target not in seen:
                seen.add(target)
                if reaches(start, target, seen):
                    return True
        return False

    cycles = [module for module in graph if module not in FACES and reaches(module, module, set())]
    assert cycles == []


def test_importing_the_money_core_loads_no_database_driver_or_workbook_library() -> None:
    code = ("import sys, recon.money, recon.engine\n"
            "heavy = {'sqlalchemy', 'alembic', 'bcrypt', 'openpyxl', 'great_expectations', 'sqlmodel', 'psycopg'}\n"
            "print(','.join(sorted(m for m in heavy if m in sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""


def test_loading_csv_files_imports_no_workbook_library() -> None:
    """Issue 25 item 3: openpyxl (0.3 to 0.5 s) is imported when a workbook is read, not by a run that reads
    only CSV files."""
    sample = Path(__file__).resolve().parents[1] / "sample_data"
    code = ("import sys\nfrom pathlib import Path\nfrom recon.ingest import files, reading\n"
            "from recon.ingest.directory import load_directory\n"
            "from recon.ingest import quality\n"
            "quality.validate = lambda kind, frame, cells, **_: quality.Validation(\n"
            "    __import__('pandas').Series('', index=frame.index, dtype='string'), ())\n"
            "quality.validate_together = lambda kind, parts, **_: [quality.validate(kind, *part) for part in parts]\n"
            f"load_directory(Path({str(sample)!r}))\n"
            "print(','.join(sorted(m for m in ('openpyxl', 'great_expectations') if m in sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""


def test_every_exception_class_is_declared_in_errors() -> None:
    """Issue 19 item 4: the exceptions of the package live in ``recon/errors.py`` (``ReconError`` and its
    subclasses for bad calls and bad configuration; ``DataError`` and its subclasses for bad data met while
    reading, which ingest turns into a refusal or quarantine reason). A module-private class (``_Name``)
    that never leaves its module is the only exception."""
    declared = {name for name in dir(importlib.import_module("recon.errors"))
                if isinstance(getattr(importlib.import_module("recon.errors"), name), type)}
    stray = []
    for path in sorted((ROOT / "recon").rglob("*.py")):
        if path.name == "errors.py" and path.parent.name == "recon":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef) or node.name.startswith("_"):
                continue
            bases = {getattr(base, "id", getattr(base, "attr", "")) for base in node.bases}
            if bases & ({"Exception", "ValueError", "RuntimeError", "OSError"} | declared):
                stray.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert stray == []
