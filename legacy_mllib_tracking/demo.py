"""The demo job: fit a CrossValidator on local Spark through ``configure()`` and show its runs."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pyspark is the user's dependency: imported for annotations only
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["make_data", "run", "ui_command"]

EXPERIMENT = "legacy-mllib-tracking-demo"


def make_data(spark: SparkSession, rows: int = 2000, seed: int = 7) -> DataFrame:
    """Return a generated binary-classification DataFrame with ``features`` and ``label``."""
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import functions as F

    frame = spark.range(rows)
    for i in range(5):
        frame = frame.withColumn(f"x{i}", F.randn(seed + i))
    score = sum(F.col(f"x{i}") * w for i, w in enumerate((1.5, -2.0, 0.7, 0.0, 0.3)))
    frame = frame.withColumn("label", ((score + F.randn(seed + 99)) > 0).cast("double"))
    assembler = VectorAssembler(inputCols=[f"x{i}" for i in range(5)], outputCol="features")
    return assembler.transform(frame).select("features", "label")


def ui_command(uri: str, workdir: Path) -> str:
    """The command that opens the MLflow UI on the store ``uri``, as it runs from ``workdir``:
    ``legacy-mllib-tracking ui``, with ``--tracking-uri`` for a store other than the demo's."""
    from legacy_mllib_tracking._cli_base import command

    default = f"sqlite:///{workdir / 'mlflow.db'}"
    words = ["ui"] if uri == default else ["ui", "--tracking-uri", uri]
    return command(*words, workdir=workdir)


def run(*, runtime: str | None, tracking_uri: str | None, workdir: Path) -> int:
    """Run the demo; return the exit status."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
    from pyspark.sql import SparkSession

    from legacy_mllib_tracking import configure, inspect_run_layout, reset
    from legacy_mllib_tracking._safety import error_text
    from legacy_mllib_tracking._tuning import parent_run_name
    from legacy_mllib_tracking.layout import render_tree
    from legacy_mllib_tracking.routing import Mode

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    # The demo's own calls (its run, reading the tree) give up after about half a minute, not
    # mlflow's minutes of retries, when a tracking server stops answering mid-demo (the fit's
    # tracking is bounded by tracking_timeout anyway); values you set are kept.
    for name, value in (
        ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2"),
        ("MLFLOW_HTTP_REQUEST_TIMEOUT", "10"),
    ):
        os.environ.setdefault(name, value)
    store = workdir / "mlflow.db"
    uri = tracking_uri or f"sqlite:///{store}"
    mlflow.set_tracking_uri(uri)
    artifacts = (workdir / "mlartifacts").resolve()
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT, artifact_location=artifacts.as_uri())
    mlflow.set_experiment(EXPERIMENT)

    print("starting local Spark (local[2]) ...", flush=True)
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("legacy-mllib-tracking-demo")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        decision = configure(spark, runtime_version=runtime, autolog_options={"log_models": False})
        print(f"decision: {decision}\n")
        data = make_data(spark)
        lr = LogisticRegression(maxIter=20)
        grid = (
            ParamGridBuilder()
            .addGrid(lr.regParam, [0.01, 0.1, 1.0])
            .addGrid(lr.elasticNetParam, [0.0, 0.5])
            .build()
        )
        cv = CrossValidator(
            estimator=lr,
            estimatorParamMaps=grid,
            evaluator=BinaryClassificationEvaluator(),
            numFolds=3,
            seed=42,
        )
        started = time.perf_counter()
        # The run name says the mode, so the AUTOLOG and the LEGACY (--runtime 9.1) runs of the
        # demo tell apart in the experiment's runs table.
        try:
            with mlflow.start_run(run_name=f"{decision.mode.value}: {parent_run_name(cv)}") as run:
                cv.fit(data)
            seconds = time.perf_counter() - started
            print(f"fitted CrossValidator (6 param maps x 3 folds) in {seconds:.1f} s\n")
            if decision.mode is Mode.OFF:
                print("mode is OFF: nothing was logged by legacy-mllib-tracking")
            tree = render_tree(inspect_run_layout(run.info.run_id))
        except MlflowException as error:
            # The fit never fails on tracking; the demo's own calls around it (its run, reading
            # the tree) do when the store stops answering meanwhile.
            print(
                f"legacy-mllib-tracking demo: the tracking store failed during the demo "
                f"({error_text(error, limit=200)}); what the fit could not log was spooled "
                "(the warning above names the file and the replay command); the demo's own run "
                "stays RUNNING in the store until it is ended there",
                file=sys.stderr,
            )
            return 1
        print(tree)
        print()
        if uri.startswith("sqlite:///"):
            print("open the MLflow UI on this store (http://127.0.0.1:5000, Ctrl-C stops it):")
            print(f"  {ui_command(uri, workdir)}")
        else:
            print(f"runs are in {uri}")
    finally:
        reset()
        spark.stop()
    os.environ.pop("PYSPARK_GATEWAY_PORT", None)
    return 0
