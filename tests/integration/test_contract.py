"""The run-layout contract of SPEC 5, in LEGACY and AUTOLOG modes alike, on real parts."""

from __future__ import annotations

import re
from typing import Any

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from legacy_mllib_tracking import configure, inspect_run_layout
from legacy_mllib_tracking.keys import TAG_MODE
from legacy_mllib_tracking.layout import render_tree

from .builders import tuner
from .helpers import LEAN, assert_contract
from .helpers import configure_mode as _configure


@pytest.mark.parametrize("mode", ["legacy", "autolog"])
@pytest.mark.parametrize("kind", ["cv", "tvs"])
@pytest.mark.parametrize("active", [True, False], ids=["active-run", "no-active-run"])
@pytest.mark.parametrize("pipeline", [False, True], ids=["estimator", "pipeline"])
def test_layout_contract(
    spark: Any,
    experiment: str,
    data: Any,
    raw_data: Any,
    mode: str,
    kind: str,
    active: bool,
    pipeline: bool,
) -> None:
    """One parent with the tuner's settings and one FINISHED child per map, in both modes."""
    _configure(spark, mode)
    estimator = tuner(kind, pipeline=pipeline)
    frame = raw_data if pipeline else data
    if active:
        with mlflow.start_run() as run:
            estimator.fit(frame)
            assert mlflow.active_run().info.run_id == run.info.run_id, "user run was ended"
        run_id = run.info.run_id
    else:
        estimator.fit(frame)
        assert mlflow.active_run() is None
        runs = MlflowClient().search_runs(
            [experiment], filter_string=f"tags.`{TAG_MODE}` = '{mode}'"
        )
        assert len(runs) == 1
        run_id = runs[0].info.run_id
        assert runs[0].info.status == "FINISHED"
    assert_contract(run_id, kind=kind, mode=mode)


@pytest.mark.parametrize("mode", ["legacy", "autolog"])
@pytest.mark.parametrize("kind", ["cv", "tvs"])
def test_repeated_fit_in_one_run_keeps_both(
    spark: Any, experiment: str, data: Any, mode: str, kind: str
) -> None:
    """A second fit in one run logs into the same parent with _<uuid> suffixes, losing nothing;
    its children's names say "fit 2", and its winning values are on the parent, suffixed."""
    _configure(spark, mode)
    first = tuner(kind)
    second = tuner(kind)
    if kind == "cv":
        setting, before, after = "numFolds", "2", "3"
        second.setNumFolds(3)
    else:
        setting, before, after = "trainRatio", "0.7", "0.6"
        second.setTrainRatio(0.6)
    with mlflow.start_run() as run:
        first.fit(data)
        second.fit(data)
    layout = assert_contract(run.info.run_id, kind=kind, mode=mode, fits=2)
    params = layout.parent.params
    assert params[setting] == before
    suffixed = {k: v for k, v in params.items() if k.startswith(f"{setting}_")}
    assert list(suffixed.values()) == [after], params
    fit_id = next(iter(suffixed)).split("_", 1)[1]
    assert len(fit_id) == 32
    # every parent param of the second fit carries the same uuid
    for key in ("seed", "estimator", "evaluator", "metricName"):
        assert f"{key}_{fit_id}" in params
    assert f"{TAG_MODE}_{fit_id}" in layout.parent.tags
    assert [c.fit_id for c in layout.children[4:]] == [fit_id] * 4
    indices = sorted(c.map_index for c in layout.children)
    assert indices == sorted([0, 1, 2, 3] * 2)
    # `tree` shows one group per fit, first fit first, each with its own best, params in the
    # grid's order
    lines = render_tree(layout).splitlines()
    headings = [n for n, line in enumerate(lines) if line.startswith("  fit ")]
    assert [lines[n].split(",")[0] for n in headings] == [
        f"  fit 1 of 2: {type(first).__name__}",
        f"  fit 2 of 2: {type(second).__name__}",
    ]
    assert lines[headings[1]].endswith(f"fit id {fit_id[:8]}")
    for start, end in ((headings[0], headings[1]), (headings[1], len(lines) - 1)):
        rows = lines[start + 2 : end]
        assert len(rows) == 4 and rows[0].startswith("  * "), lines
        assert [r for r in rows if r.startswith("  * ")] == [rows[0]]
        assert all(re.search(r"  regParam=[0-9.]+,elasticNetParam=[0-9.]+$", r) for r in rows)
    assert lines[-1] == "  8 child runs; * marks the best of each fit"


