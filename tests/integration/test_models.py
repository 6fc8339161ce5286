"""AUTOLOG mode logs the models plain autolog logs, inferring pip requirements once per kind.

Each pip-requirement inference starts a Python process with a Spark session of its own (11 s on 2
idle cores, minutes on a loaded one), so these tests are few and do several things each. Inference
is counted at its source: a pass-through spy on mlflow's ``_run_command`` records every launch of
mlflow's ``_capture_modules.py`` process.

What differs between two plain autolog logs of the same fit, found by comparing two of them
(mlflow 2.17.2): in ``MLmodel`` the run id, creation time and model uuid (and in mlflow 3 the
model id of its LoggedModel); ``requirements.txt``, ``conda.yaml`` and ``python_env.yaml`` are
equal byte for byte.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import legacy_mllib_tracking as lib
from legacy_mllib_tracking import TrackingWarning, _requirements

from .builders import tuner
from .model_stages import ENV_LOAD_DELAY, CopyColumn

# slow: each model log starts mlflow's requirement-inference subprocess (a second Spark)
pytestmark = [pytest.mark.spark_mode("local"), pytest.mark.slow]

ENV_FILES = ("requirements.txt", "conda.yaml", "python_env.yaml")
#: MLmodel fields that differ between two plain autolog logs of the same fit.
VOLATILE = {"run_id", "utc_time_created", "model_uuid", "model_id"}
MODELS = ("model", "best_model")


@pytest.fixture
def captures(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every launch of mlflow's module-capture process, recorded by a pass-through spy."""
    from mlflow import environment_variables
    from mlflow.utils import requirements_utils

    launched: list[str] = []
    original = requirements_utils._run_command

    def _run_command(cmd: Any, *args: Any, **kwargs: Any) -> Any:
        if any(str(part).endswith("_capture_modules.py") for part in cmd):
            launched.append(str(cmd[cmd.index("--model-path") + 1]))
        return original(cmd, *args, **kwargs)

    monkeypatch.setattr(requirements_utils, "_run_command", _run_command)
    # mlflow kills a capture after MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT (default 120 s) and logs
    # its fallback; on a loaded 2-core machine one capture can take longer. The default (not the
    # variable, which would lift this library's own limit as a user's setting) is raised here.
    setting = environment_variables.MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT
    monkeypatch.setattr(setting, "default", 900)
    yield launched
    _requirements.wait_for_background(300)  # nothing of this test runs on into the next


def _fit(estimator: Any, data: Any) -> str:
    """Fit and return the run autolog logged into."""
    import mlflow

    estimator.fit(data)
    run = mlflow.last_active_run()
    assert run is not None
    return str(run.info.run_id)


def _model_files(run_id: str, name: str) -> dict[str, Any]:
    """The environment files of one logged model and its MLmodel without the volatile fields."""
    import mlflow

    path = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=name))
    files: dict[str, Any] = {f: (path / f).read_text() for f in ENV_FILES}
    mlmodel = yaml.safe_load((path / "MLmodel").read_text())
    files["MLmodel"] = {k: v for k, v in mlmodel.items() if k not in VOLATILE}
    assert "spark" in mlmodel["flavors"] and "python_function" in mlmodel["flavors"]
    return files


def _copying_tuner() -> Any:
    """A TrainValidationSplit over a Pipeline whose first stage is a class from a test module."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.tuning import ParamGridBuilder, TrainValidationSplit

    lr = LogisticRegression(maxIter=5, featuresCol="copied")
    pipeline = Pipeline(stages=[CopyColumn(inputCol="features", outputCol="copied"), lr])
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.01, 0.5]).build()
    return TrainValidationSplit(
        estimator=pipeline,
        estimatorParamMaps=grid,
        evaluator=BinaryClassificationEvaluator(),
        trainRatio=0.7,
        seed=1,
    )


def test_same_model_as_plain_autolog_inferred_once_per_kind(
    spark: Any,
    experiment: str,
    data: Any,
    captures: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Plain autolog's model files, one inference per kind, a new kind inferred, a bounded wait."""
    import mlflow
    import mlflow.pyspark.ml
    import mlflow.spark
    from mlflow.utils import requirements_utils

    mlflows_own = requirements_utils._capture_imported_modules

    mlflow.pyspark.ml.autolog()
    plain = _fit(tuner("tvs"), data)
    mlflow.pyspark.ml.autolog(disable=True)
    assert len(captures) == 2  # plain autolog: model and best_model

    # generous limit: on a loaded machine one inference can take minutes
    lib.configure(spark, mode="autolog", model_env_timeout=900)
    first = _fit(tuner("tvs"), data)
    assert len(captures) == 4
    repeated = _fit(tuner("tvs"), data)
    assert len(captures) == 4, "the second fit's models were inferred again"
    assert _requirements.counts()["reused"] == 2
    for name in MODELS:
        expected = _model_files(plain, name)
        assert _model_files(first, name) == expected
        assert _model_files(repeated, name) == expected
    loaded = mlflow.spark.load_model(f"runs:/{repeated}/model")
    assert loaded.transform(data).count() == data.count()
    assert mlflow.pyfunc.load_model(f"runs:/{repeated}/best_model") is not None

    # another kind of model (a stage from a test module), whose loading sleeps: past the limit
    # the fit goes on with mlflow's fallback, and the inference finishes in the background
    monkeypatch.setenv(ENV_LOAD_DELAY, "20")
    lib.configure(spark, mode="autolog", model_env_timeout=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        slow = _fit(_copying_tuner(), data)
    ours = [w for w in caught if issubclass(w.category, TrackingWarning)]
    assert len(ours) == 1, [str(w.message) for w in ours]
    assert "model_env_timeout" in str(ours[0].message)
    fallback = set(mlflow.spark.get_default_pip_requirements())
    for name in MODELS:
        logged = set(_model_files(slow, name)["requirements.txt"].split())
        assert {r for r in logged if not r.startswith("mlflow")} == fallback
    assert _requirements.wait_for_background(300)
    assert len(captures) == 6, "the new kind was not inferred (model and best_model)"
    assert _requirements.counts()["timed_out"] == 2

    later = _fit(_copying_tuner(), data)
    assert len(captures) == 6, "the background answer was not reused"
    inferred = _model_files(later, "best_model")["requirements.txt"]
    assert inferred == _model_files(plain, "best_model")["requirements.txt"]

    lib.reset()
    assert requirements_utils._capture_imported_modules is mlflows_own


def test_log_models_false_is_left_alone(
    spark: Any, experiment: str, data: Any, captures: list[str]
) -> None:
    """With autolog_options={"log_models": False} nothing is inferred, logged or patched."""
    from mlflow.tracking import MlflowClient
    from mlflow.utils import requirements_utils

    mlflows_own = requirements_utils._capture_imported_modules
    lib.configure(spark, mode="autolog", autolog_options={"log_models": False})
    assert requirements_utils._capture_imported_modules is mlflows_own
    run_id = _fit(tuner("tvs"), data)
    names = {a.path for a in MlflowClient().list_artifacts(run_id)}
    assert not names & set(MODELS)
    assert captures == []
