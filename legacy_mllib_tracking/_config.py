"""``configure(spark)``, ``is_configured()``, ``reset()``: the state ``configure()`` installs.

Held here: the decision in force, the patches and the user's own autolog settings. Held next to
the code that uses it: ``_tracker.settings`` (the tracking timeout; ``reset()`` renews it), the
tracker's nesting state (per thread and per tuner uid), the fits ``autolog``'s client fixes are
working on, and ``simulate``'s owner of a simulated runtime.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from legacy_mllib_tracking import _compat
from legacy_mllib_tracking._patching import PatchSet
from legacy_mllib_tracking.errors import (
    InvalidOption,
    InvalidRuntimeVersion,
    NotASparkSession,
    RuntimeVersionWarning,
)
from legacy_mllib_tracking.keys import (
    CONF_AUTOLOG,
    CONF_SPARK_VERSION,
    CONF_TRACK,
    ENV_ML_PYTHONPATH,
    ENV_RUNTIME_VERSION,
)
from legacy_mllib_tracking.routing import Decision, Mode, decide
from legacy_mllib_tracking.runtime import RuntimeVersion, parse_runtime_version

__all__ = [
    "RuntimeInputs",
    "configure",
    "current_decision",
    "is_configured",
    "read_inputs",
    "reset",
]

_logger = logging.getLogger("legacy_mllib_tracking")

_UNSET = object()

#: The longest ``tracking_timeout`` accepted, in seconds (one day): longer is no deadline at all,
#: which ``None`` says.
MAX_TRACKING_TIMEOUT = 86400.0


@dataclass
class _State:
    patches: PatchSet = field(default_factory=PatchSet)
    decision: Decision | None = None
    autolog_by_us: bool = False
    # The user's own pyspark.ml autolog config before our first configure(), restored by reset().
    user_autolog: dict[str, Any] | object | None = _UNSET


_state = _State()
_lock = threading.RLock()


@dataclass(frozen=True)
class RuntimeInputs:
    """The router's inputs as read from the argument, the environment and the Spark conf."""

    runtime: RuntimeVersion | None
    runtime_source: str | None
    databricks: bool
    ml: bool | None
    track: str | None
    autolog: str | None
    unreadable: str | None = None  # an environment/conf runtime string that could not be parsed


def _conf(spark: Any, key: str) -> str | None:
    """Read a Spark conf key; a key the session refuses (Spark Connect) counts as unset."""
    if spark is None:
        return None
    try:
        value = spark.conf.get(key, None)
    except Exception as error:
        _logger.debug("Spark conf %r could not be read, counted as unset: %s", key, error)
        return None
    return None if value is None else str(value)


