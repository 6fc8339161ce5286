"""Writes the run layout of one tuning fit to MLflow (SPEC 5), through ``MlflowClient``.

A :class:`FitContext` holds what one ``fit()`` call needs to log into its parent run: the names
already taken on the parent (so a repeated fit suffixes them with ``_<uuid>``) and the failures to
report as one warning at the end. :func:`log_parent` logs the tuner's settings and the best map on
the parent; :func:`log_children` logs the child runs, from up to ``MAX_CHILD_THREADS`` threads
against a tracking server (``_limits.child_threads``), ends each with one call to the client's
store (``_compat.finish_run``) and then deletes the copies retried creates left
(``_duplicates``). Every write keeps MLflow's limits (``_limits.write_batch``); what is not
logged goes to the spool (``_spool``).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from legacy_mllib_tracking import _compat
from legacy_mllib_tracking._compat_http import TrackingStopped
from legacy_mllib_tracking._duplicates import remove_duplicate_children, remove_late_copy
from legacy_mllib_tracking._limits import (
    child_threads,
    write_batch,
)
from legacy_mllib_tracking._safety import error_text, redact, run_in_threads
from legacy_mllib_tracking._tuning import MapInfo, TuningFit
from legacy_mllib_tracking.errors import InvalidOption
from legacy_mllib_tracking.keys import (
    BEST_PREFIX,
    TAG_BEST,
    TAG_CHILD_KEY,
    TAG_ESTIMATOR_CLASS,
    TAG_ESTIMATOR_NAME,
    TAG_LARGER_IS_BETTER,
    TAG_MODE,
    TAG_PARENT_RUN_ID,
    TAG_RUN_NAME,
    TAG_TUNED_PARAMS,
)

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["FitContext", "child_tags", "log_children", "log_parent", "open_fit"]

_logger = logging.getLogger(__name__)

#: A name a repeated fit suffixed on the parent: ``<name>_<uuid4 hex>``.
_SUFFIXED = re.compile(r"^(?P<name>.+)_[0-9a-f]{32}$")


def _system_key(key: str) -> bool:
    return key.startswith("mlflow.")


@dataclass
class FitContext:
    """One ``fit()`` call's view of its parent run.

    Attributes:
        client: the ``MlflowClient`` used for every write.
        parent_run_id: the run the tuner's info goes into.
        experiment_id: the parent's experiment, where children are created.
        fit_id: a uuid4 hex, the suffix of names that would clash on the parent.
        mode: "legacy" or "autolog", recorded on the parent.
        taken_params / taken_tags / taken_metrics: names on the parent when the fit started.
        start_ms: when the fit started, the children's start time.
        parent_created: this library created the parent run, tagged for the fit
            (``TAG_CREATED_FOR``): its empty copies are looked for after logging.
        failures: what could not be logged, reported as one warning.
        logged_children: the map indexes whose child run was logged.
        child_runs: map index -> the id of the child run this fit created for it.
        lock: guards ``failures`` and ``logged_children`` while threads log children.
    """

    client: Any
    parent_run_id: str
    experiment_id: str
    mode: str
    fit_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    taken_params: frozenset[str] = frozenset()
    taken_tags: frozenset[str] = frozenset()
    taken_metrics: frozenset[str] = frozenset()
    start_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    failures: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)
    child_tags: Mapping[str, str] = field(default_factory=dict)
    parent_created: bool = False
    parent_logged: bool = False
    timed_out: bool = False
    #: The spool file holding this fit's unlogged layout, once written (it also ends the run).
    spool_path: Path | None = None
    logged_children: set[int] = field(default_factory=set)
    child_runs: dict[int, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def repeated(self) -> bool:
        """Whether a tuning fit already logged into this parent."""
        return TAG_ESTIMATOR_NAME in self.taken_tags or TAG_MODE in self.taken_tags

    @property
    def fit_number(self) -> int:
        """1 for the first tuning fit logged into the parent, 2 for the second, and so on.

        Counted from the parent's tags when the fit started: each earlier fit this library
        logged left one mode tag, the first bare, each later one suffixed ``_<uuid>``. Not from
        ``estimator_name``: autolog also writes it for an autologged ``Pipeline`` that holds the
        tuner (mlflow 2.x, 3.17), which is no earlier tuning fit.
        """
        earlier = [_SUFFIXED.sub(r"\g<name>", tag) for tag in self.taken_tags]
        return 1 + earlier.count(TAG_MODE)

    def child_run_name(self, name: str) -> str:
        """Return a child's run name: ``name`` (``maxDepth=5,maxBins=8``) for the first fit into
        the parent, ``fit <n>: <name>`` for the n-th."""
        number = self.fit_number
        return name if number == 1 else f"fit {number}: {name}"

    def param_key(self, key: str) -> str:
        """Return ``key``, or ``key_<fit_id>`` when the parent already has that param."""
        return f"{key}_{self.fit_id}" if key in self.taken_params else key

    def tag_key(self, key: str) -> str:
        """Return ``key``, or ``key_<fit_id>`` when the parent already has that (non-system) tag."""
        if key in self.taken_tags and not _system_key(key):
            return f"{key}_{self.fit_id}"
        return key

    def metric_key(self, key: str) -> str:
        """Return ``key``, or ``key_<fit_id>`` when the parent already has that metric."""
        return f"{key}_{self.fit_id}" if key in self.taken_metrics else key

    def fail(self, what: str, error: BaseException) -> str | None:
        """Record that ``what`` was not logged because of ``error``; return the message recorded.

        In LEGACY mode a :class:`TrackingStopped` (the fit's logging ran out of time) is not
        recorded (``None`` is returned): the fit says that once, as for its deadline.
        """
        if isinstance(error, TrackingStopped) and self.mode == "legacy":
            _logger.debug("not logged (out of time): %s", what)
            return None
        message = f"{redact(what)} ({error_text(error, limit=1000)})"
        with self.lock:
            self.failures.append(message)
        _logger.debug("not logged: %s", what, exc_info=error)
        return message


def open_fit(
    client: Any, run: Any, mode: str, *, fresh: bool = False, fit_id: str | None = None
) -> FitContext:
    """Return the context of a fit logging into the parent ``run``.

    Args:
        client: the ``MlflowClient`` every write goes through.
        run: the parent run (a ``Run`` or ``ActiveRun``).
        mode: "legacy" or "autolog", recorded on the parent.
        fresh: ``run`` was just created by this library, so nothing was logged into it: the
            taken names are read from ``run`` itself (no params or metrics, the tags it was
            created with) instead of from the store, one ``get_run`` call less per fit.
            Otherwise the run is read from the store once.
        fit_id: the fit's id when it was chosen before the run was created (the run's
            ``TAG_CREATED_FOR`` tag); default a new uuid4 hex.

    Raises:
        Exception: whatever ``client.get_run`` raises (not with ``fresh``).
    """
    params: Mapping[str, Any] = {}
    metrics: Mapping[str, Any] = {}
    if fresh:
        tags: Mapping[str, Any] = getattr(getattr(run, "data", None), "tags", None) or {}
    else:
        data = client.get_run(run.info.run_id).data
        params, tags, metrics = data.params, data.tags, data.metrics
    try:
        from mlflow.tracking.context import registry

        context_tags = {k: v for k, v in registry.resolve_tags().items() if k != TAG_RUN_NAME}
    except Exception:  # context providers are best effort, as in mlflow autolog
        context_tags = {}
    return FitContext(
        client=client,
        parent_run_id=run.info.run_id,
        experiment_id=run.info.experiment_id,
        mode=mode,
        taken_params=frozenset(params),
        taken_tags=frozenset(tags),
        taken_metrics=frozenset(metrics),
        child_tags=context_tags,
        parent_created=fresh,
        fit_id=fit_id or uuid.uuid4().hex,
    )


def parent_content(ctx: FitContext, fit: TuningFit) -> tuple[dict[str, str], dict[str, str]]:
    """Return the parent's params and tags for ``fit``, with clashing names suffixed."""
    params = {ctx.param_key(k): v for k, v in fit.settings.items()}
    tags = {
        ctx.tag_key(TAG_ESTIMATOR_NAME): fit.tuner_name,
        ctx.tag_key(TAG_ESTIMATOR_CLASS): fit.tuner_class,
        ctx.tag_key(TAG_MODE): ctx.mode,
        ctx.tag_key(TAG_LARGER_IS_BETTER): str(fit.larger_is_better).lower(),
    }
    return params, tags


