"""Writes the run layout of one tuning fit to MLflow (SPEC 5), through ``MlflowClient`` only.

A :class:`FitContext` holds what one ``fit()`` call needs to log into its parent run: the names
already taken on the parent (so a repeated fit suffixes them with ``_<uuid>``) and the failures to
report as one warning at the end.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from legacy_mllib_tracking._tuning import MapInfo, TuningFit
from legacy_mllib_tracking.keys import (
    BEST_PREFIX,
    TAG_BEST,
    TAG_CHILD_KEY,
    TAG_ESTIMATOR_CLASS,
    TAG_ESTIMATOR_NAME,
    TAG_FIT_ID,
    TAG_LARGER_IS_BETTER,
    TAG_MAP_INDEX,
    TAG_MODE,
    TAG_PARENT_RUN_ID,
    TAG_RUN_NAME,
    TAG_TUNED_PARAMS,
)

__all__ = ["FitContext", "log_children", "log_parent", "open_fit"]

_logger = logging.getLogger(__name__)

# MLflow's limits, as in mlflow.utils.validation (unchanged from mlflow 2.9 to 3.17).
MAX_ENTITY_KEY_LENGTH = 250
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_PARAMS_TAGS_PER_BATCH = 100

_TRUNCATED = "...[truncated]"


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
    logged_children: set[int] = field(default_factory=set)

    @property
    def repeated(self) -> bool:
        """Whether a tuning fit already logged into this parent."""
        return TAG_ESTIMATOR_NAME in self.taken_tags or TAG_MODE in self.taken_tags

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

    def fail(self, what: str, error: BaseException) -> None:
        """Record that ``what`` was not logged because of ``error``."""
        from legacy_mllib_tracking._safety import redact

        self.failures.append(redact(f"{what} ({type(error).__name__}: {error})"))
        _logger.debug("not logged: %s", what, exc_info=error)


def open_fit(client: Any, run: Any, mode: str) -> FitContext:
    """Read the parent ``run`` once and return the context of a fit logging into it."""
    data = client.get_run(run.info.run_id).data
    try:
        from mlflow.tracking.context import registry

        context_tags = {
            k: v for k, v in registry.resolve_tags().items() if k != TAG_RUN_NAME
        }
    except Exception:  # context providers are best effort, as in mlflow autolog
        context_tags = {}
    return FitContext(
        client=client,
        parent_run_id=run.info.run_id,
        experiment_id=run.info.experiment_id,
        mode=mode,
        taken_params=frozenset(data.params),
        taken_tags=frozenset(data.tags),
        taken_metrics=frozenset(data.metrics),
        child_tags=context_tags,
    )


def _limit_key(ctx: FitContext, key: str) -> str:
    if len(key) <= MAX_ENTITY_KEY_LENGTH:
        return key
    short = key[: MAX_ENTITY_KEY_LENGTH - 9] + "_" + uuid.uuid5(uuid.NAMESPACE_URL, key).hex[:8]
    ctx.truncated.append(f"key {key[:40]!r}... shortened to {short!r}")
    return short


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


def best_metrics(ctx: FitContext, fit: TuningFit) -> dict[str, float]:
    """Return the parent's ``best_<metric>`` metric, suffixed on a clash; empty without a best."""
    value = fit.best_metric
    if value is None or fit.metric_key is None:
        return {}
    return {ctx.metric_key(BEST_PREFIX + fit.metric_key): value}


def log_parent(ctx: FitContext, fit: TuningFit, *, settings: bool = True) -> None:
    """Log the tuner's settings (unless ``settings=False``) and the best metric on the parent."""
    params, tags = parent_content(ctx, fit) if settings else ({}, {})
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
            TAG_RUN_NAME: info.run_name,
            TAG_MAP_INDEX: str(info.index),
            TAG_FIT_ID: ctx.fit_id,
            TAG_CHILD_KEY: f"{ctx.fit_id}:{info.index}",
            TAG_ESTIMATOR_NAME: estimator_name,
            TAG_TUNED_PARAMS: json.dumps(sorted(info.params)),
        }
    )
    if info.index == fit.best_index:
        tags[TAG_BEST] = "true"
    return tags


def log_children(
    ctx: FitContext,
    fit: TuningFit,
    maps: Iterable[MapInfo] | None = None,
    *,
    cancel: threading.Event | None = None,
) -> None:
    """Create one FINISHED child run per param map, with its tuned params and metrics.

    Stops before the next child once ``cancel`` is set; ``ctx.logged_children`` says which
    children were logged.
    """
    end_ms = int(time.time() * 1000)
    estimator_name = fit.settings.get("estimator", "")
    for info in fit.maps if maps is None else maps:
        if cancel is not None and cancel.is_set():
            return
        try:
            tags = child_tags(ctx, fit, info, estimator_name)
            run = ctx.client.create_run(
                ctx.experiment_id, start_time=ctx.start_ms, tags=tags, run_name=info.run_name
            )
            write_batch(
                ctx, run.info.run_id, params=info.params, metrics=info.metrics, timestamp_ms=end_ms
            )
            ctx.client.set_terminated(run.info.run_id, "FINISHED", end_time=end_ms)
            ctx.logged_children.add(info.index)
        except Exception as error:
            ctx.fail(f"child run for param map {info.index} ({info.run_name})", error)


def spool_record(
    ctx: FitContext, fit: TuningFit, *, tracking_uri: str, reason: str
) -> dict[str, Any]:
    """Return the part of ``fit``'s layout that ``ctx`` did not log, as a JSON-ready dict."""
    parent: dict[str, Any] = {}
    if not ctx.parent_logged:
        params, tags = parent_content(ctx, fit)
        parent = {"params": params, "tags": tags, "metrics": best_metrics(ctx, fit)}
    estimator_name = fit.settings.get("estimator", "")
    children = [
        {
            "index": info.index,
            "run_name": info.run_name,
            "params": dict(info.params),
            "metrics": dict(info.metrics),
            "tags": child_tags(ctx, fit, info, estimator_name),
        }
        for info in fit.maps
        if info.index not in set(ctx.logged_children)
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
