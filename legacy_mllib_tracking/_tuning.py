"""What a pyspark tuning fit says about itself, as plain Python values.

Reads ``CrossValidator`` / ``TrainValidationSplit`` objects and their models; never writes to
MLflow. pyspark is imported inside functions only.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from legacy_mllib_tracking import _compat
from legacy_mllib_tracking.errors import NotATuningEstimator
from legacy_mllib_tracking.keys import (
    AVG_PREFIX,
    PARAM_ESTIMATOR,
    PARAM_EVALUATOR,
    PARAM_METRIC_NAME,
    STD_PREFIX,
    TUNER_SETTINGS,
)

__all__ = [
    "MapInfo",
    "TuningFit",
    "describe_fit",
    "grid_params",
    "grid_run_names",
    "is_tuner",
    "nested_tuner_uids",
    "parent_run_name",
    "tuner_classes",
]

#: Longest child run name; longer names end in "...".
MAX_RUN_NAME = 80


def tuner_classes() -> tuple[type, ...]:
    """Return pyspark's tuning estimator classes (CrossValidator, TrainValidationSplit)."""
    from pyspark.ml.tuning import CrossValidator, TrainValidationSplit

    return (CrossValidator, TrainValidationSplit)


def is_tuner(obj: object) -> bool:
    """Return whether ``obj`` is a ``CrossValidator`` or ``TrainValidationSplit``."""
    return isinstance(obj, tuner_classes())


def _params_children(stage: Any) -> Iterator[Any]:
    """Yield the Params objects a stage holds: Pipeline stages, Params-valued params."""
    from pyspark.ml import Pipeline
    from pyspark.ml.param import Params

    if isinstance(stage, Pipeline):
        yield from stage.getStages()
        return
    for param in stage.params:
        if stage.isDefined(param):
            value = stage.getOrDefault(param)
            if isinstance(value, Params):
                yield value


def _walk(stage: Any) -> Iterator[Any]:
    """Depth-first walk over a stage and everything it holds (mlflow autolog's order)."""
    yield stage
    for child in _params_children(stage):
        yield from _walk(child)


def nested_tuner_uids(tuner: Any) -> frozenset[str]:
    """Return the uids of tuners nested anywhere inside ``tuner`` (not its own uid).

    Covers the tuned estimator, Pipeline stages, Params-valued params and Params values in the
    param grid. pyspark's ``copy()`` keeps the uid, so the copies fitted per param map match.
    """
    from pyspark.ml.param import Params

    found: set[str] = set()
    roots = [tuner.getEstimator()]
    for param_map in tuner.getEstimatorParamMaps() or []:
        roots.extend(v for v in param_map.values() if isinstance(v, Params))
    for root in roots:
        for stage in _walk(root):
            if is_tuner(stage) and stage.uid != tuner.uid:
                found.add(stage.uid)
                found |= nested_tuner_uids(stage)
    return frozenset(found)


def indexed_names(estimator: Any) -> dict[str, str]:
    """Map each uid in ``estimator``'s tree to its class name, ``Class_<n>`` when a class repeats.

    This is mlflow's pyspark.ml autolog naming (mlflow 2.x and 3.x), so qualified names match it.
    """
    order: list[tuple[str, str]] = []
    seen: set[str] = set()
    for stage in _walk(estimator):
        if stage.uid not in seen:
            seen.add(stage.uid)
            order.append((stage.uid, type(stage).__name__))
    totals = Counter(name for _, name in order)
    counts: Counter[str] = Counter()
    names = {}
    for uid, name in order:
        counts[name] += 1
        names[uid] = f"{name}_{counts[name]}" if totals[name] > 1 else name
    return names


def format_value(value: Any) -> str:
    """Return the string MLflow stores for a param value (Params objects by class name)."""
    from pyspark.ml.param import Params

    if isinstance(value, Params):
        return type(value).__name__
    return str(value)


@dataclass(frozen=True)
class MapInfo:
    """One param map of the grid, ready to log as a child run.

    Attributes:
        index: position in ``getEstimatorParamMaps()``.
        params: logged name -> value string (bare Spark names, qualified only on a clash), in the
            grid's order (the order the user built it in), as in ``run_name``.
        metrics: metric key -> value (``avg_``/``std_`` for CV, bare for TVS).
        run_name: a short name saying which map it tested, e.g. ``maxDepth=5,maxBins=8``.
    """

    index: int
    params: Mapping[str, str]
    metrics: Mapping[str, float]
    run_name: str


@dataclass(frozen=True)
class TuningFit:
    """Everything the run layout needs from one tuning fit.

    Attributes:
        tuner_name: ``CrossValidator`` or ``TrainValidationSplit``.
        tuner_class: fully qualified class name of the tuner.
        settings: the parent's params (tuner settings, estimator, evaluator, metricName).
        metric_key: the child metric compared across maps (``avg_f1`` or ``f1``).
        larger_is_better: from the evaluator.
        maps: one :class:`MapInfo` per param map (empty until a model is given).
        best_index: index of the best map, ``None`` when there is no comparable metric.
    """

    tuner_name: str
    tuner_class: str
    settings: Mapping[str, str]
    metric_key: str | None
    larger_is_better: bool
    maps: Sequence[MapInfo]
    best_index: int | None

    @property
    def best_metric(self) -> float | None:
        """The best map's metric value, or ``None``."""
        if self.best_index is None or self.metric_key is None:
            return None
        return self.maps[self.best_index].metrics.get(self.metric_key)


