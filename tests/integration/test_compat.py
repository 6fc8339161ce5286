"""Version-sensitive behaviour on real parts, asserted alike on every tested combination."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from legacy_mllib_tracking import _compat, _compat_tuning, configure, reset

from .helpers import wait_until


class _Boom(RuntimeError):
    pass


def _failing_cv(fits: list[float]) -> Any:
    """A CrossValidator over 4 maps whose evaluator fails on the first map; ``fits`` records."""
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

    class CountingLogisticRegression(LogisticRegression):
        def _fit(self, dataset: Any) -> Any:
            fits.append(self.getRegParam())
            return super()._fit(dataset)

    class FailingEvaluator(BinaryClassificationEvaluator):
        def _evaluate(self, dataset: Any) -> float:
            raise _Boom("evaluator exploded")

    lr = CountingLogisticRegression(maxIter=3)
    return CrossValidator(
        estimator=lr,
        estimatorParamMaps=ParamGridBuilder().addGrid(lr.regParam, [0.01, 0.1, 0.5, 1.0]).build(),
        evaluator=FailingEvaluator(),
        numFolds=2,
        parallelism=1,
    )


def _count_ended_tasks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record each tuning task that ends (fitted, failed or abandoned) after the fit guard."""
    ended: list[int] = []
    guard = _compat_tuning.guard_tasks

    def counted(task: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            try:
                return task()
            finally:
                ended.append(1)

        return run

    monkeypatch.setattr(
        _compat_tuning, "guard_tasks", lambda tasks: [counted(task) for task in guard(tasks)]
    )
    return ended


@pytest.mark.parametrize("mode", ["legacy", "autolog"])
@pytest.mark.parametrize("active", [True, False], ids=["active-run", "no-active-run"])
def test_failed_fit_fits_no_further_param_map(
    spark: Any,
    experiment: str,
    data: Any,
    mode: str,
    active: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once a param map fails, no other map is fitted afterwards, so nothing logs a stray run.

    pyspark's tuning pool would go on fitting the other maps after the fit raised; under autolog
    each such late fit logged a top-level run, and with mlflow < 2.18 (one active run for the
    whole process) that run became the user's active run, or the late fit wrote its map's
    params into the user's run.
    """
    configure(spark, mode=mode, autolog_options={"log_models": False, "log_datasets": False})
    fits: list[float] = []
    cv = _failing_cv(fits)
    ended = _count_ended_tasks(monkeypatch)
    # pyspark's pool takes every task of the round, even after the fit raised: wait until all
    # 4 have ended (fitted or abandoned); unguarded, the next map starts within milliseconds.
    if active:
        with mlflow.start_run() as run:
            with pytest.raises(_Boom):
                cv.fit(data)
            wait_until(lambda: len(ended) == 4, 3)
            assert mlflow.active_run().info.run_id == run.info.run_id
    else:
        with pytest.raises(_Boom):
            cv.fit(data)
        wait_until(lambda: len(ended) == 4, 3)
        assert mlflow.active_run() is None
    assert fits == [0.01], "maps fitted after the failure"
    runs = MlflowClient().search_runs([experiment])
    assert len(runs) == 1, [r.data.tags.get("mlflow.runName") for r in runs]
    assert runs[0].info.status == ("FINISHED" if active else "FAILED")
    assert "regParam" not in runs[0].data.params, "a map's fit logged into the parent"


def test_fit_guard_comes_and_goes_with_the_tracker(spark: Any) -> None:
    """The guard of pyspark's per-map tasks is installed by LEGACY/AUTOLOG, removed by OFF/reset."""
    import pyspark.ml.tuning as tuning

    original = tuning._parallelFitTasks
    configure(spark, mode="legacy")
    assert tuning._parallelFitTasks is not original
    assert tuning._parallelFitTasks.__wrapped__ is original
    configure(spark, mode="off")
    assert tuning._parallelFitTasks is original
    configure(spark, mode="autolog", autolog_options={"log_models": False})
    assert tuning._parallelFitTasks.__wrapped__ is original
    reset()
    assert tuning._parallelFitTasks is original


def test_installed_versions_are_supported_and_read_from_the_modules() -> None:
    """The versions this combination runs pass the check and are read from the imported modules."""
    import pyspark

    _compat.check_versions()
    assert _compat.installed_version("pyspark") == (
        pyspark.__version__,
        pyspark.__file__.rsplit("/", 1)[0],
    )
    found = _compat.installed_version("mlflow")
    assert found is not None and found[0] == mlflow.__version__


def test_active_run_sharing_across_threads_matches_the_mlflow_version(experiment: str) -> None:
    """A run started in one thread is every thread's active run before mlflow 2.18, not after."""
    import threading

    from packaging.version import Version

    seen: list[Any] = []
    with mlflow.start_run() as run:
        thread = threading.Thread(target=lambda: seen.append(mlflow.active_run()))
        thread.start()
        thread.join()
    shared = seen[0] is not None and seen[0].info.run_id == run.info.run_id
    assert _compat.active_run_is_thread_local() is not shared
    assert shared is (Version(mlflow.__version__).release < (2, 18))
