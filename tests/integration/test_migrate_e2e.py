"""End to end: ``migrate --write`` an old Databricks notebook, run it on local Spark with runtime
15.4 ML or 15.4 standard simulated, and get the legacy run layout back (SPEC 5,
``params.maxBins = '8'``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from legacy_mllib_tracking import simulate_runtime
from legacy_mllib_tracking.cli import main
from legacy_mllib_tracking.keys import TAG_PARENT_RUN_ID
from legacy_mllib_tracking.notebooks import Verdict, read_file, scan

from .helpers import assert_contract

#: A notebook written for DBR 9.1 ML: a Pipeline-tuned CrossValidator fitted inside
#: ``with mlflow.start_run()``, relying on the retired tracker for its child runs.
OLD_NOTEBOOK = """\
# Databricks notebook source
# MAGIC %md
# MAGIC # Churn model
# MAGIC Tuned on DBR 9.1 ML: every fit was tracked automatically.

# COMMAND ----------

import mlflow
from pyspark.ml import Pipeline
from pyspark.ml.classification import DecisionTreeClassifier
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
from pyspark.sql import functions as F

# COMMAND ----------

train = spark.range(240)
for i in range(3):
    train = train.withColumn(f"x{i}", F.randn(11 + i))
train = train.withColumn("label", ((F.col("x0") - F.col("x1") + F.randn(5)) > 0).cast("double"))

# COMMAND ----------

# DBTITLE 1,Tuning
tree = DecisionTreeClassifier(seed=1)
pipeline = Pipeline(stages=[VectorAssembler(inputCols=["x0", "x1", "x2"], outputCol="features"),
                            tree])
grid = (ParamGridBuilder()
        .addGrid(tree.maxBins, [8, 16])
        .addGrid(tree.maxDepth, [2, 3])
        .build())
cv = CrossValidator(estimator=pipeline, estimatorParamMaps=grid, numFolds=2, seed=1,
                    evaluator=BinaryClassificationEvaluator(metricName="areaUnderROC"))

# COMMAND ----------

with mlflow.start_run() as run:
    model = cv.fit(train)
"""

GRID = {"maxBins": ("8", "16"), "maxDepth": ("2", "3")}


def _run_python_cells(path: Path, namespace: dict[str, Any]) -> None:
    """Execute the notebook's Python cells in order, as Databricks would (markdown skipped)."""
    (notebook,) = read_file(path)[1]
    for cell in notebook.cells:
        if cell.language == "python" and cell.magic is None:
            exec(compile(cell.source, f"{path}[cell {cell.index}]", "exec"), namespace)


@pytest.mark.parametrize(
    ("target", "call", "mode"),
    [
        pytest.param("15.4 ML", "configure(spark)", "autolog", id="15.4-ml"),
        # configure(spark) alone routes OFF on a standard runtime: migrate forces LEGACY.
        pytest.param(
            "15.4.x-scala2.12", "configure(spark, mode='legacy')", "legacy", id="15.4-standard"
        ),
    ],
)
def test_migrated_notebook_logs_the_legacy_layout_on_15_4(
    spark: Any,
    experiment: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    target: str,
    call: str,
    mode: str,
) -> None:
    """The notebook scans as ``migrate`` for the target; ``migrate --write`` inserts the call the
    scan names, after which it scans ``ok``; its cells, run in order on that runtime
    (simulated), log one parent and one child per map under the bare names."""
    path = tmp_path / "churn.py"
    path.write_text(OLD_NOTEBOOK)
    (report,) = scan([path], target=target).notebooks()
    assert report.verdict is Verdict.MIGRATE
    assert report.configure_call() == call

    assert main(["migrate", "--write", "--target", target, str(path)]) == 0
    capsys.readouterr()
    migrated = path.read_text()
    assert (
        migrated.replace(
            f"# COMMAND ----------\n\nfrom legacy_mllib_tracking import configure\n{call}\n\n",
            "",
            1,
        )
        == OLD_NOTEBOOK
    )
    (report,) = scan([path], target=target).notebooks()
    assert report.verdict is Verdict.OK

    namespace: dict[str, Any] = {"spark": spark}
    with simulate_runtime(target, spark=spark):
        _run_python_cells(path, namespace)
    run_id = namespace["run"].info.run_id
    assert mlflow.active_run() is None

    assert_contract(run_id, kind="cv", mode=mode, grid=GRID)
    children = MlflowClient().search_runs(
        [experiment],
        filter_string=f"params.maxBins = '8' and tags.`{TAG_PARENT_RUN_ID}` = '{run_id}'",
    )
    assert len(children) == 2
    assert (
        mlflow.search_runs(experiment_ids=[experiment], filter_string="params.maxBins = '8'").shape[
            0
        ]
        == 2
    )
