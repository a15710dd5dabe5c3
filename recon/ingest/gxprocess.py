"""The process of the Great Expectations worker (``recon.ingest.quality.start_worker``), started with the
standard library alone, so that ``recon run`` can start it first thing (issue 25).

The worker spends its first seconds importing pandas and GX, on the other core. Started from the
``recon`` program's entry (``start_early``), before the command's own imports (typer's parsing, pandas,
Arrow, the engine: about half a second of one core), its import runs beside them instead of after them,
and its verdicts are ready that much sooner. ``quality._Worker`` takes the process started early
(``claim``) or starts one then (``spawn``): the same command, the same environment. A process started
early that no worker takes (the command failed first, or ran its suites in its own process) is ended
when the program ends.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
from contextlib import suppress
from pathlib import Path

SERVE = "import sys; sys.path.insert(0, sys.argv[1]); from recon.ingest.quality import _serve; _serve()"


def spawn() -> subprocess.Popen[bytes]:
    """A new worker process: a Python running ``quality._serve``, requests on its standard input, replies on
    its standard output (a private pipe between two processes of the same ``recon``). Raises ``OSError``
    when no process can be started."""
    root = str(Path(__file__).resolve().parents[2])  # the directory holding this ``recon`` package
    return subprocess.Popen([sys.executable, "-c", SERVE, root], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env={**os.environ, "GX_ANALYTICS_ENABLED": "False"})


_EARLY: list[subprocess.Popen[bytes]] = []


def start_early() -> bool:
    """Start the worker's process now, for the next ``quality._Worker`` to take (``claim``); False if one
    is already waiting or none can be started (a worker then starts its own, as without this)."""
    if _EARLY:
        return False
    try:
        process = spawn()
    except OSError:
        return False
    if not _ENDING_REGISTERED:
        atexit.register(end_unclaimed)
        _ENDING_REGISTERED.append(True)
    _EARLY.append(process)
    return True


_ENDING_REGISTERED: list[bool] = []


def claim() -> subprocess.Popen[bytes] | None:
    """The process ``start_early`` started, if it is still running (it is then the caller's to stop)."""
    while _EARLY:
        process = _EARLY.pop()
        if process.poll() is None:
            return process
        _ended(process)
    return None


def end_unclaimed() -> None:
    """End the process started early if no worker took it (at the latest when the program ends)."""
    while _EARLY:
        _ended(_EARLY.pop())


def _ended(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            with suppress(OSError):
                pipe.close()
    process.terminate()
    process.wait()
