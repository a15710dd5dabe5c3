"""``recon run --engine spark`` gives the local engine's answers byte for byte (issue 20).

Every data directory the tests have (the sample MSP, the real-format fixtures, and any directory of
``tests/fixtures`` that holds a run's sources) is reconciled both ways, and every output file compared.
The Spark runs use small client ranges (``ROWS_PER_RANGE``), so that even a small directory is split over
several ranges of clients and of invoice numbers, as a large one is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from recon.engine import reconcile
from recon.errors import ReconError
from recon.exports.report import write_outputs
from recon.ingest.directory import load_directory

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"
ROWS_PER_RANGE = 400
OUTPUTS = ("discrepancies.csv", "summary.json", "receivables.csv", "unmapped.csv", "quarantine.csv", "keys.csv")


def data_directories() -> list[Path]:
    """The sample MSP and every fixture directory with a profile or a contracts file."""
    found = [path for path in FIXTURES.rglob("*") if path.is_dir()
             and ((path / "profile.toml").exists() or any(path.glob("contracts.*")))]
    return [ROOT / "sample_data", *sorted(found)]


def run_both(data: Path, out: Path, spark: Any, **options: Any) -> tuple[Path, Path, Any]:
    from recon.spark import reconcile_on_spark

    local = reconcile(load_directory(data), **options)
    write_outputs(local, out / "local", keys=True)
    run = reconcile_on_spark(str(data), spark=spark, rows_per_partition=ROWS_PER_RANGE, **options)
    try:
        run.write_outputs(out / "spark", keys=True)
    finally:
        run.close()
    return out / "local", out / "spark", run


def assert_same_files(local: Path, spark: Path) -> None:
    differing = [name for name in OUTPUTS if (local / name).read_bytes() != (spark / name).read_bytes()]
    assert not differing, f"differ: {differing}"


@pytest.mark.spark
@pytest.mark.parametrize("data", data_directories(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_output_file_is_the_local_engines(data: Path, tmp_path: Path, spark: Any) -> None:
    local, on_spark, run = run_both(data, tmp_path, spark)
    assert_same_files(local, on_spark)
    assert len(run.result.discrepancies) > 0


@pytest.mark.spark
def test_chosen_periods_as_of_and_saved_mappings_give_the_same_answers(tmp_path: Path, spark: Any) -> None:
    import pandas as pd

    from recon.engine import Mappings
    from recon.settings import Settings

    aliases = pd.DataFrame({"alias": ["Contoso Partners"], "client": ["Contoso Ltd"]}, dtype="string")
    mappings = Mappings(client_aliases=aliases)
    settings = Settings().replace(as_of=pd.Timestamp("2026-06-15").date())
    local, on_spark, _ = run_both(ROOT / "sample_data", tmp_path, spark, settings=settings,
                                  periods=["2026-02", "2026-03"], mappings=mappings)
    assert_same_files(local, on_spark)


@pytest.mark.spark
def test_a_missing_source_is_refused_as_the_local_engine_refuses_it(tmp_path: Path, spark: Any) -> None:
    from recon.spark import reconcile_on_spark

    for name in ("contracts.csv", "invoices.csv"):
        (tmp_path / name).write_bytes((ROOT / "sample_data" / name).read_bytes())
    with pytest.raises(ReconError) as local:
        load_directory(tmp_path)
    with pytest.raises(ReconError) as on_spark:
        reconcile_on_spark(str(tmp_path), spark=spark)
    assert type(on_spark.value) is type(local.value)
    assert str(on_spark.value) == str(local.value)


@pytest.mark.spark
@pytest.mark.parametrize("usage", ["", "Acme,DATTO-SAAS,3,2026-01-01\n"], ids=["no rows", "no row that maps"])
def test_files_that_give_no_month_are_refused_alike(tmp_path: Path, spark: Any, usage: str) -> None:
    """Header-only contracts and invoices, and usage rows none of which maps: the local engine's message (it
    was an IndexError on both)."""
    from recon.errors import NoMonthError
    from recon.spark import reconcile_on_spark

    (tmp_path / "contracts.csv").write_text("client,sku,unit_price,quantity,start_date\n")
    (tmp_path / "invoices.csv").write_text("invoice_number,invoice_date,client,sku,quantity,unit_price\n")
    (tmp_path / "usage.csv").write_text("client,sku,quantity,period_start\n" + usage)
    with pytest.raises(NoMonthError) as local:
        reconcile(load_directory(tmp_path))
    with pytest.raises(NoMonthError) as on_spark:
        reconcile_on_spark(str(tmp_path), spark=spark)
    assert str(on_spark.value) == str(local.value)
    assert ("1 usage row maps to no client and sku" in str(local.value)) == bool(usage)


@pytest.mark.spark
def test_parquet_sources_give_the_same_answers_on_both_engines_and_as_csv(tmp_path: Path, spark: Any) -> None:
    from recon.sample import write_sample

    write_sample(tmp_path / "csv", clients=15, months=4, seed=11)
    write_sample(tmp_path / "parquet", clients=15, months=4, seed=11, file_format="parquet")
    assert sorted(path.name for path in (tmp_path / "parquet").glob("*.parquet"))
    local, on_spark, _ = run_both(tmp_path / "parquet", tmp_path / "out", spark)
    assert_same_files(local, on_spark)
    as_csv = tmp_path / "from-csv"
    write_outputs(reconcile(load_directory(tmp_path / "csv")), as_csv, keys=True)
    for name in ("discrepancies.csv", "receivables.csv", "keys.csv"):  # (unmapped.csv names the files)
        assert (as_csv / name).read_bytes() == (local / name).read_bytes(), name


@pytest.mark.spark
def test_recon_run_engine_spark_stores_a_run_that_opens_like_any_other(tmp_path: Path, spark: Any) -> None:
    import json

    from typer.testing import CliRunner

    from recon.cli import app
    from recon.store import Store

    database = f"sqlite:///{tmp_path / 'recon.db'}"
    data = ROOT / "tests" / "fixtures" / "mini_msp"
    runs = {}
    for engine in ("local", "spark"):
        done = CliRunner().invoke(app, ["--database-url", database, "run", "--data", str(data), "--out",
                                        str(tmp_path / engine), "--engine", engine, "--label", engine])
        assert done.exit_code == 0, done.output
        assert "Results written to" in done.output
        store = Store(database)
        runs[engine] = store.load_run(store.latest_run_id())
        store.close()
    assert runs["spark"].label == "spark"
    assert runs["spark"].summary == runs["local"].summary
    found = {engine: run.discrepancies.drop(columns=["status"]) for engine, run in runs.items()}
    assert found["spark"].equals(found["local"])
    assert (tmp_path / "spark" / "summary.json").read_bytes() == (tmp_path / "local" / "summary.json").read_bytes()
    assert json.loads((tmp_path / "spark" / "summary.json").read_text())["overall"]["keys"] > 0


@pytest.mark.spark
def test_file_names_with_glob_characters_are_read_as_named(tmp_path: Path, spark: Any) -> None:
    """Spark reads a path as a pattern: ``usage [nov].csv`` must be that file, not a character class."""
    data = tmp_path / "data"
    data.mkdir()
    for path in (ROOT / "tests" / "fixtures" / "mini_msp").iterdir():
        name = "usage [nov]{1}.csv" if path.name.startswith("usage") else path.name
        (data / name).write_bytes(path.read_bytes())
    local, on_spark, run = run_both(data, tmp_path / "out", spark)
    assert_same_files(local, on_spark)
    assert "usage [nov]{1}.csv" in [record.file for record in run.result.imports]


def test_the_frames_kept_between_stages_hold_no_executor_heap(tmp_path: Path, spark: Any) -> None:
    """What a run keeps between its stages is on disk: the executors' heap is left to the tasks, so the
    data's size does not decide whether a run fits (10M invoice lines failed with it in memory)."""
    from recon.spark import reconcile_on_spark

    run = reconcile_on_spark(str(ROOT / "tests" / "fixtures" / "mini_msp"), spark=spark)
    try:
        run.write_outputs(tmp_path / "out")
        cached = [info for info in spark.sparkContext._jsc.sc().getRDDStorageInfo() if info.numCachedPartitions()]
        assert cached, "the run keeps its stages' frames"
        assert [info.memSize() for info in cached] == [0] * len(cached)
        assert all(info.diskSize() > 0 for info in cached)
    finally:
        run.close()


