"""The tuning-fit wrapper behind LEGACY and AUTOLOG modes.

``install(patches, mode)`` overrides ``fit`` on ``CrossValidator`` and ``TrainValidationSplit``
(both inherit it from ``Estimator``, so the undo deletes the override and mlflow's own patch of
``Estimator.fit`` shows through again). The wrapper:

1. passes nested tuning fits through untouched (only the outermost tuning fit logs, SPEC 5.5);
2. logs into the active run, or starts one and ends it FINISHED / FAILED in ``finally``;
3. in LEGACY mode, and in AUTOLOG mode when autolog will not log this fit itself (the tuner sits
   inside an autologged Pipeline, or autolog was turned off behind our back), writes the layout
   with :mod:`legacy_mllib_tracking._writer`;
4. in AUTOLOG mode otherwise lets autolog log, with :mod:`legacy_mllib_tracking.autolog`'s fixes,
   and adds what autolog lacks (``metricName``, ``best_<metric>``, the best child's tag);
5. turns every logging error into one :class:`TrackingWarning`; the fit's own errors propagate
   unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from legacy_mllib_tracking import _compat, _writer
from legacy_mllib_tracking._patching import PatchSet
from legacy_mllib_tracking._tuning import describe_fit, nested_tuner_uids, tuner_classes
from legacy_mllib_tracking.errors import TrackingWarning
from legacy_mllib_tracking.keys import TAG_BEST, TAG_LARGER_IS_BETTER, TAG_MODE
from legacy_mllib_tracking.routing import Mode

__all__ = ["install"]

_logger = logging.getLogger(__name__)

# Only the outermost tuning fit logs. Same-thread nesting is seen through a thread-local depth;
# tuners fitted in pyspark's tuning thread pool (parallelism > 1) are recognised by uid, which
# pyspark's copy() keeps.
_local = threading.local()
_suppressed: Counter[str] = Counter()
_suppressed_lock = threading.Lock()


def _outermost(tuner: Any) -> bool:
    if getattr(_local, "depth", 0) > 0:
        return False
    with _suppressed_lock:
        return _suppressed[tuner.uid] == 0


@contextmanager
def _nesting(tuner: Any) -> Iterator[None]:
    try:
        inner = nested_tuner_uids(tuner)
    except Exception:  # a custom estimator tree we cannot walk: same-thread guard still holds
        inner = frozenset()
    with _suppressed_lock:
        _suppressed.update(inner)
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1
        with _suppressed_lock:
            _suppressed.subtract(inner)
            for uid in inner:
                if _suppressed[uid] <= 0:
                    del _suppressed[uid]


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


def _warn(ctx: _writer.FitContext, tuner_name: str) -> None:
    if ctx.failures:
        warnings.warn(
            f"legacy-mllib-tracking: the {tuner_name} fit returned its model, but tracking into "
            f"run {ctx.parent_run_id} did not log: " + "; ".join(ctx.failures),
            TrackingWarning,
            stacklevel=4,
        )
    if ctx.truncated:
        warnings.warn(
            "legacy-mllib-tracking: values shortened to fit MLflow's limits: "
            + "; ".join(ctx.truncated),
            TrackingWarning,
            stacklevel=4,
        )


def _start_parent() -> tuple[Any, bool]:
    import mlflow

    run = mlflow.active_run()
    if run is not None:
        return run, False
    return mlflow.start_run(), True


def _track(mode: Mode, original: Callable[..., Any], tuner: Any, args: tuple[Any, ...],
           kwargs: dict[str, Any], extra: dict[Any, Any] | None) -> Any:
    import mlflow
    from mlflow.tracking import MlflowClient

    described = tuner.copy(extra) if extra else tuner
    managed = False
    try:
        run, managed = _start_parent()
        ctx = _writer.open_fit(MlflowClient(), run, mode.value)
    except Exception as error:
        if managed:
            _end(mlflow, "FAILED")
        warnings.warn(
            f"legacy-mllib-tracking: the {type(tuner).__name__} fit runs untracked: could not "
            f"start or read its MLflow run ({type(error).__name__}: {error})",
            TrackingWarning,
            stacklevel=3,
        )
        return original(tuner, *args, **kwargs)

    status = "FAILED"
    try:
        autolog_logs = (
            mode is Mode.AUTOLOG
            and not _compat.autolog_disabled()
            and not _compat.autolog_session_active()
        )
        if autolog_logs:
            from legacy_mllib_tracking import autolog

            with autolog.fixing(ctx, described) as fix, _keep_cache(args[0] if args else None):
                model = original(tuner, *args, **kwargs)
            _complete_autolog(ctx, described, model, fix)
        else:
            model = original(tuner, *args, **kwargs)
            _log_legacy(ctx, described, model)
        status = "FINISHED"
        return model
    finally:
        if managed:
            _end(mlflow, status, ctx)
        _warn(ctx, type(tuner).__name__)


def _end(mlflow: Any, status: str, ctx: _writer.FitContext | None = None) -> None:
    try:
        mlflow.end_run(status=status)
    except Exception as error:
        if ctx is not None:
            ctx.fail(f"the end of the run this library started (status {status})", error)


def _log_legacy(ctx: _writer.FitContext, tuner: Any, model: Any) -> None:
    try:
        fit = describe_fit(tuner, model)
    except Exception as error:
        ctx.fail(f"the layout of the {type(tuner).__name__} fit", error)
        return
    _writer.log_parent(ctx, fit)
    _writer.log_children(ctx, fit)


def _complete_autolog(ctx: _writer.FitContext, tuner: Any, model: Any, fix: Any) -> None:
    """Add what autolog does not log: contract params it lacks, best metric, best child tag."""
    try:
        fit = describe_fit(tuner, model)
        params = {
            ctx.param_key(k): v for k, v in fit.settings.items() if k not in fix.logged_params
        }
        _writer.write_batch(
            ctx,
            ctx.parent_run_id,
            params=params,
            tags={
                ctx.tag_key(TAG_MODE): ctx.mode,
                ctx.tag_key(TAG_LARGER_IS_BETTER): str(fit.larger_is_better).lower(),
            },
            metrics=_writer.best_metrics(ctx, fit),
        )
        best_run = fix.children.get(fit.best_index)
        if best_run is not None:
            ctx.client.set_tag(best_run, TAG_BEST, "true")
    except Exception as error:
        ctx.fail("the contract params, best metric and best-child tag on the parent", error)


def install(patches: PatchSet, mode: Mode) -> None:
    """Override ``fit`` of the pyspark tuning classes with the tracking wrapper for ``mode``."""

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
            extra = kwargs.get("params", args[1] if len(args) > 1 else None)
            if isinstance(extra, (list, tuple)) or not _outermost(self):
                # fit(dataset, [maps]) returns an iterator of models: nothing to lay out.
                return original(self, *args, **kwargs)
            with _nesting(self):
                return _track(mode, original, self, args, kwargs, extra)

        fit.__legacy_mllib_tracking__ = mode  # type: ignore[attr-defined]
        return fit

    for cls in tuner_classes():
        patches.patch(cls, "fit", make)
