"""Part 1: what tracking adds to a tuning fit, on the reference workload.

Reference workload (ISSUE 5): 5,000 rows x 10 features, LogisticRegression (pyspark defaults),
3x3 grid over regParam x elasticNetParam, CrossValidator with 3 folds / TrainValidationSplit with
trainRatio 0.75, ``local[2]``, a sqlite MLflow store. The DataFrame is cached before every fit
(plain autolog unpersists it; outside the timing it is cached again).

Variants, all in this one process and interleaved per round:

- ``untracked``: no tracking at all (``reset()`` and pyspark.ml autolog disabled, so mlflow's
  patches are reverted);
- ``legacy``: ``configure(spark, mode="legacy")``;
- ``autolog-defaults`` / ``autolog-lean``: ``configure(spark, mode="autolog")``, with autolog's
  defaults / with ``log_models=False, log_datasets=False``; ``autolog-defaults`` is a *first* fit:
  no model's pip requirements are known yet (``reset()`` forgets them), so both logged models
  (``model``, ``best_model``) are inferred, as in a fresh process;
- ``autolog-repeated``: ``autolog-defaults`` for a fit that is not the process's first: the pip
  requirements the earlier AUTOLOG fits of this run inferred are handed back before the fit
  (outside the timing), as a process that fitted before holds them (ISSUE 12);
- ``plain-defaults`` / ``plain-lean``: ``mlflow.pyspark.ml.autolog()`` with the same two option
  sets, no library.

Per fit: ``wall`` (``tuner.fit(df)``), ``inner`` (time inside the tuner's own ``_fit``, i.e. Spark's
work) and ``outside = wall - inner`` (what tracking added, nearly free of Spark's noise).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import Case, Series, interleave, log

LEAN = {"log_models": False, "log_datasets": False}
FULL_VARIANTS = (
    "untracked",
    "legacy",
    "autolog-defaults",
    "autolog-repeated",
    "autolog-lean",
    "plain-defaults",
    "plain-lean",
)
#: --quick skips the two "defaults" variants: each logs a model, ~11 s of pip inference per fit.
QUICK_VARIANTS = ("untracked", "legacy", "autolog-lean", "plain-lean")
#: ``--models``: what logging models costs, first and repeated fits (ISSUE 12).
MODEL_VARIANTS = ("untracked", "plain-defaults", "autolog-defaults", "autolog-repeated")


@dataclass(frozen=True)
class Workload:
    rows: int
    features: int
    reg_params: tuple[float, ...]
    elastic_net_params: tuple[float, ...]
    folds: int
    max_iter: int

    @property
    def maps(self) -> int:
        return len(self.reg_params) * len(self.elastic_net_params)

    def describe(self) -> str:
        return (
            f"{self.rows:,} rows x {self.features} features, LogisticRegression "
            f"(maxIter {self.max_iter}), {len(self.reg_params)}x{len(self.elastic_net_params)} "
            f"grid, CV {self.folds} folds / TVS trainRatio 0.75, local[2]"
        )


REFERENCE = Workload(5000, 10, (0.01, 0.1, 1.0), (0.0, 0.5, 1.0), 3, 100)
QUICK = Workload(500, 10, (0.01, 1.0), (0.0, 1.0), 2, 10)


def make_data(spark: Any, workload: Workload, seed: int = 7) -> Any:
    """A cached binary-classification DataFrame (features, label), generated deterministically."""
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import functions as F

    frame = spark.range(0, workload.rows, numPartitions=2)
    names = [f"x{i}" for i in range(workload.features)]
    for i, name in enumerate(names):
        frame = frame.withColumn(name, F.randn(seed + i))
    weights = [((i * 37) % 11 - 5) / 3 for i in range(workload.features)]
    score = sum(F.col(n) * w for n, w in zip(names, weights, strict=True))
    frame = frame.withColumn("label", ((score + F.randn(seed + 99)) > 0).cast("double"))
    data = VectorAssembler(inputCols=names, outputCol="features").transform(frame)
    data = data.select("features", "label").cache()
    data.count()
    return data


def tuners(workload: Workload) -> dict[str, Any]:
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder, TrainValidationSplit

    lr = LogisticRegression(maxIter=workload.max_iter)
    grid = (
        ParamGridBuilder()
        .addGrid(lr.regParam, list(workload.reg_params))
        .addGrid(lr.elasticNetParam, list(workload.elastic_net_params))
        .build()
    )
    evaluator = BinaryClassificationEvaluator(metricName="areaUnderROC")
    return {
        "cv": CrossValidator(
            estimator=lr, estimatorParamMaps=grid, evaluator=evaluator,
            numFolds=workload.folds, seed=42,
        ),
        "tvs": TrainValidationSplit(
            estimator=lr, estimatorParamMaps=grid, evaluator=evaluator,
            trainRatio=0.75, seed=42,
        ),
    }  # fmt: skip


class FitTimer:
    """Adds up the time spent in CrossValidator._fit / TrainValidationSplit._fit (Spark's work)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._saved: list[tuple[type, Any]] = []

    def install(self) -> None:
        from pyspark.ml.tuning import CrossValidator, TrainValidationSplit

        for cls in (CrossValidator, TrainValidationSplit):
            original = cls.__dict__["_fit"]
            self._saved.append((cls, original))

            def timed(tuner: Any, dataset: Any, _original: Any = original) -> Any:
                started = time.perf_counter()
                try:
                    return _original(tuner, dataset)
                finally:
                    self.total += time.perf_counter() - started

            setattr(cls, "_fit", timed)  # noqa: B010 - patching a method on purpose

    def uninstall(self) -> None:
        for cls, original in reversed(self._saved):
            setattr(cls, "_fit", original)  # noqa: B010
        self._saved.clear()


class Bench:
    """The Spark session, the store and the data shared by every fit case."""

    def __init__(self, spark: Any, workload: Workload, workdir: Path) -> None:
        import mlflow

        self.spark = spark
        self.workload = workload
        self.data = make_data(spark, workload)
        self.tuners = tuners(workload)
        self.timer = FitTimer()
        self.problems: list[str] = []
        #: pip requirements inferred by AUTOLOG fits, handed back to ``autolog-repeated`` fits
        self.answers: dict[Any, Any] = {}
        self.last_counts: dict[str, int] = {}
        mlflow.set_tracking_uri(f"sqlite:///{workdir / 'fits.db'}")
        experiment = mlflow.create_experiment(
            "bench-fits", artifact_location=(workdir / "fit-artifacts").resolve().as_uri()
        )
        mlflow.set_experiment(experiment_id=experiment)

    def apply(self, variant: str) -> None:
        """Put the process in ``variant``'s state (outside the timing)."""
        import mlflow.pyspark.ml

        import legacy_mllib_tracking as lib

        lib.reset()
        mlflow.pyspark.ml.autolog(disable=True)
        if variant == "legacy":
            lib.configure(self.spark, mode="legacy")
        elif variant in ("autolog-defaults", "autolog-repeated"):
            lib.configure(self.spark, mode="autolog")
            if variant == "autolog-repeated":
                self._restore_answers()
        elif variant == "autolog-lean":
            lib.configure(self.spark, mode="autolog", autolog_options=LEAN)
        elif variant == "plain-defaults":
            mlflow.pyspark.ml.autolog()
        elif variant == "plain-lean":
            mlflow.pyspark.ml.autolog(**LEAN)
        elif variant != "untracked":
            raise ValueError(f"unknown variant {variant!r}")

    def _restore_answers(self) -> None:
        """Give the library back what earlier AUTOLOG fits inferred (``reset()`` forgot it)."""
        from legacy_mllib_tracking import _requirements

        if not self.answers:
            self.problems.append("autolog-repeated ran before any autolog-defaults fit")
        with _requirements._lock:
            _requirements._cache.update(self.answers)

    def _keep_answers(self) -> None:
        """After an AUTOLOG fit with models: keep what was inferred (background work included)."""
        from legacy_mllib_tracking import _requirements

        _requirements.wait_for_background(600)
        with _requirements._lock:
            self.answers.update(_requirements._cache)
            counts = {k: _requirements._counts[k] for k in ("started", "reused", "timed_out")}
        self.last_counts = counts

    def _cached(self) -> None:
        if not self.data.is_cached:
            self.data.cache()
            self.data.count()

    def case(self, tuner_name: str, variant: str) -> Case:
        def run() -> Mapping[str, float]:
            import mlflow

            from legacy_mllib_tracking import TrackingWarning

            self.apply(variant)
            self._cached()
            if mlflow.active_run() is not None:
                raise RuntimeError("a run is active before the fit")
            before = mlflow.last_active_run()
            tuner = self.tuners[tuner_name]
            self.timer.total = 0.0
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", TrackingWarning)
                started = time.perf_counter()
                tuner.fit(self.data)
                wall = time.perf_counter() - started
            inner = self.timer.total
            self._check(f"{tuner_name}/{variant}", variant, before, caught)
            sample = {"wall": wall, "inner": inner, "outside": wall - inner}
            if variant in ("autolog-defaults", "autolog-repeated"):
                self._keep_answers()  # outside the timing
                sample.update({f"inferences_{k}": float(v) for k, v in self.last_counts.items()})
            return sample

        return Case(f"{tuner_name}/{variant}", run, tuner_name)

    def _check(self, name: str, variant: str, before: Any, caught: list[Any]) -> None:
        """Outside the timing: a tracked fit made one parent with one child per map."""
        import mlflow

        from legacy_mllib_tracking import TrackingWarning, inspect_run_layout

        for warning in caught:
            if issubclass(warning.category, TrackingWarning):
                self.problems.append(f"{name}: {warning.message}")
        last = mlflow.last_active_run()
        new = last is not None and (before is None or last.info.run_id != before.info.run_id)
        if variant == "untracked":
            if new:
                self.problems.append(f"{name}: the untracked fit created a run")
            return
        if last is None or not new:
            self.problems.append(f"{name}: no run was created")
            return
        children = len(inspect_run_layout(last.info.run_id).children)
        if children != self.workload.maps:
            self.problems.append(f"{name}: {children} child runs, expected {self.workload.maps}")


def start_spark() -> Any:
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("legacy-mllib-tracking-benchmarks")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def measure(
    *, quick: bool, workdir: Path, reps: int, warmup: int, variants: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """Run the fit cases interleaved; return the series and what was checked."""
    import legacy_mllib_tracking as lib

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("py4j").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    workload = QUICK if quick else REFERENCE
    variants = variants or (QUICK_VARIANTS if quick else FULL_VARIANTS)
    log(f"fits: starting Spark; workload: {workload.describe()}")
    spark = start_spark()
    bench = Bench(spark, workload, workdir)
    bench.timer.install()
    try:
        cases = [bench.case(t, v) for t in ("cv", "tvs") for v in variants]
        log(f"fits: {len(cases)} cases, {warmup} warm-up + {reps} measured rounds")
        series: dict[str, Series] = interleave(cases, reps=reps, warmup=warmup, label="fits")
    finally:
        bench.timer.uninstall()
        lib.reset()
        import mlflow.pyspark.ml

        mlflow.pyspark.ml.autolog(disable=True)
        spark.stop()
    return {
        "workload": workload.describe(),
        "maps": workload.maps,
        "variants": list(variants),
        "series": series,
        "problems": bench.problems,
    }
