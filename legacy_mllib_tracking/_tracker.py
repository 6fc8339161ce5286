"""The tuning-fit wrapper behind LEGACY and AUTOLOG modes.

``install(patches, mode)`` overrides ``fit`` on ``CrossValidator`` and ``TrainValidationSplit``
(both inherit it from ``Estimator``, so the undo deletes the override and mlflow's own patch of
``Estimator.fit`` shows through again). The wrapper:

1. passes nested tuning fits through untouched (only the outermost tuning fit logs, SPEC 5.5);
2. logs into the active run, or starts one and ends it FINISHED / FAILED in ``finally``;
3. in LEGACY mode, and in AUTOLOG mode when autolog will not log this fit itself (the tuner sits
   inside an autologged Pipeline, or autolog was turned off behind our back), writes the layout
   with :mod:`legacy_mllib_tracking._writer`;
4. in AUTOLOG mode otherwise lets autolog log, with :mod:`legacy_mllib_tracking._autolog`,
   and adds what autolog lacks (``metricName``, ``best_<metric>``, the best child's tag);
5. turns every logging error into one :class:`TrackingWarning`; the fit's own errors propagate
   unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from legacy_mllib_tracking import _compat, _writer
from legacy_mllib_tracking._compat_http import (
    HttpBudget,
    TrackingStopped,
    current_http_budget,
    http_budget,
    install_http_budget,
)
from legacy_mllib_tracking._compat_tuning import install_fit_guard
from legacy_mllib_tracking._nesting import nesting, outermost
from legacy_mllib_tracking._patching import PatchSet
from legacy_mllib_tracking._safety import (
    error_text,
    recorded_uri,
    run_with_deadline,
    store_unreachable,
)
from legacy_mllib_tracking._spool import (
    replay_hint,
    spool_end,
    spool_record,
    spool_unlogged,
    write_spool,
)
from legacy_mllib_tracking._tuning import (
    describe_fit,
    parent_run_name,
    tuner_classes,
)
from legacy_mllib_tracking.errors import TrackingWarning
from legacy_mllib_tracking.keys import (
    TAG_CREATED_FOR,
)
from legacy_mllib_tracking.routing import Mode

__all__ = ["install"]

_logger = logging.getLogger(__name__)


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


def _start_parent(tuner: Any, fit_id: str) -> tuple[Any, bool]:
    """Return the active run (a user's run keeps its name), or a run started and named for
    ``tuner`` (``CrossValidator(LogisticRegression)``), and whether it was started here.

    A run started here is tagged for the fit ``fit_id`` in the create call itself: when the
    server creates it but the answer is lost, or mlflow's retry of the create makes a second
    one, the fit and ``replay`` find it by that tag (``_duplicates.dedupe_parents``).
    """
    import mlflow

    run = mlflow.active_run()
    if run is not None:
        return run, False
    return mlflow.start_run(run_name=parent_run_name(tuner), tags={TAG_CREATED_FOR: fit_id}), True


@dataclass
class Settings:
    """How long tracking may hold up a fit (set by ``configure()``)."""

    #: Seconds the library's own logging may take after the fit before it stops waiting and
    #: spools the rest; ``None`` waits for MLflow however long it takes.
    tracking_timeout: float | None = 30.0
    #: Seconds to wait for an HTTP tracking server's /health before the fit starts.
    probe_timeout: float = 2.0


settings = Settings()


def _untracked(
    mode: Mode,
    original: Callable[..., Any],
    tuner: Any,
    described: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    uri: str,
    why: str,
    *,
    fit_id: str,
) -> Any:
    """Fit without tracking (the store is down) and spool the whole layout for replay.

    ``fit_id`` is the fit's id, the one a parent run started for it was tagged with: when the
    server created that run but its answer was lost, replay completes it instead of making
    another. The record names the parent as a live fit would (``parent_run_name``).
    """
    import mlflow

    active = mlflow.active_run()
    experiment_id, experiment_name = (
        (active.info.experiment_id, None) if active else _compat.offline_experiment()
    )
    ctx = _writer.FitContext(
        client=None,
        parent_run_id=active.info.run_id if active else "",
        experiment_id=experiment_id or "",
        mode=mode.value,
        fit_id=fit_id,
    )
    if mode is Mode.AUTOLOG:
        # autolog would otherwise wait out its retries per call against the store that is down
        with _compat.autologging_off():
            model = original(tuner, *args, **kwargs)
    else:
        model = original(tuner, *args, **kwargs)
    try:
        fit = describe_fit(described, model)
        record = spool_record(ctx, fit, tracking_uri=recorded_uri(uri), reason=why)
        record["experiment_name"] = experiment_name
        record["parent_run_name"] = parent_run_name(described)
        path = write_spool(record)
        where = f"saved to {path}; when the store is back, {replay_hint(path, uri)}"
    except Exception as error:
        where = f"and could not be saved either ({error_text(error)})"
    warnings.warn(
        f"legacy-mllib-tracking: the {type(tuner).__name__} fit ran untracked because the "
        f"tracking store {why}; its run layout was not logged, {where}",
        TrackingWarning,
        stacklevel=4,
    )
    return model


def _track(
    mode: Mode,
    original: Callable[..., Any],
    tuner: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    extra: dict[Any, Any] | None,
) -> Any:
    import mlflow
    from mlflow.tracking import MlflowClient

    described = tuner.copy(extra) if extra else tuner
    fit_id = uuid.uuid4().hex  # chosen before the parent run exists: it is tagged with it
    uri = mlflow.get_tracking_uri()
    why = store_unreachable(uri, settings.probe_timeout)
    if why is not None:
        return _untracked(mode, original, tuner, described, args, kwargs, uri, why, fit_id=fit_id)
    managed = False
    try:
        run, managed = _start_parent(described, fit_id)
        ctx = _writer.open_fit(MlflowClient(), run, mode.value, fresh=managed, fit_id=fit_id)
    except Exception as error:
        if managed:
            with contextlib.suppress(Exception):
                _end(mlflow, "FAILED")
        # e.g. a read-only store: nothing can be logged now, so all of it is spooled
        why = f"could not start or read its MLflow run ({error_text(error)})"
        return _untracked(mode, original, tuner, described, args, kwargs, uri, why, fit_id=fit_id)

    status = "FAILED"
    logging_from: float | None = None
    try:
        autolog_logs = (
            mode is Mode.AUTOLOG
            and not _compat.autolog_disabled()
            and not _compat.autolog_session_active()
        )
        if autolog_logs:
            from legacy_mllib_tracking import _autolog

            model, unlogged = _autolog.log_fit(
                ctx, described, lambda: original(tuner, *args, **kwargs), args[0] if args else None
            )
            if unlogged is not None:
                spool_unlogged(ctx, *unlogged, uri=uri, managed=managed)
        else:
            model = original(tuner, *args, **kwargs)
            logging_from = time.monotonic()
            _log_legacy(ctx, described, model, uri, managed)
        status = "FINISHED"
        return model
    finally:
        if managed:
            _end(mlflow, status, ctx, wait=_end_wait(logging_from))
        _warn(ctx, type(tuner).__name__)


def _end(
    mlflow: Any, status: str, ctx: _writer.FitContext | None = None, wait: float | None = None
) -> None:
    """End the run this library started; when the store is down, do not wait for it.

    After a failure the end is made in the background and waited for ``wait`` seconds (default
    ``tracking_timeout``).
    """
    if ctx is not None and (ctx.timed_out or ctx.failures):
        # The store did not answer within the deadline: end the run in the background (bounded
        # by the same deadline) and drop it from this thread's active-run stack locally.
        run_id = ctx.parent_run_id
        client = ctx.client

        seconds = settings.tracking_timeout if wait is None else wait

        def work(cancel: threading.Event) -> None:
            # mlflow's retries end with the wait: an end that lands later would race replay
            with http_budget(seconds, deadline=True):
                client.set_terminated(run_id, status)

        try:
            finished = run_with_deadline(work, seconds, name="legacy-mllib-tracking-end")
        except TrackingStopped:  # it ran out of the wait
            finished = False
        except Exception as error:  # the store refused or dropped the end
            ctx.fail(f"the end of run {run_id} (status {status})", error)
            spool_end(ctx, status)
            finished = True  # recorded and spooled above
        if not finished:
            ctx.failures.append(f"the end of run {run_id} (status {status})")
            spool_end(ctx, status)
        _compat.pop_active_run(mlflow, run_id)
        return
    try:
        mlflow.end_run(status=status)
    except Exception as error:
        if ctx is not None:
            ctx.fail(f"the end of the run this library started (status {status})", error)
            _compat.pop_active_run(mlflow, ctx.parent_run_id)
            spool_end(ctx, status)


def _end_wait(logging_from: float | None) -> float | None:
    """Seconds a fit still waits for the end of its run after a failure, at least one: in AUTOLOG
    mode what is left of its HTTP budget, in LEGACY mode what is left of ``tracking_timeout``
    since its logging started at ``logging_from`` (``time.monotonic()``), so the fit waits about
    ``tracking_timeout`` in all, not twice that; ``None`` (``tracking_timeout``) otherwise."""
    budget = current_http_budget()
    if budget is not None:
        return max(1.0, budget.remaining())
    if logging_from is None or settings.tracking_timeout is None:
        return None
    return max(1.0, settings.tracking_timeout - (time.monotonic() - logging_from))


def _log_legacy(
    ctx: _writer.FitContext, tuner: Any, model: Any, uri: str, managed: bool = False
) -> None:
    try:
        fit = describe_fit(tuner, model)
    except Exception as error:
        ctx.fail(f"the layout of the {type(tuner).__name__} fit", error)
        return

    budgets: list[HttpBudget] = []

    def work(cancel: threading.Event) -> None:
        # One deadline for the logging's HTTP calls (its child threads share it): retried as
        # mlflow would until then, none after it, so nothing of this fit lands on the server
        # minutes later, racing a replay of its spool file.
        with http_budget(settings.tracking_timeout, deadline=True) as budget:
            if budget is not None:
                budgets.append(budget)
            _writer.log_parent(ctx, fit)
            _writer.log_children(ctx, fit, cancel=cancel)

    finished = run_with_deadline(work, settings.tracking_timeout)
    # Out of time: the worker is still running, or a call ran out of the deadline first (its
    # TrackingStopped is not recorded as a failure of its own).
    if not finished or any(getattr(budget, "ran_out", False) for budget in budgets):
        ctx.timed_out = True
        ctx.failures.append(
            f"logging did not finish within {settings.tracking_timeout:g} s "
            "(configure(tracking_timeout=...))"
        )
    if ctx.parent_logged and len(ctx.logged_children) == len(fit.maps):
        return
    reason = "; ".join(ctx.failures) or "not logged"
    spool_unlogged(ctx, fit, reason, uri=uri, managed=managed)


def install(patches: PatchSet, mode: Mode) -> None:
    """Override ``fit`` of the pyspark tuning classes with the tracking wrapper for ``mode``."""

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
            extra = kwargs.get("params", args[1] if len(args) > 1 else None)
            if isinstance(extra, (list, tuple)) or not outermost(self):
                # fit(dataset, [maps]) returns an iterator of models: nothing to lay out.
                return original(self, *args, **kwargs)
            budget = settings.tracking_timeout if mode is Mode.AUTOLOG else None
            with nesting(self), http_budget(budget):
                return _track(mode, original, self, args, kwargs, extra)

        return fit

    for cls in tuner_classes():
        patches.patch(cls, "fit", make)
    # AUTOLOG: autolog's own calls, LEGACY: this library's logging, bounded per fit
    install_http_budget(patches)
    install_fit_guard(patches)  # no late per-map fits after a failure