def test_autolog_keeps_autologs_own_content(spark: Any, experiment: str, data: Any) -> None:
    """AUTOLOG mode keeps what plain autolog logs: qualified params, artifacts, best_* params."""
    configure(spark, mode="autolog", autolog_options={"log_models": False})
    with mlflow.start_run() as run:
        tuner("cv").fit(data)
    layout = inspect_run_layout(run.info.run_id)
    assert "BinaryClassificationEvaluator.metricName" in layout.parent.params
    assert any(k.startswith("best_LogisticRegression.") for k in layout.parent.params)
    artifacts = {a.path for a in MlflowClient().list_artifacts(run.info.run_id)}
    assert {"estimator_info.json", "search_results.csv", "best_parameters.json"} <= artifacts
    # autolog logs every param of the tuned estimator on each child; ours are among them
    assert all("maxIter" in c.params for c in layout.children)


def test_autolog_repeated_fit_keeps_artifacts(spark: Any, experiment: str, data: Any) -> None:
    """A second autologged fit writes its artifacts under suffixed names instead of overwriting."""
    configure(spark, mode="autolog", autolog_options=LEAN)
    with mlflow.start_run() as run:
        tuner("cv").fit(data)
        tuner("cv").fit(data)
    artifacts = {a.path for a in MlflowClient().list_artifacts(run.info.run_id)}
    files = ("estimator_info.json", "search_results.csv", "best_parameters.json")
    for name in files:  # the second fit's file once suffixed (log_dict goes through log_artifact)
        stem, ext = name.rsplit(".", 1)
        again = [a for a in artifacts if re.fullmatch(rf"{stem}_[0-9a-f]{{32}}\.{ext}", a)]
        assert name in artifacts and len(again) == 1, artifacts
    assert len(artifacts) == 2 * len(files), artifacts


def test_tuner_inside_autologged_pipeline_suffixes_only_the_pipelines_tags(
    spark: Any, experiment: str, raw_data: Any
) -> None:
    """A CrossValidator inside an autologged Pipeline is a first fit: no artifact or child name
    changes; only the two estimator tags autolog wrote for the Pipeline get the suffix."""
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler

    _configure(spark, "autolog")
    assembler = VectorAssembler(inputCols=["x0", "x1", "x2"], outputCol="features")
    with mlflow.start_run() as run:
        Pipeline(stages=[assembler, tuner("cv")]).fit(raw_data)
    parent = MlflowClient().get_run(run.info.run_id).data
    artifacts = {a.path for a in MlflowClient().list_artifacts(run.info.run_id)}
    assert "estimator_info.json" in artifacts, artifacts
    names = [*artifacts, *parent.params, *parent.tags, *parent.metrics]
    suffix = re.compile(r"_[0-9a-f]{32}(?=\.|$)")
    assert sorted(suffix.sub("", n) for n in names if suffix.search(n)) == [
        "estimator_class",
        "estimator_name",
    ]
    assert parent.tags["estimator_name"] == "Pipeline"
    children = inspect_run_layout(run.info.run_id).children
    assert len(children) == 4 and not [c.name for c in children if c.name.startswith("fit ")]


def test_autologged_estimator_fit_before_a_tuner_leaves_its_artifact_names(
    spark: Any, experiment: str, data: Any
) -> None:
    """A plain autologged fit earlier in the run left none of the tuner's files: no suffix."""
    from pyspark.ml.classification import LogisticRegression

    _configure(spark, "autolog")
    with mlflow.start_run() as run:
        LogisticRegression(maxIter=2).fit(data)
        tuner("cv").fit(data)
    artifacts = {a.path for a in MlflowClient().list_artifacts(run.info.run_id)}
    assert artifacts == {"estimator_info.json", "search_results.csv", "best_parameters.json"}
    children = inspect_run_layout(run.info.run_id).children
    assert len(children) == 4 and not [c.name for c in children if c.name.startswith("fit ")]