def map_param_names(param_maps: Sequence[Mapping[Any, Any]], estimator: Any) -> dict[Any, str]:
    """Return the logged name of each tuned Param: bare, or ``Stage.name`` on a real clash."""
    params = {p for m in param_maps for p in m}
    by_name = Counter(p.name for p in params)
    owners = indexed_names(estimator)
    names = {}
    for param in params:
        if by_name[param.name] > 1:
            owner = owners.get(param.parent, param.parent)
            names[param] = f"{owner}.{param.name}"
        else:
            names[param] = param.name
    return names


def grid_params(tuner: Any) -> list[dict[str, str]]:
    """Return, per param map of ``tuner``'s grid, the tuned params under their logged names."""
    param_maps = list(tuner.getEstimatorParamMaps() or [])
    names = map_param_names(param_maps, tuner.getEstimator())
    return [_grid_order(m, names) for m in param_maps]


def grid_run_names(tuner: Any) -> list[str]:
    """Return, per param map of ``tuner``'s grid, the child run name (``maxDepth=5,maxBins=8``)."""
    return [_run_name(params) for params in grid_params(tuner)]


def _run_name(params: Mapping[str, str]) -> str:
    text = ",".join(f"{k}={v}" for k, v in params.items())
    if len(text) > MAX_RUN_NAME:
        text = text[: MAX_RUN_NAME - 3] + "..."
    return text or "default"


def parent_run_name(tuner: Any) -> str:
    """Return the name of a parent run the library creates for ``tuner``: the tuner's and the
    tuned estimator's class names, ``CrossValidator(LogisticRegression)``."""
    try:
        estimator = tuner.getEstimator()
    except Exception:  # a tuner without an estimator: pyspark fails later, with its own error
        estimator = None
    if estimator is None:
        return type(tuner).__name__
    return f"{type(tuner).__name__}({type(estimator).__name__})"


def _settings(tuner: Any) -> dict[str, str]:
    keys = next((v for k, v in TUNER_SETTINGS.items() if _is_a(tuner, k)), ())
    out: dict[str, str] = {}
    for key in keys:
        if not tuner.hasParam(key):
            continue  # e.g. foldCol before pyspark 3.1
        param = tuner.getParam(key)
        if not tuner.isDefined(param):
            continue
        value = tuner.getOrDefault(param)
        if key == "foldCol" and not value:
            continue  # "" is pyspark's "not set"
        out[key] = format_value(value)
    estimator = tuner.getEstimator()
    evaluator = tuner.getEvaluator()
    if estimator is not None:
        out[PARAM_ESTIMATOR] = type(estimator).__name__
    if evaluator is not None:
        out[PARAM_EVALUATOR] = type(evaluator).__name__
        metric = _metric_name(evaluator)
        if metric is not None:
            out[PARAM_METRIC_NAME] = metric
    return out


def _is_a(tuner: Any, class_name: str) -> bool:
    return any(cls.__name__ == class_name for cls in type(tuner).__mro__)


def _metric_name(evaluator: Any) -> str | None:
    try:
        return str(evaluator.getMetricName())
    except Exception:  # a custom Evaluator without metricName
        return None


def _larger_is_better(evaluator: Any) -> bool:
    try:
        return bool(evaluator.isLargerBetter())
    except Exception:
        return True


def describe_fit(tuner: Any, model: Any | None = None) -> TuningFit:
    """Describe a tuning fit: the parent's settings, and with ``model`` one entry per param map.

    Args:
        tuner: the ``CrossValidator`` / ``TrainValidationSplit`` that was fitted (with the fit's
            extra params already applied).
        model: the fitted ``CrossValidatorModel`` / ``TrainValidationSplitModel``, or ``None``.

    Returns:
        The :class:`TuningFit`.

    Raises:
        NotATuningEstimator: ``tuner`` is not a tuning estimator.
    """
    if not is_tuner(tuner):
        raise NotATuningEstimator(
            f"expected a pyspark.ml.tuning.CrossValidator or TrainValidationSplit, got "
            f"{tuner!r} of type {type(tuner).__module__}.{type(tuner).__qualname__}"
        )
    cross_validation = _is_a(tuner, "CrossValidator")
    evaluator = tuner.getEvaluator()
    metric = _metric_name(evaluator) or "metric"
    metric_key = (AVG_PREFIX + metric) if cross_validation else metric
    larger = _larger_is_better(evaluator)
    param_maps = list(tuner.getEstimatorParamMaps() or [])
    maps: list[MapInfo] = []
    best: int | None = None
    if model is not None:
        if cross_validation:
            series = {metric_key: list(model.avgMetrics)}
            std = _compat.cv_std_metrics(model)
            if std:
                series[STD_PREFIX + metric] = std
        else:
            series = {metric_key: list(model.validationMetrics)}
        names = map_param_names(param_maps, tuner.getEstimator())
        for index, param_map in enumerate(param_maps):
            params = _grid_order(param_map, names)
            metrics = {k: float(v[index]) for k, v in series.items() if index < len(v)}
            maps.append(MapInfo(index, params, metrics, _run_name(params)))
        best = _best(maps, metric_key, larger)
    return TuningFit(
        tuner_name=type(tuner).__name__,
        tuner_class=f"{type(tuner).__module__}.{type(tuner).__qualname__}",
        settings=_settings(tuner),
        metric_key=metric_key,
        larger_is_better=larger,
        maps=tuple(maps),
        best_index=best,
    )


def _grid_order(param_map: Mapping[Any, Any], names: Mapping[Any, str]) -> dict[str, str]:
    """Map params in the grid's own order (the order the user built it in)."""
    return {names[p]: format_value(v) for p, v in param_map.items()}


def _best(maps: Sequence[MapInfo], key: str, larger: bool) -> int | None:
    best: int | None = None
    best_value = 0.0
    for info in maps:
        value = info.metrics.get(key)
        if value is None or math.isnan(value):
            continue
        if best is None or (value > best_value if larger else value < best_value):
            best, best_value = info.index, value
    return best
