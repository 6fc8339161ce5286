"""Writes the run layout of one tuning fit to MLflow (SPEC 5), through ``MlflowClient``.

A :class:`FitContext` holds what one ``fit()`` call needs to log into its parent run: the names
already taken on the parent (so a repeated fit suffixes them with ``_<uuid>``) and the failures to
report as one warning at the end. :func:`log_children` logs the child runs, from up to
:data:`MAX_CHILD_THREADS` threads against a tracking server (:func:`child_threads`), and ends
each with one call to the client's store (``_compat.finish_run``).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import posixpath
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from legacy_mllib_tracking import _compat
from legacy_mllib_tracking._tuning import MapInfo, TuningFit
from legacy_mllib_tracking.errors import InvalidOption
from legacy_mllib_tracking.keys import (
    BEST_PREFIX,
    ENV_CHILD_THREADS,
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

__all__ = [
    "MAX_CHILD_THREADS",
    "FitContext",
    "child_threads",
    "child_threads_override",
    "log_children",
    "log_parent",
    "open_fit",
]

_logger = logging.getLogger(__name__)

# MLflow's limits, as in mlflow.utils.validation (unchanged from mlflow 2.9 to 3.17).
MAX_ENTITY_KEY_LENGTH = 250
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_PARAMS_TAGS_PER_BATCH = 100

#: Most threads that log one fit's child runs. mlflow keeps 10 HTTP connections per host
#: (``MLFLOW_HTTP_POOL_MAXSIZE``, mlflow 2.17 to 3.17), so 8 threads never open throw-away
#: connections (16 would); the work is waiting on HTTP, so the count follows the server, not the
#: local cores. Measured against a local ``mlflow server`` at 100 maps: 8 threads 2.9x to 9x the
#: sequential floor (BENCHMARKS.md).
MAX_CHILD_THREADS = 8

#: URI schemes of tracking stores reached over HTTP(S), where children are logged in parallel.
#: Local stores (sqlite, file) stay sequential: mlflow's sqlite store serialises writes, and 8
#: threads were measured up to 1.7x slower there.
_HTTP_SCHEMES = frozenset({"http", "https", "databricks"})

_TRUNCATED = "...[truncated]"
#: A name a repeated fit suffixed on the parent: ``<name>_<uuid4 hex>``.
_SUFFIXED = re.compile(r"^(?P<name>.+)_[0-9a-f]{32}$")
_NAME_CHARACTERS = re.compile(r"[/\w.\- :]*")


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

    def fail(self, what: str, error: BaseException) -> str:
        """Record that ``what`` was not logged because of ``error``; return the message recorded."""
        from legacy_mllib_tracking._safety import redact

        message = redact(f"{what} ({type(error).__name__}: {error})")
        with self.lock:
            self.failures.append(message)
        _logger.debug("not logged: %s", what, exc_info=error)
        return message


def open_fit(client: Any, run: Any, mode: str, *, fresh: bool = False) -> FitContext:
    """Return the context of a fit logging into the parent ``run``.

    Args:
        client: the ``MlflowClient`` every write goes through.
        run: the parent run (a ``Run`` or ``ActiveRun``).
        mode: "legacy" or "autolog", recorded on the parent.
        fresh: ``run`` was just created by this library, so nothing was logged into it: the
            taken names are read from ``run`` itself (no params or metrics, the tags it was
            created with) instead of from the store, one ``get_run`` call less per fit.
            Otherwise the run is read from the store once.

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
    )


def _key_hash(key: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, key).hex[:8]


def _name_is_accepted(key: str) -> bool:
    """Whether MLflow accepts ``key`` as a param, tag or metric name (as in
    ``mlflow.utils.validation``, unchanged from mlflow 2.9 to 3.17): only letters, digits, ``_``,
    ``-``, ``.``, space, ``/`` and ``:``, and a path that normalises to itself."""
    if not _NAME_CHARACTERS.fullmatch(key):
        return False
    norm = posixpath.normpath(key)
    return not (norm != key or norm == "." or norm.startswith("..") or norm.startswith("/"))


def safe_key(key: str) -> tuple[str, str | None]:
    """Return the name to log for ``key`` and, when it had to change, why.

    A name MLflow rejects has every character but letters, digits, ``_``, ``-``, ``.``, space and
    ``:`` replaced by ``_`` (``/`` too), and ``_<8 hex>`` of the original appended, so two
    different names do not map to one; a name over 250 characters is cut and gets the same
    suffix. Deterministic: the same key always maps to the same name.
    """
    name, why = key, None
    if not _name_is_accepted(name):
        name = re.sub(r"[^\w.\- :]", "_", name) + "_" + _key_hash(key)
        if name.startswith(".."):  # no "/" is left, so only a leading ".." can still be refused
            name = "_" + name
        why = f"name {key[:40]!r} is not accepted by MLflow, logged as {name[:60]!r}"
    if len(name) > MAX_ENTITY_KEY_LENGTH:
        name = name[: MAX_ENTITY_KEY_LENGTH - 9] + "_" + _key_hash(key)
        why = why or f"key {key[:40]!r}... shortened to {name!r}"
    return name, why


