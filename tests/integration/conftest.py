"""Real parts: one local SparkSession per test session, a real sqlite MLflow store per session,
a fresh experiment per test, and a teardown that asserts no run is left active."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pyspark = pytest.importorskip("pyspark", reason="integration tests need the [spark] extra")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.spark)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A small local SparkSession: local[2], UI off, two shuffle partitions."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("legacy-mllib-tracking-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real sqlite MLflow store in a temporary directory, created once per session."""
    import mlflow

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    yield uri
    if previous is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = previous


@pytest.fixture
def experiment(tracking_uri: str, tmp_path: Path) -> Iterator[str]:
    """A fresh experiment per test, with its artifacts under the test's tmp_path."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    name = f"test-{uuid.uuid4().hex[:12]}"
    experiment_id = mlflow.create_experiment(
        name, artifact_location=(tmp_path / "artifacts").as_uri()
    )
    mlflow.set_experiment(experiment_id=experiment_id)
    yield experiment_id
    leaked = mlflow.active_run()
    while mlflow.active_run() is not None:
        mlflow.end_run()
    assert leaked is None, f"test left run {leaked.info.run_id} active"


@pytest.fixture(scope="session")
def data(spark: Any) -> Any:
    """A generated binary-classification DataFrame (features, label), 240 rows."""
    from legacy_mllib_tracking.demo import make_data

    return make_data(spark, rows=240, seed=3)


@pytest.fixture(scope="session")
def raw_data(spark: Any) -> Any:
    """The same kind of data with raw columns x0..x4 (for Pipelines that assemble features)."""
    from pyspark.sql import functions as F

    frame = spark.range(240)
    for i in range(3):
        frame = frame.withColumn(f"x{i}", F.randn(11 + i))
    return frame.withColumn("label", ((F.col("x0") - F.col("x1") + F.randn(5)) > 0).cast("double"))
