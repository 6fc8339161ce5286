"""AUTOLOG mode: the only caller of ``mlflow.pyspark.ml.autolog``, and one tuning fit logged by it.

:func:`enable_autolog` turns autolog on with options :func:`validate_options` checked (on Spark
Connect with what autolog cannot read itself), :func:`disable_autolog` turns it off.
:func:`log_fit` runs one tuning fit while autolog logs it, with the client fixes of
:mod:`legacy_mllib_tracking._autolog_client`, keeps the user's cached DataFrame cached, and adds
what autolog does not log (the contract params it lacks, ``best_<param>``, ``best_<metric>``, the
best child's tag, children autolog skipped). When the fit's tracking calls stopped
(``_compat_http.HttpBudget``) it says what is left to spool instead.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from legacy_mllib_tracking import _compat, _connect, _duplicates, _limits, _writer
from legacy_mllib_tracking._autolog_client import Fix, fixing, install_client_fixes
from legacy_mllib_tracking._compat_http import current_http_budget
from legacy_mllib_tracking._safety import redact
from legacy_mllib_tracking._tuning import TuningFit, describe_fit
from legacy_mllib_tracking.errors import InvalidAutologOption, TrackingNotice
from legacy_mllib_tracking.keys import TAG_BEST, TAG_LARGER_IS_BETTER, TAG_MODE

__all__ = [
    "disable_autolog",
    "enable_autolog",
    "install_client_fixes",
    "log_fit",
    "validate_options",
]

_logger = logging.getLogger(__name__)


def autolog_defaults() -> dict[str, Any]:
    """Return each keyword argument of ``mlflow.pyspark.ml.autolog`` with its default."""
    import mlflow.pyspark.ml

    return {
        name: parameter.default
        for name, parameter in inspect.signature(mlflow.pyspark.ml.autolog).parameters.items()
    }


def autolog_parameters() -> frozenset[str]:
    """Return the keyword arguments ``mlflow.pyspark.ml.autolog`` accepts in this mlflow."""
    import mlflow.pyspark.ml

    return frozenset(inspect.signature(mlflow.pyspark.ml.autolog).parameters)


#: The types of ``mlflow.pyspark.ml.autolog``'s options whose default (``None``) says nothing,
#: as its docstring gives them (mlflow 2.9 to 3.17); ``None`` is accepted for each as well.
_NONE_DEFAULT_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "registered_model_name": ((str,), "a str"),
    "log_model_allowlist": ((list, tuple, set, frozenset), "a list of class names (str)"),
    "extra_tags": ((Mapping,), "a dict of str to str"),
}


def _expected_type(name: str, default: Any) -> tuple[tuple[type, ...], str] | None:
    """The types ``autolog``'s option ``name`` accepts, read from its default, or ``None``."""
    if isinstance(default, bool):
        return (bool,), "a bool (True or False)"
    if default is None or default is inspect.Parameter.empty:
        return _NONE_DEFAULT_TYPES.get(name)
    return (type(default),), f"a {type(default).__name__}"


def _check_value(name: str, value: Any, default: Any) -> None:
    expected = _expected_type(name, default)
    if expected is None or (value is None and default is None):
        return
    types, described = expected
    wrong = not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
    if not wrong and name == "log_model_allowlist":
        wrong = not all(isinstance(item, str) for item in value)
    if wrong:
        raise InvalidAutologOption(
            f"configure(autolog_options=...): {name!r} must be {described}, as "
            f"mlflow.pyspark.ml.autolog takes it, got {value!r} of type {type(value).__name__}"
        )


