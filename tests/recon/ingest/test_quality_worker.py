"""Great Expectations in a worker process (issue 25 item 3): ``recon run`` hands the suites to a process of
their own, which imports GX on the other core while the files are parsed. Its verdicts are those of GX in
this process, and a worker that fails gives a clear ``QualityError``, never a hang."""

import filecmp
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.errors import QualityError
from recon.ingest import quality
from recon.ingest.directory import LOADING_THREADS, inspect_directory
from recon.ingest.files import load_file
from recon.schema import SOURCES

REPO = Path(__file__).resolve().parents[3]
WAIT_S = 120  # far beyond any suite: a test waiting this long has found a hang


@pytest.fixture(scope="module")
def worker() -> Iterator[quality._Worker]:
    started = quality._Worker()
    yield started
    started.stop()


@contextmanager
def suites_in(worker: quality._Worker) -> Iterator[None]:
    """Validations run in ``worker`` (as after ``start_worker``) while in the block."""
    quality._WORKER.append(worker)
    try:
        yield
    finally:
        quality._WORKER.remove(worker)


def assert_same_load(apart, together) -> None:
    pd.testing.assert_frame_equal(apart.frame, together.frame)
    pd.testing.assert_frame_equal(apart.issues, together.issues)
    assert apart.record == together.record
    assert apart.report == together.report


def test_checks_are_described_without_gx_and_name_gx_expectation_types() -> None:
    gx = quality._gx()
    for kind, specs in SOURCES.items():
        frame = pd.DataFrame({spec.name: pd.Series(dtype="string") for spec in specs})
        cells = {spec.name: pd.Series(dtype="string") for spec in specs}
        for check in quality.suite_checks(kind, frame, cells):
            built = check.expectation.built(gx)
            assert built.expectation_type == check.expectation.type, (kind, check.rule)
            assert built is not check.expectation.built(gx)  # a new object for every suite run


def test_the_worker_gives_every_file_of_real_exports_the_verdicts_gx_gives_here(worker) -> None:
    for directory in (REPO / "sample_data", REPO / "tests/fixtures/real_exports/exports"):
        here = inspect_directory(directory)
        with suites_in(worker):
            there = inspect_directory(directory)
        assert [item.record.file for item in here.loaded] == [item.record.file for item in there.loaded]
        for apart, together in zip(here.loaded, there.loaded, strict=True):
            assert_same_load(apart, together)
        assert here.refused == there.refused and here.ignored == there.ignored


_HOSTILE = {
    "invoice_number": ["INV-1", "INV-2", "", "=cmd|'/c calc'!A1", "INV-1 "],
    "line_id": ["1", "2", "", "1.0"],
    "invoice_date": ["2026-01-31", "1999-12-01", "someday", "", "2101-01-01", "31/01/2026"],
    "due_date": ["2026-02-28", "2026-01-01", "", "0000-00-00"],
    "client": ["Acme", "Ünïcødé GmbH", "", "  ", "NaN", "null"],
    "sku": ["M365-BP", "EDR", "\u200bEDR"],
    "quantity": ["1", "2.5", "-3", "x", "", "1e309", "inf", "NaN", "-0"],
    "unit_price": ["10.00", "-1", "$1,234.50", "", "(5.00)", "9" * 30],
    "currency": ["USD", "usd", "XYZ", "", "US$"],
    "period_start": ["2026-01-01", "2026-02-01", ""],
    "period_end": ["2026-01-31", "2025-12-31", "", "someday"],
}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(st.fixed_dictionaries({name: st.sampled_from(pool) for name, pool in _HOSTILE.items()}),
                min_size=1, max_size=80))
def test_the_worker_gives_hostile_rows_the_verdicts_gx_gives_here(worker, rows) -> None:
    data = pd.DataFrame(rows, columns=list(_HOSTILE)).to_csv(index=False).encode()
    here = load_file(data, "invoices.csv", "invoices")
    with suites_in(worker):
        there = load_file(data, "invoices.csv", "invoices")
    assert_same_load(here, there)


