"""Outputs written in one step (issue 24, deliverable 5): a crash while ``recon run`` writes its results
leaves the previous results or the complete new ones, never a folder holding part of each.

The crash is real: a child process is killed with SIGKILL while it writes the third result file (the
write of that file is where the kill is triggered, in the child, before any byte of it is written).
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from recon.cli import app
from recon.errors import OutputError
from recon.exports.outputs import check_folder, replace_file, replace_folder
from recon.exports.report import OUTPUT_FILES
from tests.recon.test_cli import scenario_dir

runner = CliRunner()

KILL_ON_THIRD_WRITE = """
import os, pathlib, signal, sys
from recon.engine import reconcile
from recon.exports import report
from recon.ingest.directory import load_directory

result = reconcile(load_directory(pathlib.Path(sys.argv[1])), periods=["2026-02"])
writes = []

def dying(original):
    def write(self, *args, **kwargs):
        if self.name in report.OUTPUT_FILES and ("w" in str(args[:1]) or original.__name__ != "open"):
            writes.append(self.name)
            if len(writes) == 3:
                os.kill(os.getpid(), signal.SIGKILL)
        return original(self, *args, **kwargs)
    return write

for method in ("write_bytes", "write_text", "open"):
    setattr(pathlib.Path, method, dying(getattr(pathlib.Path, method)))
report.write_outputs(result, pathlib.Path(sys.argv[2]))
"""


# What ``recon run`` writes without --keys (keys.csv only with it, since issue 25).
RUN_FILES = (set(OUTPUT_FILES) - {"keys.csv"}) | {"unmatched_credits.csv"}


def contents(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_a_kill_during_the_write_leaves_the_previous_results_whole(tmp_path: Path) -> None:
    before = scenario_dir(tmp_path, "quantity_and_price")
    out = tmp_path / "out"
    first = runner.invoke(app, ["run", "--data", str(before), "--out", str(out), "--no-store"])
    assert first.exit_code == 0, first.output
    previous = contents(out)
    assert set(previous) == RUN_FILES
    (tmp_path / "second").mkdir()
    after = scenario_dir(tmp_path / "second", "unbilled_usage")
    killed = subprocess.run([sys.executable, "-c", KILL_ON_THIRD_WRITE, str(after), str(out)], capture_output=True,
                            timeout=600, check=False)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    assert contents(out) == previous
    again = runner.invoke(app, ["run", "--data", str(after), "--out", str(out), "--no-store"])
    assert again.exit_code == 0, again.output
    assert set(contents(out)) == RUN_FILES and contents(out) != previous
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".out.")] == []  # leftovers removed


def test_a_folder_holding_other_files_is_refused_before_any_work(tmp_path: Path) -> None:
    data = scenario_dir(tmp_path, "quantity_and_price")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "out"), "--no-store"])
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: ") and result.output.count("\n") == 1
    assert "holds other files ('notes.txt')" in result.output
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"


def test_replace_folder_swaps_whole_folders(tmp_path: Path) -> None:
    target = tmp_path / "results"
    replace_folder(target, {"a.csv": b"1", "b.csv": b"2"})
    replace_folder(target, {"a.csv": b"3"}, allowed={"a.csv", "b.csv"})
    assert contents(target) == {"a.csv": b"3"}
    with pytest.raises(OutputError, match="is not a folder"):
        check_folder(target / "a.csv", ["a.csv"])


def test_replace_file_refuses_a_folder_before_writing(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        replace_file(tmp_path, b"x")
    replace_file(tmp_path / "pack.xlsx", b"x")
    assert (tmp_path / "pack.xlsx").read_bytes() == b"x" and len(list(tmp_path.iterdir())) == 1


def test_a_large_summary_is_written_without_holding_its_text(tmp_path: Path) -> None:
    """summary.json is streamed: the memory writing it takes is a small part of its text (a 10M run's is
    68 MB), and the bytes are what ``json.dumps`` gives, with a final line break."""
    import json
    import tracemalloc

    from recon.exports.report import write_json

    value = {"clients": [{"client": f"Client {number:06d}", "leakage": f"{number}.25", "findings": number % 7,
                          "period": date(2026, 1 + number % 12, 1)} for number in range(40_000)]}
    path = tmp_path / "summary.json"
    tracemalloc.start()
    try:
        write_json(path, value)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(value, indent=2, default=str) + "\n"
    assert peak < len(text) / 4, f"{peak:,} bytes traced to write {len(text):,}"


@pytest.mark.parametrize("dtype", ["string", "category", "object", "str"])
def test_the_summary_reads_each_billed_period_once_not_each_key(monkeypatch: pytest.MonkeyPatch, dtype: str) -> None:
    # `recon run` prints whether a period saw no billing: at 1M invoice lines that read a million keys' periods
    # one by one into a set (0.65 to 0.9 s after the outputs were written, issue 25).
    from recon.exports.report import billed_periods

    periods = pd.Series(["2026-01", "2026-02", None, "2026-03"] * 2_500, dtype=dtype)
    keys = pd.DataFrame({"period": periods, "invoice_lines": pd.Series([1, 0, 2, None] * 2_500, dtype="Int64"),
                         "usage_rows": pd.Series([0, 3, 0, 0] * 2_500, dtype="Int64")})
    active = keys["invoice_lines"].fillna(0).gt(0) | keys["usage_rows"].fillna(0).gt(0)
    expected = set(keys.loc[active.to_numpy(dtype=bool), "period"].astype(str))  # what it was
    read = [0]
    iterate = pd.Series.__iter__

    def counted(series: pd.Series):
        for value in iterate(series):
            read[0] += 1
            yield value

    monkeypatch.setattr(pd.Series, "__iter__", counted)
    assert billed_periods(keys) == expected and len(expected) == 3
    assert read[0] <= 3
