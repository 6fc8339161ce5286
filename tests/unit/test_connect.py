"""Spark Connect without a Spark Connect server: detection, the allowlist, autolog's options."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from legacy_mllib_tracking import _autolog, _connect
from legacy_mllib_tracking._connect import CONF_LOG_MODEL_ALLOWLIST_FILE
from legacy_mllib_tracking.errors import TrackingNotice, TrackingWarning

LR_MODEL = "pyspark.ml.classification.LogisticRegressionModel"


class _Conf:
    def __init__(self, values: Mapping[str, str], refuse: bool) -> None:
        self._values = dict(values)
        self._refuse = refuse

    def get(self, key: str, default: str | None = None) -> str | None:
        if self._refuse:
            raise RuntimeError(f"[CONFIG_NOT_AVAILABLE] {key}")
        return self._values.get(key, default)


class SparkSession:
    """Looks like pyspark's Connect session to the library: its class module and ``.conf``."""

    def __init__(self, values: Mapping[str, str] | None = None, *, refuse: bool = False) -> None:
        self.conf = _Conf(values or {}, refuse)

    @property
    def sparkContext(self) -> Any:
        raise AssertionError("the library touched sparkContext on a Connect session")


SparkSession.__module__ = "pyspark.sql.connect.session"


class ClassicSession:
    conf = _Conf({}, refuse=False)


def test_connect_session_is_told_by_its_class_module() -> None:
    """A session from pyspark.sql.connect is Connect; a classic one, None or others are not."""
    assert _connect.is_connect_session(SparkSession())
    assert not _connect.is_connect_session(ClassicSession())
    assert not _connect.is_connect_session(None)
    assert not _connect.is_connect_session(object())


def test_packaged_allowlist_is_read_without_a_session() -> None:
    """Without a session, the allowlist is mlflow's packaged file: class names, no comments."""
    allowlist = _connect.log_model_allowlist(None)
    assert LR_MODEL in allowlist
    assert allowlist == sorted(allowlist)
    assert not [line for line in allowlist if not line or line.startswith("#")]


def test_custom_allowlist_file_is_read_through_spark_conf(tmp_path: Path) -> None:
    """The allowlist file named by mlflow's Spark conf key is read through spark.conf."""
    path = tmp_path / "allow.txt"
    path.write_text("# mine\npyspark.ml.regression.LinearRegressionModel\n\n", encoding="utf-8")
    session = SparkSession({CONF_LOG_MODEL_ALLOWLIST_FILE: str(path)})
    assert _connect.log_model_allowlist(session) == ["pyspark.ml.regression.LinearRegressionModel"]


def test_unreadable_custom_allowlist_falls_back_to_the_packaged_one(tmp_path: Path) -> None:
    """A custom allowlist file that cannot be read gives mlflow's packaged list and a notice."""
    missing = tmp_path / "absent.txt"
    session = SparkSession({CONF_LOG_MODEL_ALLOWLIST_FILE: str(missing)})
    with pytest.warns(TrackingNotice) as caught:
        allowlist = _connect.log_model_allowlist(session)
    assert LR_MODEL in allowlist
    assert [type(w.message) for w in caught] == [TrackingNotice]
    message = str(caught[0].message)
    assert f"{CONF_LOG_MODEL_ALLOWLIST_FILE}={str(missing)!r}" in message
    assert "mlflow's packaged model allowlist" in message
    assert not issubclass(TrackingNotice, TrackingWarning)


def test_refused_conf_counts_as_unset() -> None:
    """A Connect server that refuses the allowlist key gives mlflow's packaged list."""
    assert _connect.log_model_allowlist(SparkSession(refuse=True)) == (
        _connect.log_model_allowlist(None)
    )


def _options(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, Any], *, jvm: bool
) -> tuple[dict[str, Any], list[warnings.WarningMessage]]:
    monkeypatch.setattr(_connect, "client_has_jvm", lambda: jvm)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        supplied = _autolog._connect_options(kwargs, SparkSession())
    return supplied, caught


def test_connect_client_without_jvm_gets_allowlist_and_no_models_with_one_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No JVM in the client: the allowlist is supplied, models are off, one warning says so."""
    supplied, caught = _options(monkeypatch, {"exclusive": False}, jvm=False)
    assert LR_MODEL in supplied["log_model_allowlist"]
    assert supplied["log_models"] is False
    assert [type(w.message) for w in caught] == [TrackingNotice]
    assert "models are not logged on this Spark Connect session" in str(caught[0].message)


def test_local_connect_session_keeps_model_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a JVM in this process (remote("local[2]")) models stay on and nothing warns."""
    supplied, caught = _options(monkeypatch, {}, jvm=True)
    assert "log_models" not in supplied
    assert LR_MODEL in supplied["log_model_allowlist"]
    assert caught == []


def test_users_own_choices_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit allowlist is not replaced; log_models=False needs no warning."""
    supplied, caught = _options(
        monkeypatch, {"log_models": False, "log_model_allowlist": ["my.Model"]}, jvm=False
    )
    assert supplied == {}
    assert caught == []


def test_enable_autolog_on_connect_never_reads_spark_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """enable_autolog hands autolog the allowlist instead of letting it read sparkContext."""
    import mlflow.pyspark.ml

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(mlflow.pyspark.ml, "autolog", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setattr(_connect, "client_has_jvm", lambda: True)
    _autolog.enable_autolog({"log_models": False}, spark=SparkSession())
    assert len(calls) == 1
    assert calls[0]["exclusive"] is False
    assert calls[0]["log_models"] is False
    assert LR_MODEL in calls[0]["log_model_allowlist"]


def test_enable_autolog_on_classic_session_passes_options_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A classic session (pyspark not in Connect mode) gets exactly the user's options."""
    import mlflow.pyspark.ml

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(mlflow.pyspark.ml, "autolog", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setattr(_connect, "remote_mode", lambda: False)
    _autolog.enable_autolog({"log_models": False}, spark=ClassicSession())
    assert calls == [{"exclusive": False, "silent": False, "log_models": False}]
