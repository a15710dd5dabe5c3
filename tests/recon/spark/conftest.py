"""One Spark session (``local[2]``) for every Spark test of a run: starting one costs seconds.

Without pyspark or Java the Spark tests skip, saying why; with ``RECON_REQUIRE_SPARK=1`` (CI) they fail
instead, so that a machine missing Spark cannot pass unnoticed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark_installed() -> None:
    """pyspark and Java are here; else the test skips saying why (fails with ``RECON_REQUIRE_SPARK=1``)."""
    from recon.errors import SparkUnavailableError
    from recon.spark.session import require_spark

    try:
        require_spark()
    except SparkUnavailableError as error:
        if os.environ.get("RECON_REQUIRE_SPARK") == "1":
            pytest.fail(f"RECON_REQUIRE_SPARK=1 but {error}")
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def spark(spark_installed: None) -> Iterator[Any]:
    from recon.spark.session import spark_session

    session = spark_session("local[2]", {"spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false",
                                         "spark.driver.memory": "1g"})
    yield session
    session.stop()