def _load_failing(worker: quality._Worker) -> QualityError:
    """The error of a load whose suite runs in ``worker``, waited for at most ``WAIT_S``."""
    text = b"client,sku,quantity,period_start\nAcme,X,3,2026-01-05\n"
    with suites_in(worker), ThreadPoolExecutor(1) as pool:
        future = pool.submit(load_file, text, "usage.csv", "usage")
        with pytest.raises(QualityError) as raised:
            future.result(timeout=WAIT_S)
    return raised.value


def test_a_worker_that_dies_gives_a_clear_error_not_a_hang() -> None:
    dying = quality._Worker()
    try:
        os.kill(dying.pid, signal.SIGKILL)
        error = _load_failing(dying)
        assert str(error).startswith("could not run the usage data-quality suite: the Great Expectations worker "
                                     "process ended (killed by signal 9"), error
    finally:
        dying.stop()


def test_after_a_worker_died_the_next_file_is_judged_by_a_new_one() -> None:
    """A dashboard's server runs for weeks: its worker ended (killed for memory, say) fails the one file it
    was judging, not every upload until a restart."""
    dying = quality._Worker()
    try:
        first = dying.pid
        os.kill(first, signal.SIGKILL)
        assert "worker process ended" in str(_load_failing(dying))
        with suites_in(dying), ThreadPoolExecutor(1) as pool:
            loaded = pool.submit(load_file, b"client,sku,quantity,period_start\nAcme,X,3,2026-01-05\n",
                                 "usage.csv", "usage").result(timeout=WAIT_S)
        assert loaded.record.rows_loaded == 1 and dying.pid != first
    finally:
        dying.stop()


def test_a_worker_that_cannot_import_gx_says_so_on_every_suite(tmp_path: Path, monkeypatch) -> None:
    broken = tmp_path / "great_expectations"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise RuntimeError('this GX is broken')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    failing = quality._Worker()
    try:
        for _ in range(2):
            assert str(_load_failing(failing)) == (
                "could not run the usage data-quality suite: Great Expectations could not be imported: "
                "RuntimeError: this GX is broken")
    finally:
        failing.stop()


def test_without_a_process_to_start_the_suites_run_here(monkeypatch) -> None:
    def no_process(*args, **kwargs):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(quality.subprocess, "Popen", no_process)
    monkeypatch.delitem(sys.modules, "great_expectations", raising=False)  # (as in a fresh `recon run`)
    try:
        assert quality.start_worker() is False and quality._WORKER == []
    finally:
        quality.stop_worker()
    loaded = load_file(b"client,sku,quantity,period_start\nAcme,X,-3,2026-01-05\n", "usage.csv", "usage")
    assert loaded.record.rows_quarantined == 0 and loaded.record.rows_loaded == 1  # (usage may be negative)


def test_an_expectation_gx_cannot_make_is_a_quality_error(worker) -> None:
    frame = pd.DataFrame({"quantity": [1.0]})
    with pytest.raises(QualityError, match=r"^could not run the usage data-quality suite: AttributeError: "):
        worker.run("usage", frame, [quality._Expectation("ExpectNoSuchThingToHappen", {"column": "quantity"})])
    ((result,),) = [worker.run("usage", frame, [quality._expect("ExpectColumnValuesToBeBetween", column="quantity",
                                                                min_value=0)])]
    assert result.success and result.type == "expect_column_values_to_be_between"  # and it serves on


