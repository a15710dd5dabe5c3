"""The Spark session a run uses: the cluster chosen by ``--master``, else by Spark's own settings
(``spark-submit --master``, ``spark-defaults.conf``, ``$MASTER``), else ``local[*]``.

Settings the engine relies on are set here, and only those: Arrow batches of one envelope row (a row
can carry a whole file's rows, see ``recon.spark.payload``), whole files per read task, no console
progress bar, and on a local master the Python workers run this interpreter (``sys.executable``), so
they see the same ``recon`` and pandas as the driver.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from recon.errors import ReconError, SparkRunError, SparkUnavailableError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[*]"
ENGINE_CONF = {
    # A payload row can hold a whole file's rows: one row per Arrow batch keeps a batch one row's size.
    "spark.sql.execution.arrow.maxRecordsPerBatch": "1",
    # One task per source file: a file is read, checked and hashed whole (see recon.spark.files).
    "spark.sql.files.openCostInBytes": str(1 << 30),
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
}


def spark_session(master: str | None = None, conf: Mapping[str, str] | None = None,
                  app_name: str = "recon") -> SparkSession:
    """A Spark session (the active one when there is one, e.g. under ``spark-submit`` or in a Databricks
    notebook, with the engine's settings added). ``master`` overrides Spark's own choice of cluster;
    ``conf`` adds settings (``spark.driver.memory``, ``spark.executor.memory``, ...), which take effect
    where Spark allows it (driver settings only when this call starts the JVM)."""
    require_spark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        _apply(active, {**ENGINE_CONF, **(conf or {})})
        return active
    builder = SparkSession.builder.appName(app_name)
    chosen = master or _configured_master()
    if chosen is not None:
        builder = builder.master(chosen)
    if (chosen or "").startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    settings = {**ENGINE_CONF, **(conf or {})}
    if (chosen or "").startswith("local") and not _driver_memory_set(settings):
        settings["spark.driver.memory"] = local_driver_memory()
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    _apply(session, ENGINE_CONF)
    return session


def local_driver_memory(total_bytes: int | None = None) -> str:
    """The heap a local master's JVM gets unless told otherwise: its tasks run in it, and one task reads a
    whole file (about five times the file in memory), so Spark's own 1 GB fails on a million-line CSV. A
    quarter of this machine's memory, from 1 to 8 GB."""
    if total_bytes is None:
        total_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{min(8, max(1, total_bytes // 4 // (1 << 30)))}g"


def _driver_memory_set(conf: Mapping[str, str]) -> bool:
    """Whether the driver's memory is chosen by the caller (``conf``) or Spark's own settings
    (``$SPARK_DRIVER_MEMORY``, ``--driver-memory`` in ``$PYSPARK_SUBMIT_ARGS``, ``spark-defaults.conf``)."""
    if "spark.driver.memory" in conf or os.environ.get("SPARK_DRIVER_MEMORY"):
        return True
    if "--driver-memory" in os.environ.get("PYSPARK_SUBMIT_ARGS", ""):
        return True
    return "spark.driver.memory" in _spark_defaults()


def _spark_defaults() -> set[str]:
    """The keys Spark's ``spark-defaults.conf`` sets (``$SPARK_CONF_DIR``, else ``$SPARK_HOME/conf``; a key
    and its value apart by blanks, ``=`` or ``:``, as in a Java properties file)."""
    conf_dir = os.environ.get("SPARK_CONF_DIR") or (str(Path(os.environ["SPARK_HOME"]) / "conf")
                                                    if "SPARK_HOME" in os.environ else None)
    defaults = Path(conf_dir) / "spark-defaults.conf" if conf_dir else None
    if defaults is None or not defaults.exists():
        return set()
    lines = (line.strip() for line in defaults.read_text(encoding="utf-8").splitlines())
    return {re.split(r"[\s=:]", line, maxsplit=1)[0] for line in lines if line and not line.startswith(("#", "!"))}


def _configured_master() -> str | None:
    """The master Spark's own settings choose, or ``None`` where they do: under ``spark-submit`` (which
    starts this driver with its ``--master`` and ``spark-defaults.conf``) and where ``$MASTER`` or a
    ``spark-defaults.conf`` names one; else ``DEFAULT_MASTER``."""
    if os.environ.get("PYSPARK_GATEWAY_PORT") or os.environ.get("MASTER"):
        return os.environ.get("MASTER") or None
    return None if "spark.master" in _spark_defaults() else DEFAULT_MASTER


def _apply(session: SparkSession, conf: Mapping[str, str]) -> None:
    for key, value in conf.items():
        if key.startswith("spark.sql."):
            session.conf.set(key, value)


def require_spark() -> None:
    """Raise ``SparkUnavailableError`` saying what to install when pyspark or Java is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise SparkUnavailableError('the Spark engine needs pyspark: pip install -e ".[spark]"') from None
    if not java_version():
        raise SparkUnavailableError("the Spark engine needs Java 17 or later (Debian: apt-get install -y "
                                    "openjdk-17-jre-headless), on PATH or in JAVA_HOME")


def java_version() -> int | None:
    """The major version of the Java that Spark will start (``$JAVA_HOME/bin/java``, else ``java`` on
    PATH), or ``None`` when there is none."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    try:
        shown = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False).stderr
    except OSError:
        return None
    for token in shown.replace('"', " ").split():
        head = token.split(".")[0]
        if head.isdigit() and "." in token:
            return int(head) if head != "1" else int(token.split(".")[1])
    return None


JVM_ENDED = ("Spark's Java process ran out of memory or ended during the run (see java.lang.OutOfMemoryError "
             "above, if it is there): give it more memory, e.g. --spark-conf spark.driver.memory=8g with a local "
             "master (its tasks run in that process: about five times the largest file), or spark.executor.memory "
             "on a cluster")


def spark_failure(error: BaseException) -> ReconError | None:
    """Spark's or py4j's exception as one clear ``ReconError`` (its first line, without the JVM's
    stack), or ``None`` for any other exception. A socket py4j finds closed means the JVM ended
    (``JVM_ENDED``): the error is Python's own ``ConnectionRefusedError``, not a file's."""
    module = type(error).__module__ or ""
    if isinstance(error, ConnectionError) and _through_py4j(error):
        return SparkRunError(JVM_ENDED)
    if not module.startswith(("pyspark", "py4j")):
        return None
    if type(error).__name__ == "Py4JNetworkError" or "OutOfMemoryError" in str(error) or _jvm_ended():
        return SparkRunError(JVM_ENDED)
    text = str(error).strip()
    first = next((line.strip() for line in text.splitlines() if line.strip() and "Traceback" not in line), "")
    return SparkRunError(f"Spark failed: {first[:500] or type(error).__name__}")


def _through_py4j(error: BaseException) -> bool:
    """Whether ``error`` was raised talking to Spark's JVM (py4j's socket), not by a file or a database."""
    chained = error.__context__ or error.__cause__
    if chained is not None and (type(chained).__module__ or "").startswith("py4j"):
        return True
    trace = error.__traceback__
    while trace is not None:
        if "py4j" in Path(trace.tb_frame.f_code.co_filename).parts:
            return True
        trace = trace.tb_next
    return False


def _jvm_ended() -> bool:
    """Whether the JVM this process started for Spark has exited (a call it was answering fails with
    py4j's "An error occurred while calling ...", saying nothing of why)."""
    from pyspark import SparkContext

    process = getattr(SparkContext._gateway, "proc", None)
    return process is not None and process.poll() is not None
