"""configure() / reset() lifecycle, failures, OFF mode and the user's DataFrame, on real parts."""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from legacy_mllib_tracking import (
    InvalidAutologOption,
    Mode,
    TrackingWarning,
    configure,
    inspect_run_layout,
    is_configured,
    reset,
)
from legacy_mllib_tracking._compat import autolog_config

from .builders import tuner


class _Boom(RuntimeError):
    pass


def _failing_tuner(kind: str = "cv") -> Any:
    """A real tuner whose evaluator raises during the fit (a failure of the user's own fit)."""
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    class FailingEvaluator(BinaryClassificationEvaluator):
        def _evaluate(self, dataset: Any) -> float:
            raise _Boom("evaluator exploded")

    estimator = tuner(kind)
    estimator.setEvaluator(FailingEvaluator())
    return estimator


@pytest.mark.parametrize("mode", ["legacy", "autolog"])
def test_failed_fit_ends_managed_run_failed(
    spark: Any, experiment: str, data: Any, mode: str
) -> None:
    """A fit that raises ends the run the library created FAILED and re-raises the same error."""
    configure(
        spark, mode=mode, autolog_options={"log_models": False} if mode == "autolog" else None
    )
    with pytest.raises(_Boom, match="evaluator exploded"):
        _failing_tuner().fit(data)
    assert mlflow.active_run() is None
    runs = MlflowClient().search_runs([experiment])
    assert [r.info.status for r in runs] == ["FAILED"]


@pytest.mark.parametrize("mode", ["legacy", "autolog"])
def test_failed_fit_leaves_user_run_alone(
    spark: Any, experiment: str, data: Any, mode: str
) -> None:
    """A fit that raises inside the user's run leaves that run active and unended."""
    configure(
        spark, mode=mode, autolog_options={"log_models": False} if mode == "autolog" else None
    )
    with mlflow.start_run() as run:
        with pytest.raises(_Boom):
            _failing_tuner("tvs").fit(data)
        assert mlflow.active_run().info.run_id == run.info.run_id
        assert MlflowClient().get_run(run.info.run_id).info.status == "RUNNING"
    assert MlflowClient().get_run(run.info.run_id).info.status == "FINISHED"


def test_off_logs_nothing(spark: Any, experiment: str, data: Any) -> None:
    """OFF mode logs no run and installs no patch."""
    from pyspark.ml.tuning import CrossValidator

    decision = configure(spark, mode="off")
    assert decision.mode is Mode.OFF
    assert "fit" not in CrossValidator.__dict__
    tuner("cv").fit(data)
    assert MlflowClient().search_runs([experiment]) == []


def test_switching_modes_never_double_logs(spark: Any, experiment: str, data: Any) -> None:
    """Repeated configure() calls across modes leave exactly one tracker live."""
    for mode in ("legacy", "autolog", "legacy", "autolog", "autolog"):
        configure(spark, mode=mode, autolog_options={"log_models": False, "log_datasets": False})
    with mlflow.start_run() as run:
        tuner("cv").fit(data)
    layout = inspect_run_layout(run.info.run_id)
    assert len(layout.children) == 4
    assert len(MlflowClient().search_runs([experiment])) == 5
    configure(spark, mode="legacy")
    configure(spark, mode="legacy")
    with mlflow.start_run() as second:
        tuner("cv").fit(data)
    assert len(inspect_run_layout(second.info.run_id).children) == 4
    assert autolog_config() is None, "LEGACY must turn pyspark.ml autologging off"


