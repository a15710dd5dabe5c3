"""``bench/run.py``'s second month (issue 25): next month's files as a finance team has them, the usage files
with other bytes (new imports drawing on the first month's stored charges) and every other file the run reads
the same. It must hold every file the first month's run read: a PSA export it left out (the sample's Autotask
and ConnectWise contracts) made the bench's second month a smaller MSP than its first, with other findings."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from recon.ingest.directory import load_directory

ROOT = Path(__file__).resolve().parents[2]


def bench_run():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_run_second_month", ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_second_month_reads_every_file_of_the_first_with_new_usage_bytes(tmp_path: Path) -> None:
    first = ROOT / "sample_data"
    second = bench_run().second_month(first, tmp_path)
    before, after = load_directory(first), load_directory(second)
    read = [(record.source, record.file) for record in before.imports]
    assert any(file == "contracts_autotask.csv" for _, file in read)
    assert [(record.source, record.file) for record in after.imports] == read
    for old, new in zip(before.imports, after.imports, strict=True):
        assert (old.sha256 != new.sha256) == (old.source == "usage"), old.file
        assert (old.rows_loaded, old.rows_quarantined) == (new.rows_loaded, new.rows_quarantined), old.file