def read_inputs(
    spark: Any,
    *,
    runtime_version: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> RuntimeInputs:
    """Read SPEC 2's inputs: runtime version, ML or standard, and the two flags.

    Args:
        spark: a SparkSession (classic or Connect), or ``None`` to read no conf.
        runtime_version: a version the user passed; it wins over every other source.
        environ: the environment (default ``os.environ``).

    Raises:
        InvalidRuntimeVersion: ``runtime_version`` cannot be parsed.
    """
    env = os.environ if environ is None else environ
    spark_version = _conf(spark, CONF_SPARK_VERSION)
    runtime: RuntimeVersion | None = None
    source: str | None = None
    unreadable: str | None = None
    databricks = False

    if runtime_version is not None:
        source = "argument runtime_version"
        runtime = parse_runtime_version(runtime_version, source=source)
        databricks = True
    else:
        for text, where in (
            (env.get(ENV_RUNTIME_VERSION), f"env {ENV_RUNTIME_VERSION}"),
            (spark_version, f"Spark conf {CONF_SPARK_VERSION}"),
        ):
            if text is None or not text.strip():
                continue
            databricks = True
            source = where
            try:
                runtime = parse_runtime_version(text, source=where)
            except InvalidRuntimeVersion:
                unreadable = f"{where}={text!r}"
                runtime = None
            break

    ml: bool | None = None
    if runtime is not None and source == "argument runtime_version" and runtime.ml is not None:
        ml = runtime.ml
    else:
        signals: list[bool | None] = []
        if env.get(ENV_ML_PYTHONPATH):
            signals.append(True)
        if runtime is not None and runtime.ml is not None:
            signals.append(runtime.ml)
        if spark_version:
            # A readable sparkVersion says ML or standard; an unreadable one only counts when it
            # says "-ml-", so that ML and the routing of an unknown runtime agree (counts as ML).
            try:
                signals.append(parse_runtime_version(spark_version).ml)
            except InvalidRuntimeVersion:
                if "-ml-" in spark_version.lower():
                    signals.append(True)
        if True in signals:
            ml = True
        elif False in signals:
            ml = False
    return RuntimeInputs(
        runtime=runtime,
        runtime_source=source,
        databricks=databricks,
        ml=ml,
        track=_conf(spark, CONF_TRACK),
        autolog=_conf(spark, CONF_AUTOLOG),
        unreadable=unreadable,
    )


def configure(
    spark: Any,
    *,
    runtime_version: str | None = None,
    mode: Mode | str | None = None,
    autolog_options: Mapping[str, Any] | None = None,
    tracking_timeout: float | None = 30.0,
    model_env_timeout: float | None = 30.0,
) -> Decision:
    """Route between legacy nested tracking and mlflow autolog, and apply the chosen mode.

    Repeatable: a second call re-routes without double patching or double logging.

    Args:
        spark: the SparkSession (classic or Spark Connect) whose conf holds the flags; ``None``
            reads no conf.
        runtime_version: a Databricks runtime version that overrides the environment, e.g.
            ``"10.4 LTS ML"``, ``"15.4"``, ``"13.3.x-scala2.12"``.
        mode: force ``"legacy"``, ``"autolog"`` or ``"off"`` instead of routing.
        autolog_options: keyword arguments for ``mlflow.pyspark.ml.autolog()`` in AUTOLOG mode,
            e.g. ``{"log_models": False}``; checked against autolog's signature in every mode.
        tracking_timeout: seconds this library's own logging may add to a fit before it stops
            waiting and saves the unlogged part to the spool, greater than 0 and at most 86400
            (one day); ``None``: wait for MLflow however long it takes. In AUTOLOG mode it is
            the seconds autolog's and the library's calls to a tracking server may wait in all
            during one fit (mlflow's retries included), after which, or after a call failed,
            autolog stops for the rest of that fit. An HTTP tracking server that does not
            answer its ``/health`` probe within 2 s, or refuses this process's credentials
            there (401/403), makes the fit run untracked from the start, its layout spooled.
            Env ``LEGACY_MLLIB_TRACKING_CHILD_THREADS`` (1 to 8) sets how many threads log a
            fit's child runs; unset, 1 for local stores and up to 8 against a tracking server.
        model_env_timeout: AUTOLOG mode: seconds one fit may wait for the pip-requirement
            inference of the models autolog logs (``None``: as long as mlflow waits). Past it,
            those models are logged with mlflow's fallback requirements and one
            ``TrackingWarning`` says so; the inference finishes in the background and serves the
            next models of the same kind. Ignored when mlflow's own
            ``MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT`` or ``..._RAISE_ERRORS`` is set.

    Returns:
        The :class:`Decision` that was applied.

    Raises:
        InvalidRuntimeVersion: ``runtime_version`` cannot be parsed.
        InvalidFlagValue: a flag in the Spark conf is not ``true``/``false``.
        InvalidModeError: ``mode`` names no mode.
        InvalidAutologOption: ``autolog_options`` names an option autolog does not have.
        NotASparkSession: ``spark`` is neither ``None`` nor an object with a ``conf``, as a
            SparkSession (classic or Connect) has.
        InvalidOption: ``tracking_timeout`` or ``model_env_timeout`` is not a number of seconds
            in (0, 86400] (one day) or ``None``, or env
            ``LEGACY_MLLIB_TRACKING_CHILD_THREADS`` is not an integer from 1 to 8.
        UnsupportedVersion: the pyspark or mlflow this process imports is older than supported
            (pyspark 3.4, mlflow 2.9); checked first, before anything changes.
    """
    _compat.check_versions()
    from legacy_mllib_tracking import _autolog, _tracker, _writer

    if spark is not None and not hasattr(getattr(spark, "conf", None), "get"):
        raise NotASparkSession(
            f"configure(spark) expects a SparkSession (classic or Spark Connect) or None, "
            f"got {spark!r} of type {type(spark).__name__}"
        )
    _check_seconds("tracking_timeout", tracking_timeout, "to wait for MLflow however long it takes")
    _writer.child_threads_override()  # read again per fit; a bad value is an error here
    _check_seconds("model_env_timeout", model_env_timeout, "to wait as long as mlflow does")

    options = _autolog.validate_options(autolog_options)
    inputs = read_inputs(spark, runtime_version=runtime_version)
    decision = decide(
        inputs.runtime,
        databricks=inputs.databricks,
        ml=inputs.ml,
        track=inputs.track,
        autolog=inputs.autolog,
        mode=mode,
        runtime_source=inputs.runtime_source,
    )
    if inputs.unreadable is not None:
        warnings.warn(
            f"legacy-mllib-tracking: cannot read the Databricks runtime version "
            f"{inputs.unreadable}; routing it like the newest runtime",
            RuntimeVersionWarning,
            stacklevel=2,
        )
    with _lock:
        _apply(decision, options, spark)
        _apply_model_env(decision, model_env_timeout)
        _tracker.settings.tracking_timeout = (
            None if tracking_timeout is None else float(tracking_timeout)
        )
    for category, message in decision.warnings:
        warnings.warn(message, category, stacklevel=2)
    _logger.info("legacy-mllib-tracking configured: %s", decision)
    return decision


def _apply(decision: Decision, options: dict[str, Any], spark: Any = None) -> None:
    from legacy_mllib_tracking import _autolog, _tracker

    if _state.user_autolog is _UNSET:
        _state.user_autolog = _compat.autolog_config()
    _state.patches.undo()
    if decision.mode is Mode.LEGACY:
        if not _compat.autolog_disabled():
            _autolog.disable_autolog()
        _state.autolog_by_us = False
        _tracker.install(_state.patches, Mode.LEGACY)
    elif decision.mode is Mode.AUTOLOG:
        _autolog.enable_autolog(options, spark=spark)
        _state.autolog_by_us = True
        _autolog.install_client_fixes(_state.patches)
        _tracker.install(_state.patches, Mode.AUTOLOG)
    else:
        if _state.autolog_by_us:
            _restore_user_autolog()
        _state.autolog_by_us = False
    _state.decision = decision


def _check_seconds(option: str, value: Any, none_means: str) -> None:
    """Raise ``InvalidOption`` unless ``value`` is None or seconds in (0, one day]."""
    if value is not None and (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 < value <= MAX_TRACKING_TIMEOUT  # also False for NaN
    ):
        raise InvalidOption(
            f"configure({option}=...) must be a number of seconds greater than 0 and at most "
            f"{MAX_TRACKING_TIMEOUT:g} (one day), or None {none_means}, got {value!r}"
        )


def _apply_model_env(decision: Decision, timeout: float | None) -> None:
    """AUTOLOG mode, when autolog logs models: answer repeated pip-requirement inference."""
    from legacy_mllib_tracking import _requirements

    _requirements.settings.timeout = None if timeout is None else float(timeout)
    if decision.mode is not Mode.AUTOLOG:
        return
    config = _compat.autolog_config() or {}
    if config.get("log_models", True):  # a user's log_models=False: nothing to infer, no patch
        _requirements.install(_state.patches)


def _reset_model_env() -> None:
    from legacy_mllib_tracking import _requirements

    _requirements.clear()
    _requirements.settings = _requirements.Settings()


def is_configured() -> bool:
    """Return whether ``configure()`` has run since the last ``reset()``."""
    return _state.decision is not None


def current_decision() -> Decision | None:
    """Return the decision in force, or ``None`` before ``configure()``."""
    return _state.decision


def reset() -> None:
    """Restore the process to its state before the first ``configure()``.

    Removes every patch, turns off autologging this library turned on, and turns a user's own
    pyspark.ml autologging back on with the options it had. A second call is a no-op.
    """
    with _lock:
        _state.patches.undo()
        if _state.decision is not None:
            _restore_user_autolog()
        _state.decision = None
        _state.autolog_by_us = False
        _state.user_autolog = _UNSET
        from legacy_mllib_tracking import _tracker

        _tracker.settings = _tracker.Settings()
        _reset_model_env()


def _restore_user_autolog() -> None:
    """Give pyspark.ml autologging back the state the user left it in before configure()."""
    user = _state.user_autolog
    if isinstance(user, dict):
        import mlflow.pyspark.ml

        if _compat.autolog_config() != user:
            mlflow.pyspark.ml.autolog(**{k: v for k, v in user.items() if k != "disable"})
    elif not _compat.autolog_disabled():
        from legacy_mllib_tracking import _autolog

        _autolog.disable_autolog()