def test_reset_restores_the_process(spark: Any, experiment: str, data: Any) -> None:
    """reset() removes the patches, ends our autologging and restores the user's own autolog."""
    from pyspark.ml.base import Estimator
    from pyspark.ml.tuning import CrossValidator, TrainValidationSplit

    mlflow.pyspark.ml.autolog(log_models=False, log_datasets=False, exclusive=True, silent=True)
    user_config = autolog_config()
    pyspark_fit = inspect.unwrap(Estimator.fit)
    assert Estimator.fit is not pyspark_fit, "the user's autolog wraps the base Estimator.fit"
    configure(spark, mode="legacy")
    assert is_configured()
    assert "fit" in CrossValidator.__dict__ and "fit" in TrainValidationSplit.__dict__
    assert autolog_config() is None
    reset()
    assert not is_configured()
    assert "fit" not in CrossValidator.__dict__ and "fit" not in TrainValidationSplit.__dict__
    assert CrossValidator.fit is Estimator.fit
    assert autolog_config() == user_config
    # LEGACY turned the user's autolog off, which reverts mlflow's patch (mlflow 2.17, 3.17);
    # turned back on, mlflow wraps the same pyspark function again.
    assert Estimator.fit is not pyspark_fit and inspect.unwrap(Estimator.fit) is pyspark_fit
    reset()  # a second reset is a no-op
    assert autolog_config() == user_config
    mlflow.pyspark.ml.autolog(disable=True)


def test_off_leaves_users_autolog_alone(spark: Any, experiment: str) -> None:
    """OFF mode does not turn off an autolog call the user made before configure()."""
    mlflow.pyspark.ml.autolog(log_models=False, silent=True)
    try:
        configure(spark, mode="off")
        assert autolog_config() is not None
    finally:
        mlflow.pyspark.ml.autolog(disable=True)


def test_autolog_keeps_users_cache(spark: Any, experiment: str, data: Any) -> None:
    """A DataFrame the user cached stays cached after an AUTOLOG fit (plain autolog drops it)."""
    frame = data.select("*")
    frame.cache()
    frame.count()
    # plain autolog, for contrast: the cache is dropped
    mlflow.pyspark.ml.autolog(log_models=False, log_datasets=False, silent=True)
    with mlflow.start_run():
        tuner("tvs").fit(frame)
    assert not frame.is_cached, "plain autolog no longer unpersists: the fix may be obsolete"
    mlflow.pyspark.ml.autolog(disable=True)
    frame.cache()
    frame.count()
    configure(spark, mode="autolog", autolog_options={"log_models": False, "log_datasets": False})
    with mlflow.start_run():
        tuner("tvs").fit(frame)
    assert frame.is_cached
    assert "unpersist" not in vars(frame), "the instance-level shadow must be removed"
    frame.unpersist()


@pytest.mark.parametrize("mode", ["legacy", "autolog"])
def test_logging_failure_warns_and_returns_model(
    spark: Any, experiment: str, data: Any, mode: str
) -> None:
    """When the parent run cannot be written (deleted), the fit returns its model, one warning."""
    from pyspark.ml.tuning import CrossValidatorModel

    configure(
        spark, mode=mode, autolog_options={"log_models": False} if mode == "autolog" else None
    )
    client = MlflowClient()
    with mlflow.start_run() as run:
        client.delete_run(run.info.run_id)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = tuner("cv").fit(data)
        client.restore_run(run.info.run_id)
    assert isinstance(model, CrossValidatorModel)
    ours = [w for w in caught if issubclass(w.category, TrackingWarning)]
    assert len(ours) == 1, [str(w.message) for w in caught]
    assert run.info.run_id in str(ours[0].message)


def test_bad_autolog_option_is_rejected(spark: Any) -> None:
    """An autolog option mlflow does not have is an error naming it, in every mode."""
    with pytest.raises(InvalidAutologOption, match="log_modelz"):
        configure(spark, mode="legacy", autolog_options={"log_modelz": False})
    assert not is_configured()


def test_routed_by_spark_conf(spark: Any, experiment: str, data: Any) -> None:
    """The Spark conf flags route: trackMLlib=true with autologging=false gives LEGACY."""
    spark.conf.set("spark.databricks.mlflow.trackMLlib.enabled", "TRUE ")
    spark.conf.set("spark.databricks.mlflow.autologging.enabled", "false")
    try:
        with pytest.warns(FutureWarning, match="legacy run layout is provided"):
            decision = configure(spark)
        assert decision.mode is Mode.LEGACY
        assert decision.track.source.value == "conf"
    finally:
        spark.conf.unset("spark.databricks.mlflow.trackMLlib.enabled")
        spark.conf.unset("spark.databricks.mlflow.autologging.enabled")
