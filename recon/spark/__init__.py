"""The same reconciliation on Apache Spark (issue 20), for a distributor's roll-up of thousands of clients.

In: a data directory (a local path or any URI the Spark session reads: ``s3a://``, ``abfss://``,
``gs://``, ``dbfs:/``) of CSV, XLSX or Parquet files, as ``recon run --data`` reads one. Out: a
``SparkRun`` whose ``result`` is a ``recon.engine.Reconciliation`` with the local engine's findings,
figures, unmapped and quarantined rows and import records, byte for byte, and whose keys and
receivables are written range by range (``SparkRun.write_outputs``).

Nothing is re-implemented for Spark: each file is read by ``recon.ingest`` in one task (``files``),
identity is built once on the driver from every file's names and applied row by row
(``recon.engine.identify`` / ``resolve_rows``), and ranges of whole clients go through the local
engine's own per-client function (``recon.engine.reconcile_clients``) with
``groupBy(range).applyInPandas`` (``stages``); the driver puts the ranges' additive figures together
(``recon.metrics.KeyFigures``, ``BookFigures``). ``reconcile`` says what is global and why.

pyspark is optional (``pip install -e ".[spark]"``, and Java 17): importing this package does not
import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recon import lazy

if TYPE_CHECKING:
    from recon.errors import SparkUnavailableError as SparkUnavailableError
    from recon.spark.reconcile import SparkRun as SparkRun
    from recon.spark.reconcile import reconcile_on_spark as reconcile_on_spark
    from recon.spark.session import spark_failure as spark_failure
    from recon.spark.session import spark_session as spark_session

__getattr__, __dir__ = lazy.exports(globals(), {
    "SparkRun": "recon.spark.reconcile",
    "reconcile_on_spark": "recon.spark.reconcile",
    "SparkUnavailableError": "recon.errors",
    "spark_failure": "recon.spark.session",
    "spark_session": "recon.spark.session",
})

__all__ = ["SparkRun", "SparkUnavailableError", "reconcile_on_spark", "spark_failure", "spark_session"]