def test_files_waiting_for_the_worker_give_way_to_files_to_parse(monkeypatch) -> None:
    # Two files are parsed at a time; a file waiting for its verdict from the worker (which is importing GX
    # at the start of a run) lets another be parsed meanwhile. Here every suite waits until every file
    # was handed over: without giving way, the two loading threads would wait for each other.
    directory = REPO / "sample_data"
    counted: list[str] = []
    real_run = quality._run
    monkeypatch.setattr(quality, "_run", lambda kind, *args: counted.append(kind) or real_run(kind, *args))
    here = inspect_directory(directory)
    monkeypatch.setattr(quality, "_run", real_run)
    assert len(counted) > LOADING_THREADS + 2

    asked: list[str] = []
    all_asked = threading.Event()
    waiting = quality._Worker.__new__(quality._Worker)  # (no process: its requests are answered here)
    waiting._lock = threading.Lock()

    def answered_once_all_asked(kind, frame, expectations):
        asked.append(kind)
        if len(asked) == len(counted):
            all_asked.set()
        with waiting._lock:
            assert all_asked.wait(WAIT_S), asked
            with quality._GX_LOCK:
                return quality._results(quality._gx(), kind, frame, expectations)

    monkeypatch.setattr(waiting, "_run", answered_once_all_asked, raising=False)
    with suites_in(waiting):
        there = inspect_directory(directory)
    assert sorted(asked) == sorted(counted)
    for apart, together in zip(here.loaded, there.loaded, strict=True):
        assert_same_load(apart, together)


def test_files_waiting_for_the_worker_beyond_the_bytes_allowed_keep_their_place(monkeypatch) -> None:
    # Their cells stay in memory while they wait: large files (beyond WAITING_BYTES together) do not give
    # way, so no more than LOADING_THREADS files wait at once, as when GX ran in this process.
    from recon.ingest import directory as loading

    pending: list[str] = []
    most = [0]
    slow = quality._Worker.__new__(quality._Worker)
    slow._lock = threading.Lock()

    def answered_slowly(kind, frame, expectations):
        pending.append(kind)
        most[0] = max(most[0], len(pending))
        try:
            with slow._lock:
                threading.Event().wait(0.05)
                with quality._GX_LOCK:
                    return quality._results(quality._gx(), kind, frame, expectations)
        finally:
            pending.remove(kind)

    monkeypatch.setattr(slow, "_run", answered_slowly, raising=False)
    with suites_in(slow):
        inspection = inspect_directory(REPO / "sample_data")
    assert inspection.loaded and most[0] > LOADING_THREADS  # the sample's files are small: they gave way
    monkeypatch.setattr(loading, "WAITING_BYTES", 0)  # none gives way
    most[0] = 0
    with suites_in(slow):
        inspect_directory(REPO / "sample_data")
    assert most[0] <= LOADING_THREADS


RUN = """
import sys
sys.path.insert(0, {repo!r})
{first}
from recon.ingest import quality
started = []
real_worker = quality._Worker
class Watched(real_worker):
    def __init__(self):
        super().__init__()
        started.append(self)
quality._Worker = Watched
sys.argv = ["recon", "run", "--data", {data!r}, "--out", {out!r}, "--no-store"]
from recon.cli import app
try:
    app()
except SystemExit as ended:
    assert not ended.code, ended.code
print("gx imported here", "great_expectations" in sys.modules)
print("workers", len(started), "ended", [worker._process.poll() is not None for worker in started],
      "left", quality._WORKER)
"""


def test_recon_run_validates_in_a_worker_and_writes_what_a_run_validating_here_writes(tmp_path: Path) -> None:
    outputs = {}
    here_first = "from recon.ingest import quality; quality._gx()  # GX imported here first: no worker started"
    for mode, first in (("worker", ""), ("here", here_first)):
        out = tmp_path / mode
        code = RUN.format(repo=str(REPO), first=first, data=str(REPO / "sample_data"), out=str(out))
        done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        outputs[mode] = (out, done.stdout.splitlines())
    assert outputs["worker"][1][-2:] == ["gx imported here False", "workers 1 ended [True] left []"]
    assert outputs["here"][1][-2:] == ["gx imported here True", "workers 0 ended [] left []"]
    printed = {mode: [line.replace(str(out), "OUT") for line in lines[:-2]] for mode, (out, lines) in outputs.items()}
    assert printed["worker"] == printed["here"]
    compared = filecmp.dircmp(outputs["worker"][0], outputs["here"][0])
    assert compared.left_list == compared.right_list and len(compared.left_list) >= 5
    _, mismatch, errors = filecmp.cmpfiles(outputs["worker"][0], outputs["here"][0], compared.left_list,
                                           shallow=False)
    assert mismatch == [] and errors == []


