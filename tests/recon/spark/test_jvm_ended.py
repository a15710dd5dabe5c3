"""When Spark's Java process ends during a run (out of memory, most often: a 1M-line CSV read by one task in
Spark's default 1 GB heap), ``recon run --engine spark`` says so and what to do. It said "cannot use a file:
Connection refused", the socket error py4j met, read as a file's."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from recon.spark import session
from recon.spark.session import local_driver_memory

ROOT = Path(__file__).resolve().parents[3]

# A real JVM, ended as the kernel or an OutOfMemoryError ends it, then the run that meets its closed socket
# (in a process of its own: the suite's shared session lives on).
ENDED_THEN_RUN = textwrap.dedent("""
    import sys
    from typer.testing import CliRunner
    from recon.cli import app
    from recon.spark.session import spark_session

    spark = spark_session("local[1]", {"spark.ui.enabled": "false"})
    print("HEAP", spark.sparkContext.getConf().get("spark.driver.memory"))
    spark.sparkContext._gateway.proc.kill()
    spark.sparkContext._gateway.proc.wait()
    result = CliRunner().invoke(app, ["run", "--engine", "spark", "--data", "sample_data", "--out", sys.argv[1],
                                      "--no-store"])
    print("EXIT", result.exit_code)
    print(result.output)
""")


def test_a_spark_run_whose_java_process_ended_says_so_and_how_to_give_it_memory(tmp_path: Path,
                                                                                 spark_installed: None) -> None:
    completed = subprocess.run([sys.executable, "-c", ENDED_THEN_RUN, str(tmp_path / "out")], cwd=ROOT,
                               capture_output=True, text=True, timeout=300, check=False)
    shown = completed.stdout
    assert "EXIT 2" in shown, completed.stdout + completed.stderr
    assert "cannot use a file" not in shown
    assert "error: Spark's Java process ran out of memory or ended during the run" in shown
    assert "spark.driver.memory" in shown and "Traceback" not in shown
    # the JVM a local run starts had a heap sized to the machine, not Spark's own 1 GB (unless told otherwise)
    assert f"HEAP {local_driver_memory()}" in shown


# Spark failing after the reconciliation, while the ranges are written (its context stopped, as a cluster
# that lost it would be): the run ended on an unhandled PySparkRuntimeError, a traceback at a terminal.
STOPPED_WHILE_WRITING = textwrap.dedent("""
    import sys
    from typer.testing import CliRunner
    from recon.cli import app
    from recon.spark.reconcile import SparkRun

    written = SparkRun.write_outputs

    def stopped_first(self, *args, **kwargs):
        self.spark.stop()
        return written(self, *args, **kwargs)

    SparkRun.write_outputs = stopped_first
    result = CliRunner().invoke(app, ["run", "--engine", "spark", "--data", "sample_data", "--out", sys.argv[1],
                                      "--no-store"])
    print("EXIT", result.exit_code)
    print("RAISED", type(result.exception).__name__)
    print(result.output)
""")


def test_spark_failing_while_the_results_are_written_is_one_line_not_a_traceback(tmp_path: Path,
                                                                                spark_installed: None) -> None:
    completed = subprocess.run([sys.executable, "-c", STOPPED_WHILE_WRITING, str(tmp_path / "out")], cwd=ROOT,
                               capture_output=True, text=True, timeout=300, check=False)
    shown = completed.stdout
    assert "EXIT 2" in shown and "RAISED SystemExit" in shown, completed.stdout + completed.stderr[-2000:]
    assert "error: Spark failed: " in shown and "Traceback" not in shown


@pytest.mark.parametrize(("total_gb", "heap"), [(2, "1g"), (8, "2g"), (24, "6g"), (64, "8g")])
def test_a_local_masters_heap_is_a_quarter_of_the_machine_from_1_to_8_gb(total_gb: int, heap: str) -> None:
    assert local_driver_memory(total_gb << 30) == heap


@pytest.mark.parametrize("line", ["spark.driver.memory 3g", "spark.driver.memory=3g", "spark.driver.memory: 3g"])
def test_spark_defaults_choosing_the_heap_or_the_master_are_obeyed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   line: str) -> None:
    monkeypatch.delenv("SPARK_DRIVER_MEMORY", raising=False)
    monkeypatch.delenv("PYSPARK_SUBMIT_ARGS", raising=False)
    monkeypatch.delenv("MASTER", raising=False)
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path))
    assert not session._driver_memory_set({}) and session._configured_master() == session.DEFAULT_MASTER
    (tmp_path / "spark-defaults.conf").write_text(f"# ours\n{line}\n{line.replace('driver.memory', 'master')}\n")
    assert session._driver_memory_set({}) and session._configured_master() is None
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path / "none"))
    assert session._driver_memory_set({"spark.driver.memory": "2g"})
    monkeypatch.setenv("SPARK_DRIVER_MEMORY", "2g")
    assert session._driver_memory_set({})
