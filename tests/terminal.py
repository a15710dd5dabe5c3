"""``recon`` run as a person runs it: in a process of its own whose standard error is a terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path


def run_at_a_terminal(arguments: list[str], cwd: Path | None = None) -> tuple[int, str, str]:
    """``recon arguments`` with standard error on a pseudo-terminal and standard output on a pipe: (exit code,
    stdout, what the terminal showed, line breaks as ``\\n``)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "recon.cli", *arguments], stdout=subprocess.PIPE,
                               stderr=terminal, stdin=subprocess.DEVNULL, cwd=cwd)
    os.close(terminal)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the process ended and closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    stdout, _ = process.communicate(timeout=120)
    os.close(controller)
    return process.returncode, stdout.decode(), shown.decode().replace("\r\n", "\n")


def steps(shown: str) -> list[str]:
    """The steps a command said on the terminal (``[  1.2 s] reading ...``), without their clocks."""
    return [line.split("] ", 1)[1] for line in shown.splitlines() if line.startswith("[") and "] " in line]
