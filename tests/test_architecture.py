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
