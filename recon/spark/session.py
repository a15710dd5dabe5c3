"""The Spark session a run uses: the cluster chosen by ``--master``, else by Spark's own settings
(``spark-submit --master``, ``spark-defaults.conf``, ``$MASTER``), else ``local[*]``.

Settings the engine relies on are set here, and only those: Arrow batches of one envelope row (a row
can carry a whole file's rows, see ``recon.spark.payload``), whole files per read task, no console
progress bar, and on a local master the Python workers run this interpreter (``sys.executable``), so
they see the same ``recon`` and pandas as the driver.
"""

from __future__ import annotations

import os
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
    for key, value in {**ENGINE_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    _apply(session, ENGINE_CONF)
    return session


def _configured_master() -> str | None:
    """The master Spark's own settings choose, or ``None`` where they do: under ``spark-submit`` (which
    starts this driver with its ``--master`` and ``spark-defaults.conf``) and where ``$MASTER`` or a
    ``spark-defaults.conf`` names one; else ``DEFAULT_MASTER``."""
    if os.environ.get("PYSPARK_GATEWAY_PORT") or os.environ.get("MASTER"):
        return os.environ.get("MASTER") or None
    conf_dir = os.environ.get("SPARK_CONF_DIR") or (str(Path(os.environ["SPARK_HOME"]) / "conf")
                                                    if "SPARK_HOME" in os.environ else None)
    defaults = Path(conf_dir) / "spark-defaults.conf" if conf_dir else None
    if defaults is not None and defaults.exists():
        for line in defaults.read_text(encoding="utf-8").splitlines():
            parts = line.split(None, 1)
            if len(parts) == 2 and parts[0] == "spark.master":
                return None
    return DEFAULT_MASTER


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


def spark_failure(error: BaseException) -> ReconError | None:
    """Spark's or py4j's exception as one clear ``ReconError`` (its first line, without the JVM's
    stack), or ``None`` for any other exception."""
    module = type(error).__module__ or ""
    if not module.startswith(("pyspark", "py4j")):
        return None
    text = str(error).strip()
    first = next((line.strip() for line in text.splitlines() if line.strip() and "Traceback" not in line), "")
    return SparkRunError(f"Spark failed: {first[:500] or type(error).__name__}")
