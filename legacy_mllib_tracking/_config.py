"""``configure(spark)``, ``is_configured()``, ``reset()``: the state ``configure()`` installs.

Routing itself is :func:`legacy_mllib_tracking._inputs.route`; this module applies the
decision. Held here, the one home of what ``configure()`` decides and ``reset()`` undoes:
``_state`` (the decision in force, the patches, whether autolog was turned on by us, the user's
own pyspark.ml autolog settings) and ``_lock``, which serialises ``configure()`` and ``reset()``.

Every other piece of module-level state in the package lives next to the code that uses it, for
a reason, and is listed here so that nothing is a surprise:

- ``_tracker.settings``: the ``tracking_timeout`` (and the health-probe timeout) a fit reads;
  ``configure()`` sets it, ``reset()`` renews it. Next to the tracker so a fit reads it without
  importing this module (which imports the router).
- ``_nesting._local``, ``_nesting._suppressed`` (+ ``_suppressed_lock``): which tuning fit is the
  outermost, per thread and per tuner uid (pyspark's tuning thread pool). Live only while a fit
  runs; each fit removes what it added.
- ``_requirements.settings``, ``_cache``, ``_jobs``, ``_fits``, ``_counts``, ``_generation``
  (+ ``_lock``): AUTOLOG's pip-requirement answers, reused across fits of one process by design
  (that is their point); ``configure()`` sets the timeout, ``reset()`` clears them all
  (``_requirements.clear()``).
- ``_autolog_client._parents``, ``_autolog_client._children`` (+ ``_lock``): the AUTOLOG fits in
  progress that autolog's client fixes are working on, keyed by run id; each fit removes its
  entries.
- ``_compat_http._http_budget``: a ``ContextVar``, the HTTP time one fit may still spend; set and
  reset by the fit in its own context, never shared.
- ``simulate._owner``, ``_depth`` (+ ``_owner_lock``): the thread that holds a simulated
  runtime and how deeply it is nested; live only inside ``simulate_runtime()``.
- Caches of pure answers, never cleared because they never go stale: ``_safety._patterns``
  (compiled regular expressions), ``notebooks._decide``'s ``lru_cache``, and the package's lazy
  ``__version__``, ``scan`` and ``migrate`` attributes.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from legacy_mllib_tracking import _compat
from legacy_mllib_tracking._inputs import route
from legacy_mllib_tracking._patching import PatchSet
from legacy_mllib_tracking.errors import InvalidOption, NotASparkSession
from legacy_mllib_tracking.routing import Decision, Mode

__all__ = ["configure", "current_decision", "is_configured", "reset"]

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
            autolog stops for the rest of that fit. In LEGACY mode the library's calls are
            retried as mlflow would until the deadline, and no attempt starts after it. An
            HTTP tracking server that does not answer its ``/health`` probe within 2 s, or
            refuses this process's credentials there (401/403), makes the fit run untracked
            from the start, its layout spooled.
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
    from legacy_mllib_tracking import _autolog, _limits, _tracker

    if spark is not None and not hasattr(getattr(spark, "conf", None), "get"):
        raise NotASparkSession(
            f"configure(spark) expects a SparkSession (classic or Spark Connect) or None, "
            f"got {spark!r} of type {type(spark).__name__}"
        )
    _check_seconds("tracking_timeout", tracking_timeout, "to wait for MLflow however long it takes")
    _limits.child_threads_override()  # read again per fit; a bad value is an error here
    _check_seconds("model_env_timeout", model_env_timeout, "to wait as long as mlflow does")

    options = _autolog.validate_options(autolog_options)
    decision = route(spark, runtime_version=runtime_version, mode=mode)
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
