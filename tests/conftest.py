"""Fixtures shared by the test folders: one local Spark session for every Spark test (the JVM starts once)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import warnings

import pytest

HAVE_PYSPARK = importlib.util.find_spec("pyspark") is not None
HAVE_JAVA = bool(shutil.which("java") or os.environ.get("JAVA_HOME"))
NO_SPARK = (
    "pyspark is not installed (pip install -r requirements-spark.txt)"
    if not HAVE_PYSPARK
    else "Java is not installed (apt-get install openjdk-17-jre-headless)"
)


@pytest.fixture(scope="session")
def spark():
    """A local Spark session on two cores, tuned for tiny tables; skipped where pyspark or Java is absent."""
    if not (HAVE_PYSPARK and HAVE_JAVA):
        pytest.skip(NO_SPARK)
    from pyspark.sql import SparkSession

    from analysis.spark_engine import spark_session

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pyspark's note about pandas versions
        session = spark_session(
            SparkSession.builder.master("local[2]")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "4")
            # tiny tables: compiling generated code for each query costs more than running it interpreted
            .config("spark.sql.codegen.wholeStage", "false")
            .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