def test_recon_run_with_a_worker_that_cannot_import_gx_fails_with_the_reason(tmp_path: Path) -> None:
    broken = tmp_path / "fake" / "great_expectations"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise RuntimeError('this GX is broken')\n")
    done = subprocess.run([sys.executable, "-m", "recon.cli", "run", "--data", str(REPO / "sample_data"), "--out",
                           str(tmp_path / "out"), "--no-store"], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(tmp_path / "fake")})
    assert done.returncode != 0
    assert "data-quality suite: Great Expectations could not be imported: RuntimeError: this GX is broken" in (
        done.stdout + done.stderr)
    assert not (tmp_path / "out" / "discrepancies.csv").exists()


EARLY = """
import os, sys
sys.path.insert(0, {repo!r})
from recon.ingest import gxprocess
real_spawn = gxprocess.spawn
spawned = []
def spawn():
    process = real_spawn()
    spawned.append((process.pid, "pandas" in sys.modules))
    return process
gxprocess.spawn = spawn
import atexit
atexit.register(lambda: print("spawned", spawned, flush=True))  # (the program may end without returning)
sys.argv = ["recon", *{args!r}]
from recon.cli import entry
entry()
"""


def _entry(tmp_path: Path, args: list[str]) -> tuple[list[tuple[int, bool]], int]:
    """Run the ``recon`` program's entry with ``args`` in a fresh process: the worker processes it spawned
    (pid, whether pandas was imported by then) and its exit code."""
    done = subprocess.run([sys.executable, "-c", EARLY.format(repo=str(REPO), args=args)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    spawned = [line for line in done.stdout.splitlines() if line.startswith("spawned ")]
    assert spawned, done.stderr[-3000:]
    return eval(spawned[-1].removeprefix("spawned ")), done.returncode  # (our own print of a list of tuples)


def test_recon_run_starts_its_worker_process_before_its_own_imports(tmp_path: Path) -> None:
    # The worker imports pandas and GX (seconds) beside the command's own imports, not after them; the run
    # takes that process as its worker (one process started) and writes what it wrote before.
    out = tmp_path / "out"
    spawned, code = _entry(tmp_path, ["run", "--data", str(REPO / "sample_data"), "--out", str(out), "--no-store"])
    assert code == 0
    assert [pandas_imported for _, pandas_imported in spawned] == [False]
    assert (out / "discrepancies.csv").exists()


def test_a_worker_process_started_early_and_not_used_ends_with_the_program(tmp_path: Path) -> None:
    spawned, code = _entry(tmp_path, ["run", "--data", str(REPO / "sample_data"), "--out", str(tmp_path / "out"),
                                      "--period", "2026-13", "--no-store"])  # refused before any file is read
    assert code == 2 and len(spawned) == 1
    pid, _ = spawned[0]
    with pytest.raises(ProcessLookupError):  # ended and reaped by the program, not left running
        os.kill(pid, 0)


@pytest.mark.parametrize(("args", "wanted"), [
    (["run", "--data", "d", "--out", "o"], True),
    (["--database-url", "sqlite:///x.db", "run", "--out", "o", "--data=d", "--engine", "local"], True),
    (["run", "--data", "d", "--out", "o", "--engine", "spark"], False),
    (["run", "--data", "d", "--engine=spark"], False),
    (["run", "--connection", "psa", "--period", "2026-01", "--out", "o"], False),
    (["run", "--data", "d", "--help"], False),
    (["validate", "--data", "d"], False),
    (["--database-url", "run", "runs"], False),
    (["--help"], False),
    ([], False),
])
def test_the_worker_is_started_first_thing_only_for_a_local_run_of_a_directory(args, wanted) -> None:
    from recon.cli import runs_suites_in_a_worker

    assert runs_suites_in_a_worker(args) is wanted
