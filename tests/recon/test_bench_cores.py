"""``bench/run.py``'s measurement of what the second core gives the engine (issue 25), run as the bench runs it
(a child process) on a small sample MSP: it must split the clients in two, time each half, and get the fork's
own time back. Its figures are times, so nothing here asserts how long anything took."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from recon.sample import write_sample

ROOT = Path(__file__).resolve().parents[2]


def test_the_cores_measurement_times_each_half_of_the_clients_and_both_at_once(tmp_path: Path) -> None:
    write_sample(tmp_path / "msp", clients=40, months=3, usage_sites=2)
    completed = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--child", "cores",
                                str(tmp_path / "msp")], capture_output=True, text=True, timeout=300, check=True)
    mark = "BENCH-RESULT "
    figures = json.loads(next(line for line in completed.stdout.splitlines() if line.startswith(mark))[len(mark):])
    with (tmp_path / "msp" / "invoices.csv").open(newline="") as invoices:
        invoiced = {row["client"] for row in csv.DictReader(invoices)}
    assert sum(figures["clients"]) == len(invoiced) and min(figures["clients"]) > 0
    assert all(seconds > 0 for seconds in [figures["whole_seconds"], *figures["apart_seconds"],
                                           figures["together_seconds"], *figures["together_each_seconds"]])
    # the two halves ran at once: the pair took at least as long as the slower of them
    assert figures["together_seconds"] >= max(figures["together_each_seconds"])
