"""Real parts: one SparkSession per test session (local, Spark Connect or a standalone cluster, by
env LMT_SPARK_MODE), a real sqlite MLflow store per session, a fresh experiment per test, and a
teardown that asserts no run is left active."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# helpers.py asserts the run-layout contract for many test modules: rewrite its asserts as
# pytest does a test module's, so that a failure shows the values compared.
pytest.register_assert_rewrite("tests.integration.helpers")

pyspark = pytest.importorskip("pyspark", reason="integration tests need the [spark] extra")

from .sparkmodes import ENV_MODE, session_for, spark_mode  # noqa: E402 - after the importorskip


def pytest_report_header() -> str:
    return f"spark mode: {spark_mode()} (env {ENV_MODE}: local, connect or cluster)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mode = spark_mode()
    kept, deselected = [], []
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.spark)
        marker = item.get_closest_marker("spark_mode")
        (kept if marker is None or mode in marker.args else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The session every integration test runs on, by env LMT_SPARK_MODE (see sparkmodes.py).

    ``local`` (default): local[2], UI off, two shuffle partitions. ``connect``: a client of a
    Spark Connect server started for the test session. ``cluster``: the driver of a standalone
    master and worker started for the test session, two executor JVMs.
    """
    mode = spark_mode()
    with session_for(mode, tmp_path_factory.mktemp(f"spark-{mode}")) as session:
        yield session


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


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real `mlflow server` on 127.0.0.1 (free port, own sqlite backend and artifact root)."""
    from .servers import MlflowServer

    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server")).start()
    yield server
    server.stop()


@pytest.fixture
def server_experiment(mlflow_server: Any, tracking_uri: str, tmp_path: Path) -> Iterator[str]:
    """A fresh experiment on the real server, the tracking URI pointing at it for this test."""
    import mlflow

    mlflow.set_tracking_uri(mlflow_server.uri)
    experiment_id = mlflow.create_experiment(f"server-{uuid.uuid4().hex[:12]}")
    mlflow.set_experiment(experiment_id=experiment_id)
    try:
        yield experiment_id
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(tracking_uri)


@pytest.fixture(autouse=True)
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The spool folder for this test only (never the user's ~/.cache)."""
    folder = tmp_path / "spool"
    monkeypatch.setenv("LEGACY_MLLIB_TRACKING_SPOOL_DIR", str(folder))
    return folder