def validate_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check ``autolog_options`` against ``mlflow.pyspark.ml.autolog``'s signature: the names,
    and each value's type as the option's default (a bool option takes only a bool) or, for an
    option whose default is ``None``, its documented type says.

    Raises:
        InvalidAutologOption: an option autolog does not have, ``disable`` (use ``mode="off"``),
            or a value of the wrong type (the message names the key, the value and the type).
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise InvalidAutologOption(
            f"configure(autolog_options=...) must be a dict of mlflow.pyspark.ml.autolog keyword "
            f"arguments, got {options!r}"
        )
    accepted = autolog_parameters() - {"disable"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise InvalidAutologOption(
            f"configure(autolog_options=...) names {', '.join(map(repr, unknown))}, which "
            f"mlflow.pyspark.ml.autolog does not accept; accepted: {', '.join(sorted(accepted))}"
            + ("; use configure(mode='off') instead of disable" if "disable" in unknown else "")
        )
    defaults = autolog_defaults()
    for name, value in options.items():
        _check_value(name, value, defaults.get(name))
    return dict(options)


def enable_autolog(options: Mapping[str, Any], *, spark: Any = None) -> None:
    """Call ``mlflow.pyspark.ml.autolog(exclusive=False, **options)``.

    ``exclusive=False`` because Databricks' start-up hook used ``exclusive=True``, which logs
    nothing inside a user's ``with mlflow.start_run():`` (where the old notebooks fit their
    tuners).

    On Spark Connect (``spark`` is a Connect session, or pyspark runs in Connect mode), see
    :func:`_connect_options`.
    """
    import mlflow.pyspark.ml

    _quiet_stopped_fits()
    kwargs = {"exclusive": False, "silent": False}
    kwargs.update(options)
    if _connect.is_connect_session(spark) or _connect.remote_mode():
        kwargs.update(_connect_options(kwargs, spark))
    mlflow.pyspark.ml.autolog(**kwargs)


def _connect_options(kwargs: Mapping[str, Any], spark: Any) -> dict[str, Any]:
    """Supply what autolog would read through ``sparkContext`` on a Connect session.

    - ``log_model_allowlist``, unless given: the list autolog would read itself (mlflow 2.x and
      3.17 read it through ``sparkContext`` and raise ``[JVM_ATTRIBUTE_NOT_SUPPORTED]``);
    - ``log_models=False`` when this process has no JVM (a remote Connect server), where
      ``mlflow.spark.log_model`` cannot copy the saved model; one :class:`TrackingNotice` says so,
      and everything else autolog logs is kept.
    """
    if spark is None:
        spark = _compat.active_spark_session()
    supplied: dict[str, Any] = {}
    if not kwargs.get("log_model_allowlist"):
        supplied["log_model_allowlist"] = _connect.log_model_allowlist(spark)
        _logger.debug(
            "Spark Connect: passing mlflow's model allowlist (%d classes) to autolog, which "
            "cannot read it through sparkContext",
            len(supplied["log_model_allowlist"]),
        )
    if kwargs.get("log_models", True) and not _connect.client_has_jvm():
        supplied["log_models"] = False
        warnings.warn(
            "legacy-mllib-tracking: models are not logged on this Spark Connect session: "
            "mlflow.spark.log_model copies a pyspark.ml model through a JVM in this process, "
            "which a Spark Connect client does not have; params, metrics, child runs and "
            "artifacts are logged as usual (pass autolog_options={'log_models': False} to "
            "silence this)",
            TrackingNotice,
            stacklevel=5,
        )
    return supplied


def disable_autolog() -> None:
    """Turn pyspark.ml autologging off."""
    import mlflow.pyspark.ml

    mlflow.pyspark.ml.autolog(disable=True)


class _StoppedFitLogs(logging.Filter):
    """Keeps autolog's own warnings about a fit whose tracking calls stopped off the console.

    Once a fit's :class:`~legacy_mllib_tracking._compat_http.HttpBudget` stopped, autolog's later
    calls fail at once and autolog logs each failure as a warning, the first with a traceback of
    some 80 lines; the fit's one :class:`TrackingWarning` already says what was not logged and
    where it was spooled. Such a record is dropped, or passed on as DEBUG where its logger is
    enabled for DEBUG. Errors, records of any other fit and records logged outside one pass
    unchanged (the budget is the current context's: each thread's fit has its own).
    """

    #: mlflow's loggers of those warnings (2.17 and 3.17): the flavor's and safe_patch's.
    LOGGERS = ("mlflow.pyspark.ml", "mlflow.utils.autologging_utils")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:  # what autolog logs of a failed call; never errors
            return True
        budget = current_http_budget()
        if budget is None or budget.stopped is None:
            return True
        if not logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
            return False
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return True


_STOPPED_FIT_LOGS = _StoppedFitLogs()


def _quiet_stopped_fits() -> None:
    """Add :class:`_StoppedFitLogs` to autolog's loggers (once: ``addFilter`` ignores a filter
    already there). It stays: outside a fit whose tracking stopped it passes every record."""
    for name in _StoppedFitLogs.LOGGERS:
        logging.getLogger(name).addFilter(_STOPPED_FIT_LOGS)


@contextmanager
def _keep_cache(dataset: Any) -> Iterator[None]:
    """Keep a cached DataFrame cached across autolog, which persist()s and then unpersist()s it.

    Seen with mlflow 2.x and 3.17 (``fit_mlflow``): a DataFrame the user had cached comes back
    uncached. While the fit runs, the DataFrame's own ``unpersist`` is shadowed by a no-op on that
    one instance; the shadow is deleted afterwards.
    """
    try:
        cached = bool(dataset.is_cached)
    except Exception:
        cached = False
    shadowed = False
    if cached:
        try:
            dataset.unpersist = lambda *args, **kwargs: dataset
            shadowed = True
        except Exception:  # an instance that refuses attributes (__slots__)
            shadowed = False
    try:
        yield
    finally:
        if shadowed:
            with contextlib.suppress(Exception):  # pragma: no cover
                del dataset.unpersist


def log_fit(
    ctx: _writer.FitContext, tuner: Any, fit: Callable[[], Any], dataset: Any
) -> tuple[Any, tuple[TuningFit, str] | None]:
    """Run ``fit()`` (the tuner's own fit on ``dataset``) while autolog logs it into ``ctx``.

    Returns:
        The model, and ``None`` when the fit's layout was logged, or the fit and why its tracking
        calls stopped (the server died, hung or failed mid-fit and ``tracking_timeout`` ran out)
        when it was not. Which of autolog's writes landed is then not known call by call, so the
        whole layout is to be spooled: ``replay`` skips what exists (children by their
        ``child_key`` tag, which autolog's children carry too), completes what was cut short and
        creates the rest, every child once.
    """
    with fixing(ctx, tuner) as fix, _keep_cache(dataset):
        model = fit()
    budget = current_http_budget()
    if budget is None or budget.stopped is None:
        _complete(ctx, tuner, model, fix)
    if budget is None or budget.stopped is None:
        return model, None
    ctx.timed_out = True
    ctx.failures.append(redact(f"{budget.stopped}; autolog stopped for the rest of the fit"))
    try:
        return model, (describe_fit(tuner, model), redact(str(budget.stopped)))
    except Exception as error:
        ctx.fail("the spool file of the unlogged part", error)
        return model, None


def _complete(ctx: _writer.FitContext, tuner: Any, model: Any, fix: Fix) -> None:
    """Add what autolog does not log: contract params it lacks, the best map's values under the
    children's names, best metric, best child tag."""
    try:
        fit = describe_fit(tuner, model)
        params = {
            ctx.param_key(k): v for k, v in fit.settings.items() if k not in fix.logged_params
        }
        params.update(_writer.best_params(ctx, fit, logged=fix.logged_params))
        _limits.write_batch(
            ctx,
            ctx.parent_run_id,
            params=params,
            tags={
                ctx.tag_key(TAG_MODE): ctx.mode,
                ctx.tag_key(TAG_LARGER_IS_BETTER): str(fit.larger_is_better).lower(),
            },
            metrics=_writer.best_metrics(ctx, fit),
        )
        best_run = None if fit.best_index is None else fix.children.get(fit.best_index)
        if best_run is not None:
            ctx.client.set_tag(best_run, TAG_BEST, "true")
    except Exception as error:
        ctx.fail("the contract params, best metric and best-child tag on the parent", error)
        return
    _duplicates.remove_duplicate_children(ctx, dict(fix.children))
    if fit.maps and not fix.children:
        # autolog logged no children: its training-session stack is process-wide (mlflow 2.x and
        # 3.17), so a fit started while another thread's autologged fit runs counts as nested.
        _writer.log_children(ctx, fit)