def test_agreement_adjustments_fixes_wrote_give_the_same_answers(tmp_path: Path, spark: Any) -> None:
    """ConnectWise's agreement totals (tests/fixtures/semantics/cw_agreement_total.txt: Alpine's total is
    45.00 short of its additions) with a 45.00 credit a fix wrote to agreement 4801: both engines take
    the adjustment as carried by the total (no mismatch), with the same files."""
    from decimal import Decimal

    import pandas as pd

    from recon.money import MONEY_SCALE
    from tests.scenarios import SEMANTICS, parse_scenario

    sections = parse_scenario((SEMANTICS / "cw_agreement_total.txt").read_text(encoding="utf-8"),
                              headers=r"[\w -]+")
    data = tmp_path / "data"
    data.mkdir()
    profile = []
    for header, text in sections.items():
        kind, *preset = header.split()
        if kind in ("settings", "expected", "absent"):
            continue
        (data / f"{kind}.csv").write_text(text, encoding="utf-8")
        profile.append(f'[[source]]\npath = "{kind}.csv"\nkind = "{kind}"\n'
                       + (f'preset = "{preset[0]}"\n' if preset else ""))
    (data / "usage.csv").write_text("client,sku,quantity,period_start\n", encoding="utf-8")
    profile.append('[[source]]\npath = "usage.csv"\nkind = "usage"\n')
    (data / "profile.toml").write_text("\n".join(profile), encoding="utf-8")
    adjustments = pd.DataFrame({"period": ["2026-03"], "client": ["Alpine Ski House"], "agreement_id": ["4801"],
                                "amount": pd.array([int(Decimal("-45.00") * MONEY_SCALE)], dtype="Int64")})

    without, _, _ = run_both(data, tmp_path / "plain", spark)
    assert "agreement_total_mismatch" in (without / "discrepancies.csv").read_text(encoding="utf-8")
    local, on_spark, _ = run_both(data, tmp_path / "adjusted", spark, adjustments=adjustments)
    assert_same_files(local, on_spark)
    assert "agreement_total_mismatch" not in (on_spark / "discrepancies.csv").read_text(encoding="utf-8")
