"""The kind of a saved model and the time limit of its pip-requirement inference (ISSUE 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import legacy_mllib_tracking as lib
from legacy_mllib_tracking import _model_kind, _requirements
from legacy_mllib_tracking.errors import InvalidOption
from legacy_mllib_tracking.keys import (
    ENV_MLFLOW_INFERENCE_RAISE_ERRORS,
    ENV_MLFLOW_INFERENCE_TIMEOUT,
    MLFLOW_SPARK_FLAVOR,
    MLMODEL_FILE,
)

CV = "pyspark.ml.tuning.CrossValidatorModel"
LR = "org.apache.spark.ml.classification.LogisticRegressionModel"


def _stage(folder: Path, cls: str, part: str = "part-00000") -> None:
    (folder / "metadata").mkdir(parents=True)
    (folder / "metadata" / part).write_text(json.dumps({"class": cls, "uid": "x"}) + "\n")
    (folder / "metadata" / "_SUCCESS").write_text("")


def _saved_model(root: Path, *nested: str, top: str = CV) -> Path:
    """An MLflow Spark model directory as ``mlflow.spark`` saves it, before its env files."""
    root.mkdir(parents=True)
    (root / MLMODEL_FILE).write_text("flavors: {}\n")
    _stage(root / "sparkml", top, "part-00000-0b1c-c000.txt")  # Spark 4's file name
    for i, cls in enumerate(nested):
        _stage(root / "sparkml" / f"stage{i}", cls)  # Spark 3.5's file name
    return root


def test_kind_names_every_stage_class(tmp_path: Path) -> None:
    """The kind lists the classes of the model and of every nested stage from Spark's metadata."""
    kind = _model_kind.model_kind(_saved_model(tmp_path / "m", LR), MLFLOW_SPARK_FLAVOR)
    assert kind is not None
    assert kind.stage_classes == {CV, LR}
    assert kind.entries == {MLMODEL_FILE, "sparkml"}
    assert kind.describe() == "CrossValidatorModel, LogisticRegressionModel"


def test_same_stages_same_kind_new_stage_new_kind(tmp_path: Path) -> None:
    """Two models of the same classes are one kind; a stage from another module makes another."""
    first = _model_kind.model_kind(_saved_model(tmp_path / "a", LR), MLFLOW_SPARK_FLAVOR)
    again = _model_kind.model_kind(_saved_model(tmp_path / "b", LR), MLFLOW_SPARK_FLAVOR)
    custom = _model_kind.model_kind(
        _saved_model(tmp_path / "c", LR, "my_package.stages.CopyColumn"), MLFLOW_SPARK_FLAVOR
    )
    assert first == again
    assert custom is not None and custom != first


def test_file_uri_is_read_like_a_path(tmp_path: Path) -> None:
    """A ``file://`` URI names the same local model directory as its path."""
    path = _saved_model(tmp_path / "m", LR)
    assert _model_kind.model_kind(path.as_uri(), MLFLOW_SPARK_FLAVOR) == (
        _model_kind.model_kind(str(path), MLFLOW_SPARK_FLAVOR)
    )


@pytest.mark.parametrize(
    "case",
    ["other-flavor", "remote-uri", "bundled-code", "no-mlmodel", "no-metadata", "bad-metadata"],
)
def test_models_that_are_always_inferred(tmp_path: Path, case: str) -> None:
    """Models whose imports the kind cannot pin down get no kind (mlflow infers them as usual)."""
    path = _saved_model(tmp_path / "m", LR)
    uri: str = str(path)
    flavor = MLFLOW_SPARK_FLAVOR
    if case == "other-flavor":
        flavor = "sklearn"
    elif case == "remote-uri":
        uri = "dbfs:/databricks/mlflow/tmp/model"
    elif case == "bundled-code":
        (path / "code").mkdir()
    elif case == "no-mlmodel":
        (path / MLMODEL_FILE).unlink()
    elif case == "no-metadata":
        for part in path.rglob("part-*"):
            part.unlink()
    else:
        next(path.rglob("part-*")).write_text("{not json\n")
    assert _model_kind.model_kind(uri, flavor) is None


def test_time_limit_default_and_users_mlflow_settings_win() -> None:
    """The limit is 30 s by default and lifted when the user set mlflow's own inference settings."""
    assert _requirements.time_limit({}) == _requirements.DEFAULT_TIMEOUT == 30.0
    assert _requirements.time_limit({ENV_MLFLOW_INFERENCE_TIMEOUT: "300"}) is None
    assert _requirements.time_limit({ENV_MLFLOW_INFERENCE_RAISE_ERRORS: "true"}) is None


@pytest.mark.parametrize("value", [0, -1.5, "30", True, float("inf"), float("nan"), 1e12])
def test_bad_model_env_timeout_is_rejected(value: object) -> None:
    """configure(model_env_timeout=...) names the bad value and what is accepted."""
    with pytest.raises(InvalidOption, match=r"model_env_timeout=.*greater than 0.*got"):
        lib.configure(None, mode="off", model_env_timeout=value)  # type: ignore[arg-type]


def test_configure_sets_and_reset_restores_the_limit() -> None:
    """configure() sets the limit (None lifts it); reset() restores the default."""
    lib.configure(None, mode="off", model_env_timeout=5)
    assert _requirements.time_limit({}) == 5.0
    lib.configure(None, mode="off", model_env_timeout=None)
    assert _requirements.time_limit({}) is None
    lib.reset()
    assert _requirements.time_limit({}) == _requirements.DEFAULT_TIMEOUT