def test_pipeline_clash_is_qualified(spark: Any, experiment: str, raw_data: Any) -> None:
    """Two stages tuning params of the same name are logged as Stage.name; others stay bare."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.feature import StringIndexer, VectorAssembler
    from pyspark.ml.tuning import ParamGridBuilder, TrainValidationSplit

    configure(spark, mode="legacy")
    assembler = VectorAssembler(inputCols=["x0", "x1", "x2"], outputCol="features")
    indexer = StringIndexer(inputCol="label", outputCol="label_index")
    lr = LogisticRegression(maxIter=3)
    grid = (
        ParamGridBuilder()
        .addGrid(assembler.handleInvalid, ["error", "keep"])
        .addGrid(indexer.handleInvalid, ["error", "keep"])
        .addGrid(lr.regParam, [0.1])
        .build()
    )
    tvs = TrainValidationSplit(
        estimator=Pipeline(stages=[assembler, indexer, lr]),
        estimatorParamMaps=grid,
        evaluator=BinaryClassificationEvaluator(),
        seed=3,
    )
    with mlflow.start_run() as run:
        tvs.fit(raw_data)
    layout = inspect_run_layout(run.info.run_id)
    assert len(layout.children) == 4
    for child in layout.children:
        assert set(child.params) == {
            "VectorAssembler.handleInvalid",
            "StringIndexer.handleInvalid",
            "regParam",
        }


@pytest.mark.parametrize("mode", ["legacy", "autolog"])
def test_nested_tuner_logs_once(spark: Any, experiment: str, data: Any, mode: str) -> None:
    """A tuner tuned by a tuner logs one tree, as the outermost, also with parallelism 2."""
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

    _configure(spark, mode)
    inner = tuner("tvs")
    # pyspark 4.3's TrainValidationSplitModel.copy() asserts subModels is not None, and the
    # outer tuner copies the inner model when it evaluates a param map: collect them.
    inner.setCollectSubModels(True)
    outer = CrossValidator(
        estimator=inner,
        estimatorParamMaps=ParamGridBuilder().addGrid(inner.trainRatio, [0.6, 0.8]).build(),
        evaluator=BinaryClassificationEvaluator(),
        numFolds=2,
        parallelism=2,
    )
    with mlflow.start_run() as run:
        outer.fit(data)
    layout = inspect_run_layout(run.info.run_id)
    assert sorted(c.params["trainRatio"] for c in layout.children) == ["0.6", "0.8"]
    everything = MlflowClient().search_runs([experiment])
    assert len(everything) == 1 + 2, [r.data.tags.get("mlflow.runName") for r in everything]


@pytest.mark.parametrize("mode", ["legacy", "autolog"])
def test_tuner_inside_pipeline_logs_as_outermost(
    spark: Any, experiment: str, raw_data: Any, mode: str
) -> None:
    """A CrossValidator that is a stage of a Pipeline still logs its own contract tree."""
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler

    _configure(spark, mode)
    pipeline = Pipeline(
        stages=[VectorAssembler(inputCols=["x0", "x1", "x2"], outputCol="features"), tuner("cv")]
    )
    with mlflow.start_run() as run:
        pipeline.fit(raw_data)
    assert_contract(run.info.run_id, kind="cv", mode=mode)


@pytest.mark.parametrize("mode", ["legacy", "autolog"])
def test_parallelism_two(spark: Any, experiment: str, data: Any, mode: str) -> None:
    """parallelism=2 logs the same tree as a sequential fit."""
    _configure(spark, mode)
    with mlflow.start_run() as run:
        tuner("cv", parallelism=2).fit(data)
    layout = assert_contract(run.info.run_id, kind="cv", mode=mode)
    assert layout.parent.params["parallelism"] == "2"