def best_params(ctx: FitContext, fit: TuningFit, *, logged: Iterable[str] = ()) -> dict[str, str]:
    """Return the parent's ``best_<tuned param>`` params: the best map's values under the names
    its child run uses (bare, ``Stage.name`` on a clash), suffixed on a clash; empty without a
    best. Names in ``logged`` (already logged by this fit, e.g. by autolog) are left out."""
    if fit.best_index is None:
        return {}
    skip = frozenset(logged)
    return {
        ctx.param_key(BEST_PREFIX + k): v
        for k, v in fit.maps[fit.best_index].params.items()
        if BEST_PREFIX + k not in skip
    }


def best_metrics(ctx: FitContext, fit: TuningFit) -> dict[str, float]:
    """Return the parent's ``best_<metric>`` metric, suffixed on a clash; empty without a best."""
    value = fit.best_metric
    if value is None or fit.metric_key is None:
        return {}
    return {ctx.metric_key(BEST_PREFIX + fit.metric_key): value}


def log_parent(ctx: FitContext, fit: TuningFit, *, settings: bool = True) -> None:
    """Log the tuner's settings (unless ``settings=False``), the best map's values and the best
    metric on the parent."""
    params, tags = parent_content(ctx, fit) if settings else ({}, {})
    params = {**params, **best_params(ctx, fit)}
    try:
        write_batch(
            ctx, ctx.parent_run_id, params=params, tags=tags, metrics=best_metrics(ctx, fit)
        )
        ctx.parent_logged = True
    except Exception as error:
        ctx.fail(f"the tuner's settings on parent run {ctx.parent_run_id}", error)