def _limit_key(ctx: FitContext, key: str) -> str:
    name, why = safe_key(key)
    if why is not None:
        ctx.truncated.append(why)
    return name


def _limit_value(ctx: FitContext, key: str, value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    ctx.truncated.append(f"{key!r} ({len(value)} characters, kept {limit})")
    return value[: limit - len(_TRUNCATED)] + _TRUNCATED


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def write_batch(
    ctx: FitContext,
    run_id: str,
    *,
    params: Mapping[str, str] = {},  # read only
    tags: Mapping[str, str] = {},  # read only
    metrics: Mapping[str, float] = {},  # read only
    timestamp_ms: int | None = None,
) -> None:
    """Log params, tags and metrics to ``run_id``, within MLflow's key, value and batch limits."""
    from mlflow.entities import Metric, Param, RunTag

    stamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    param_list = [
        Param(_limit_key(ctx, k), _limit_value(ctx, k, str(v), MAX_PARAM_VAL_LENGTH))
        for k, v in params.items()
    ]
    tag_list = [
        RunTag(_limit_key(ctx, k), _limit_value(ctx, k, str(v), MAX_TAG_VAL_LENGTH))
        for k, v in tags.items()
    ]
    metric_list = [Metric(_limit_key(ctx, k), float(v), stamp, 0) for k, v in metrics.items()]
    entities: list[Any] = [*param_list, *tag_list]
    batches = list(_chunks(entities, MAX_PARAMS_TAGS_PER_BATCH)) or [[]]
    for number, batch in enumerate(batches):
        ctx.client.log_batch(
            run_id,
            metrics=metric_list if number == 0 else [],
            params=[e for e in batch if isinstance(e, Param)],
            tags=[e for e in batch if isinstance(e, RunTag)],
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


def child_threads_override(environ: Mapping[str, str] | None = None) -> int | None:
    """Return the thread count set by env ``LEGACY_MLLIB_TRACKING_CHILD_THREADS``, or ``None``.

    Args:
        environ: the environment (default ``os.environ``); unset or blank means ``None``.

    Raises:
        InvalidOption: the value is not an integer from 1 to :data:`MAX_CHILD_THREADS`.
    """
    text = (os.environ if environ is None else environ).get(ENV_CHILD_THREADS)
    if text is None or not text.strip():
        return None
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_CHILD_THREADS:
        raise InvalidOption(
            f"env {ENV_CHILD_THREADS} must be an integer from 1 to {MAX_CHILD_THREADS} "
            f"(threads that log child runs), got {text!r}"
        )
    return value


def child_threads(tracking_uri: str, maps: int, environ: Mapping[str, str] | None = None) -> int:
    """Return how many threads log ``maps`` child runs to the store at ``tracking_uri``.

    Env ``LEGACY_MLLIB_TRACKING_CHILD_THREADS`` (:func:`child_threads_override`) wins for every
    store. Otherwise: 1 for local stores (sqlite, file) and while mlflow's async logging is on
    (its queue is shared; ``_compat.async_logging_enabled``); for HTTP(S) and Databricks stores
    :data:`MAX_CHILD_THREADS`, fewer when mlflow pools fewer HTTP connections. Never more than
    ``maps``, never less than 1.

    Args:
        tracking_uri: the URI the children are logged to.
        maps: how many children are to be logged.
        environ: the environment (default ``os.environ``).

    Raises:
        InvalidOption: the env value is not an integer from 1 to :data:`MAX_CHILD_THREADS`.
    """
    forced = child_threads_override(environ)
    if forced is not None:
        wanted = forced
    elif _remote_store(tracking_uri) and not _compat.async_logging_enabled():
        wanted = min(MAX_CHILD_THREADS, _compat.http_pool_size())
    else:
        wanted = 1
    return max(1, min(wanted, maps))


def _remote_store(tracking_uri: str) -> bool:
    """Whether ``tracking_uri`` names a store reached over HTTP(S) (a server, Databricks)."""
    uri = tracking_uri.strip().lower()
    return uri == "databricks" or urllib.parse.urlparse(uri).scheme in _HTTP_SCHEMES


def _in_threads(
    todo: list[MapInfo],
    threads: int,
    one: Callable[[MapInfo], None],
    cancel: threading.Event | None,
) -> None:
    """Call ``one`` on each item of ``todo`` from ``threads`` threads (this one among them).

    No item starts once ``cancel`` is set or this thread is interrupted; items in flight finish.
    The extra threads are daemons, each in a copy of this thread's context variables: a call left
    in flight by a cancel never holds the process open.
    """
    items = iter(todo)
    take = threading.Lock()
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set() and not (cancel is not None and cancel.is_set()):
            with take:
                info = next(items, None)
            if info is None:
                return
            one(info)

    helpers: list[threading.Thread] = []
    try:
        for number in range(1, threads):
            helper = threading.Thread(
                target=contextvars.copy_context().run,
                args=(work,),
                name=f"legacy-mllib-tracking-child-{number}",
                daemon=True,
            )
            try:
                helper.start()
            except RuntimeError:  # at the process's thread limit: fewer threads do the work
                break
            helpers.append(helper)
        work()
        for helper in helpers:
            helper.join()
    finally:
        stop.set()


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
            if cancel is not None and cancel.is_set() and _replayed_already(ctx, tags, run):
                return
            write_batch(
                ctx, run.info.run_id, params=info.params, metrics=info.metrics, timestamp_ms=end_ms
            )
            _compat.finish_run(ctx.client, run.info.run_id, "FINISHED", end_ms)
        except Exception as error:
            message = ctx.fail(f"child run for param map {info.index} ({info.run_name})", error)
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
        _in_threads(todo, threads, one, cancel)
    finally:
        _in_map_order(ctx, failed)
    if cancel is None or not cancel.is_set():
        remove_duplicate_children(ctx, dict(ctx.child_runs))


def _replayed_already(ctx: FitContext, tags: Mapping[str, str], run: Any) -> bool:
    """For a child whose create returned after the deadline (its map is in the spool file):
    if ``replay`` already logged that map, delete this late copy and return True."""
    try:
        others = [
            other
            for other in ctx.client.search_runs(
                [ctx.experiment_id],
                filter_string=f"tags.`{TAG_CHILD_KEY}` = '{tags[TAG_CHILD_KEY]}'",
                max_results=10,
            )
            if other.info.run_id != run.info.run_id
        ]
        if others:
            ctx.client.delete_run(run.info.run_id)
        return bool(others)
    except Exception:  # the late copy stays; replay keeps the fuller of the two
        _logger.debug("could not check child %s for a replayed copy", tags.get(TAG_CHILD_KEY))
        return False


def remove_duplicate_children(ctx: FitContext, kept: Mapping[int, str]) -> int:
    """Delete extra child runs of this fit on an HTTP store; return how many were deleted.

    A create that a gateway answered with an error after the server had done it is retried by
    mlflow's HTTP layer (it retries POSTs on 429/5xx and dropped connections), which leaves a
    second run for that map: created, never written to, RUNNING. ``kept`` maps each map index to
    the run the fit used; every other child of the parent whose child key
    (``<fit_id>:<map index>``) names this fit and a map in ``kept`` is such a copy and is deleted
    (``delete_run``: it leaves searches and the UI). Runs of a map without a kept run are left
    for ``replay`` to complete. Local stores do not retry, so nothing is searched there.
    """
    if not kept or not _remote_store(_compat.tracking_uri_of(ctx.client)):
        return 0
    deleted = 0
    try:
        from legacy_mllib_tracking.layout import search_all_runs, split_child_key

        for run in search_all_runs(
            ctx.client, ctx.experiment_id, f"tags.`{TAG_PARENT_RUN_ID}` = '{ctx.parent_run_id}'"
        ):
            fit_id, index = split_child_key(run.data.tags.get(TAG_CHILD_KEY, ""))
            if fit_id != ctx.fit_id or not index or not index.isdigit() or int(index) not in kept:
                continue
            if run.info.run_id != kept[int(index)]:
                ctx.client.delete_run(run.info.run_id)
                deleted += 1
    except Exception as error:
        ctx.fail(f"the removal of duplicate child runs (fit {ctx.fit_id})", error)
    return deleted


def spool_record(
    ctx: FitContext, fit: TuningFit, *, tracking_uri: str, reason: str
) -> dict[str, Any]:
    """Return the part of ``fit``'s layout that ``ctx`` did not log, as a JSON-ready dict."""
    parent: dict[str, Any] = {}
    if not ctx.parent_logged:
        params, tags = parent_content(ctx, fit)
        parent = {
            "params": {**params, **best_params(ctx, fit)},
            "tags": tags,
            "metrics": best_metrics(ctx, fit),
        }
    estimator_name = fit.settings.get("estimator", "")
    with ctx.lock:  # threads of a cancelled log_children may still be adding
        logged = set(ctx.logged_children)
    children = [
        {
            "index": info.index,
            "run_name": ctx.child_run_name(info.run_name),
            "params": dict(info.params),
            "metrics": dict(info.metrics),
            "tags": child_tags(ctx, fit, info, estimator_name),
        }
        for info in fit.maps
        if info.index not in logged
    ]
    return {
        "fit_id": ctx.fit_id,
        "reason": reason,
        "tracking_uri": tracking_uri,
        "parent_run_id": ctx.parent_run_id or None,
        "experiment_id": ctx.experiment_id or None,
        "tuner": fit.tuner_name,
        "mode": ctx.mode,
        "start_ms": ctx.start_ms,
        "parent": parent,
        "children": children,
    }
