"""Small tuning setups shared by the integration tests (fast: few rows, few iterations)."""

from __future__ import annotations

from typing import Any

METRIC = "areaUnderROC"


def tuner(
    kind: str = "cv",
    *,
    pipeline: bool = False,
    parallelism: int = 1,
    estimator: Any = None,
) -> Any:
    """Return a CrossValidator ("cv") or TrainValidationSplit ("tvs") over a 2x2 grid.

    The tuned estimator is a LogisticRegression, or with ``pipeline=True`` a Pipeline of a
    VectorAssembler (over raw columns x0..x2) and that LogisticRegression.
    """
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder, TrainValidationSplit

    lr = LogisticRegression(maxIter=5)
    grid = (
        ParamGridBuilder()
        .addGrid(lr.regParam, [0.01, 0.5])
        .addGrid(lr.elasticNetParam, [0.0, 1.0])
        .build()
    )
    tuned = estimator
    if tuned is None:
        tuned = (
            Pipeline(
                stages=[VectorAssembler(inputCols=["x0", "x1", "x2"], outputCol="features"), lr]
            )
            if pipeline
            else lr
        )
    evaluator = BinaryClassificationEvaluator(metricName=METRIC)
    if kind == "cv":
        return CrossValidator(
            estimator=tuned,
            estimatorParamMaps=grid,
            evaluator=evaluator,
            numFolds=2,
            seed=1,
            parallelism=parallelism,
        )
    return TrainValidationSplit(
        estimator=tuned,
        estimatorParamMaps=grid,
        evaluator=evaluator,
        trainRatio=0.7,
        seed=1,
        parallelism=parallelism,
    )


def grid_values() -> set[tuple[str, str]]:
    """The (regParam, elasticNetParam) pairs of :func:`tuner`'s grid, as logged strings."""
    return {(r, e) for r in ("0.01", "0.5") for e in ("0.0", "1.0")}