def child_tags(
    ctx: FitContext, fit: TuningFit, info: MapInfo, estimator_name: str
) -> dict[str, str]:
    """Return the tags a child run is created with."""
    tags = dict(ctx.child_tags)
    tags.update(
        {
            TAG_PARENT_RUN_ID: ctx.parent_run_id,
            TAG_RUN_NAME: ctx.child_run_name(info.run_name),
            TAG_CHILD_KEY: f"{ctx.fit_id}:{info.index}",
            TAG_ESTIMATOR_NAME: estimator_name,
            TAG_TUNED_PARAMS: json.dumps(list(info.params)),
        }
    )
    if info.index == fit.best_index:
        tags[TAG_BEST] = "true"
    return tags


def _in_map_order(ctx: FitContext, failed: list[tuple[int, str]]) -> None:
    """Put the child failures ``failed`` ((map index, message)) in map order in ctx.failures.

    They keep the places they took in the list; only their order among themselves changes.
    """
    with ctx.lock:
        mine = {message for _, message in failed}
        places = [n for n, message in enumerate(ctx.failures) if message in mine]
        for place, (_, message) in zip(places, sorted(failed), strict=False):
            ctx.failures[place] = message


def log_children(
    ctx: FitContext,
    fit: TuningFit,
    maps: Iterable[MapInfo] | None = None,
    *,
    cancel: threading.Event | None = None,
) -> None:
    """Create one FINISHED child run per param map, with its tuned params and metrics.

    Children are logged by :func:`child_threads` threads: one after the other for local stores,
    up to :data:`MAX_CHILD_THREADS` at once against a tracking server. Each child ends with one
    store call (``_compat.finish_run``: no "View run" line, no second GET). No child starts once
    ``cancel`` is set; ``ctx.logged_children`` says which children were logged, and each child
    that failed adds one entry to ``ctx.failures``, in map order.
    """
    end_ms = int(time.time() * 1000)
    estimator_name = fit.settings.get("estimator", "")
    todo = list(fit.maps if maps is None else maps)
    failed: list[tuple[int, str]] = []

    def one(info: MapInfo) -> None:
        try:
            tags = child_tags(ctx, fit, info, estimator_name)
            run = ctx.client.create_run(
                ctx.experiment_id, start_time=ctx.start_ms, tags=tags, run_name=tags[TAG_RUN_NAME]
            )
            with ctx.lock:
                ctx.child_runs[info.index] = run.info.run_id
            late = cancel is not None and cancel.is_set()
            if late and remove_late_copy(ctx, tags[TAG_CHILD_KEY], run.info.run_id):
                return
            write_batch(
                ctx, run.info.run_id, params=info.params, metrics=info.metrics, timestamp_ms=end_ms
            )
            _compat.finish_run(ctx.client, run.info.run_id, "FINISHED", end_ms)
        except Exception as error:
            message = ctx.fail(f"child run for param map {info.index} ({info.run_name})", error)
            if message is not None:  # recorded (not the deadline's: said once by the fit)
                failed.append((info.index, message))
            return
        with ctx.lock:
            ctx.logged_children.add(info.index)

    try:
        threads = child_threads(_compat.tracking_uri_of(ctx.client), len(todo))
    except InvalidOption as error:  # the env changed since configure() checked it
        with ctx.lock:
            ctx.failures.append(f"{error}; child runs were logged one at a time")
        threads = 1
    try:
        run_in_threads(todo, threads, one, cancel)
    finally:
        _in_map_order(ctx, failed)
    if cancel is None or not cancel.is_set():
        remove_duplicate_children(ctx, dict(ctx.child_runs))
