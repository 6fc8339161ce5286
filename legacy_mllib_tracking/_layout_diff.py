"""Comparing two tuning run trees: each normalised to its :class:`LayoutShape` (ids, times,
users and uuids away), then diffed in the contract's scope or in full."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from legacy_mllib_tracking._run_tree import RunLayout, inspect_run_layout, tuned_param_names
from legacy_mllib_tracking.keys import (
    AVG_PREFIX,
    BEST_PREFIX,
    PARAM_ESTIMATOR,
    PARAM_EVALUATOR,
    PARAM_METRIC_NAME,
    STD_PREFIX,
    TAG_CHILD_KEY,
    TAG_ESTIMATOR_NAME,
    TAG_FIT_ID,
    TAG_MAP_INDEX,
    TAG_MODE,
    TAG_PARENT_RUN_ID,
    TAG_RUN_NAME,
    TUNER_SETTINGS,
)

__all__ = [
    "ChildShape",
    "LayoutShape",
    "Scope",
    "assert_same_layout",
    "diff_layouts",
    "normalize_layout",
]

#: A ``_<uuid4 hex>`` suffix added to a name on a repeated fit; normalised to ``_<uuid>``.
_UUID_SUFFIX = re.compile(r"_[0-9a-f]{32}$")

#: Tags whose values or presence depend on who ran what, where and when, never on the layout.
_VOLATILE_TAGS = frozenset(
    {
        TAG_RUN_NAME,
        TAG_PARENT_RUN_ID,
        TAG_CHILD_KEY,
        TAG_FIT_ID,
        TAG_MAP_INDEX,
        TAG_MODE,
        "mlflow.user",
        "mlflow.source.name",
        "mlflow.source.type",
        "mlflow.source.git.commit",
        "mlflow.source.git.branch",
        "mlflow.source.git.repoURL",
        "mlflow.log-model.history",
        "mlflow.autologging",
        "mlflow.databricks.notebookID",
        "mlflow.databricks.notebookPath",
        "mlflow.databricks.cluster.id",
    }
)

#: Parent params that are part of the contract (SPEC 5.2), in every tuner.
_CONTRACT_PARENT_PARAMS = frozenset(
    {k for keys in TUNER_SETTINGS.values() for k in keys}
    | {PARAM_ESTIMATOR, PARAM_EVALUATOR, PARAM_METRIC_NAME}
)
_CONTRACT_PARENT_TAGS = frozenset({TAG_ESTIMATOR_NAME})

Scope = Literal["contract", "full"]


def _norm(name: str) -> str:
    return _UUID_SUFFIX.sub("_<uuid>", name)


@dataclass(frozen=True)
class ChildShape:
    """A child run, normalised: what it tested and what it logged.

    Attributes:
        key: its tuned params as ``(name, value)`` pairs in the grid's order; children are
            matched on these pairs whatever their order.
        status: the run status.
        params: every param ``name -> value`` (volatile names normalised).
        metrics: metric ``name -> value``.
        tags: the non-volatile tag names.
    """

    key: tuple[tuple[str, str], ...]
    status: str
    params: Mapping[str, str]
    metrics: Mapping[str, float]
    tags: frozenset[str]


@dataclass(frozen=True)
class LayoutShape:
    """A run layout with volatile values (ids, times, users, random names, uuids) normalised away.

    Attributes:
        params: the parent's params ``name -> value`` (``_<uuid>`` suffixes normalised).
        metrics: the parent's metrics ``name -> value``.
        tags: the parent's non-volatile tag names, with their values for contract tags.
        status: the parent's status.
        children: one :class:`ChildShape` per child, sorted by their sorted key.
    """

    params: Mapping[str, str]
    metrics: Mapping[str, float]
    tags: Mapping[str, str]
    status: str
    children: tuple[ChildShape, ...]


def normalize_layout(layout: RunLayout) -> LayoutShape:
    """Return ``layout`` in a comparable form (see :class:`LayoutShape`)."""
    parent = layout.parent
    children = []
    for child in layout.children:
        siblings = [c for c in layout.children if c.fit_id == child.fit_id]
        tuned = tuned_param_names(child, siblings)
        children.append(
            ChildShape(
                key=tuple((name, child.params.get(name, "")) for name in tuned),
                status=child.status,
                params={_norm(k): v for k, v in child.params.items()},
                metrics={_norm(k): v for k, v in child.metrics.items()},
                tags=frozenset(_norm(k) for k in child.tags if k not in _VOLATILE_TAGS),
            )
        )
    children.sort(key=lambda c: (sorted(c.key), c.key, sorted(c.metrics)))
    return LayoutShape(
        params={_norm(k): v for k, v in parent.params.items()},
        metrics={_norm(k): v for k, v in parent.metrics.items()},
        tags={
            _norm(k): v
            for k, v in parent.tags.items()
            if _norm(k).split("_<uuid>")[0] not in _VOLATILE_TAGS and not k.startswith("mlflow.")
        },
        status=parent.status,
        children=tuple(children),
    )


def _as_shape(value: RunLayout | LayoutShape | str, tracking_uri: str | None) -> LayoutShape:
    if isinstance(value, LayoutShape):
        return value
    if isinstance(value, str):
        value = inspect_run_layout(value, tracking_uri=tracking_uri)
    return normalize_layout(value)


def _contract_parent_param(name: str, tuned: frozenset[str]) -> bool:
    base = name.split("_<uuid>")[0]
    return base in _CONTRACT_PARENT_PARAMS or (
        base.startswith(BEST_PREFIX) and base[len(BEST_PREFIX) :] in tuned
    )


def _contract_metric(name: str) -> bool:
    return name.startswith((AVG_PREFIX, STD_PREFIX, BEST_PREFIX)) or "." not in name


def _compare_maps(
    where: str,
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    *,
    values: bool,
    tolerance: float | None = None,
) -> list[str]:
    out = []
    for key in sorted(set(a) - set(b)):
        out.append(f"{where}: {key!r} only in A")
    for key in sorted(set(b) - set(a)):
        out.append(f"{where}: {key!r} only in B")
    if values:
        for key in sorted(set(a) & set(b)):
            va, vb = a[key], b[key]
            if tolerance is not None and isinstance(va, float) and isinstance(vb, float):
                same = (math.isnan(va) and math.isnan(vb)) or abs(va - vb) <= tolerance
            else:
                same = va == vb
            if not same:
                out.append(f"{where}: {key!r} is {va!r} in A, {vb!r} in B")
    return out


def diff_layouts(
    a: RunLayout | LayoutShape | str,
    b: RunLayout | LayoutShape | str,
    *,
    scope: Scope = "contract",
    metric_tolerance: float | None = None,
    tracking_uri: str | None = None,
) -> list[str]:
    """Compare two run layouts and return readable differences (empty when they match).

    Args:
        a, b: a :class:`RunLayout`, a normalised :class:`LayoutShape`, or a parent run id.
        scope: ``"contract"`` compares only what the run layout guarantees (the tuner's
            settings, the winning values ``best_<tuned param>`` and the best metric on the
            parent, the children
            keyed by their tuned params, their contract metric names and statuses), so
            AUTOLOG's extra params and artifacts are no difference; ``"full"`` compares every
            param (names and values), tag name and metric name of parent and children.
        metric_tolerance: ``None`` compares metric names only; a number also compares values
            within that absolute tolerance.
        tracking_uri: the store to read run ids from (default: MLflow's current one).

    Returns:
        One line per difference, e.g. ``"child {maxDepth=5}: only in A"``.

    Raises:
        ValueError: ``scope`` is not "contract" or "full", or ``metric_tolerance`` is not a
            finite number >= 0.
        RunNotFound: a run id the store does not know.
    """
    if scope not in ("contract", "full"):
        raise ValueError(f"diff_layouts(scope=...) must be 'contract' or 'full', got {scope!r}")
    if metric_tolerance is not None and (
        isinstance(metric_tolerance, bool)
        or not isinstance(metric_tolerance, (int, float))
        or not 0 <= metric_tolerance < math.inf  # also False for NaN
    ):
        raise ValueError(
            "diff_layouts(metric_tolerance=...) must be a finite number >= 0 or None, "
            f"got {metric_tolerance!r}"
        )
    sa, sb = _as_shape(a, tracking_uri), _as_shape(b, tracking_uri)
    contract = scope == "contract"
    values = metric_tolerance is not None
    out: list[str] = []
    if sa.status != sb.status:
        out.append(f"parent: status {sa.status} in A, {sb.status} in B")

    def pick_params(shape: LayoutShape) -> dict[str, str]:
        if not contract:
            return dict(shape.params)
        # "" is pyspark's unset foldCol: autolog logs it, the contract logs foldCol only where set.
        # The winning values are logged as best_<tuned param>, under the children's names.
        tuned = frozenset(name for child in shape.children for name, _ in child.key)
        return {
            k: v for k, v in shape.params.items() if _contract_parent_param(k, tuned) and v != ""
        }

    out += _compare_maps("parent params", pick_params(sa), pick_params(sb), values=True)
    pm_a = {k: v for k, v in sa.metrics.items() if not contract or k.startswith(BEST_PREFIX)}
    pm_b = {k: v for k, v in sb.metrics.items() if not contract or k.startswith(BEST_PREFIX)}
    out += _compare_maps("parent metrics", pm_a, pm_b, values=values, tolerance=metric_tolerance)
    ta = {k: v for k, v in sa.tags.items() if not contract or k in _CONTRACT_PARENT_TAGS}
    tb = {k: v for k, v in sb.tags.items() if not contract or k in _CONTRACT_PARENT_TAGS}
    out += _compare_maps("parent tags", ta, tb, values=contract)

    def label(key: tuple[tuple[str, str], ...]) -> str:
        return "child {" + ",".join(f"{n}={v}" for n, v in key) + "}"

    # Children are matched on their tuned (name, value) pairs in any order, and named by the
    # grid's order (A's where both have the child).
    groups_a: dict[Any, list[ChildShape]] = {}
    groups_b: dict[Any, list[ChildShape]] = {}
    for child in sa.children:
        groups_a.setdefault(tuple(sorted(child.key)), []).append(child)
    for child in sb.children:
        groups_b.setdefault(tuple(sorted(child.key)), []).append(child)
    for match in sorted(set(groups_a) | set(groups_b)):
        ca, cb = groups_a.get(match, []), groups_b.get(match, [])
        key = (ca or cb)[0].key
        if len(ca) != len(cb):
            if not cb:
                out.append(f"{label(key)}: only in A")
            elif not ca:
                out.append(f"{label(key)}: only in B")
            else:
                out.append(f"{label(key)}: {len(ca)} runs in A, {len(cb)} in B")
            continue
        for x, y in zip(ca, cb, strict=True):
            where = label(key)
            if x.status != y.status:
                out.append(f"{where}: status {x.status} in A, {y.status} in B")
            mx = {k: v for k, v in x.metrics.items() if not contract or _contract_metric(k)}
            my = {k: v for k, v in y.metrics.items() if not contract or _contract_metric(k)}
            out += _compare_maps(
                f"{where} metrics", mx, my, values=values, tolerance=metric_tolerance
            )
            if not contract:
                out += _compare_maps(f"{where} params", x.params, y.params, values=True)
                out += _compare_maps(
                    f"{where} tags",
                    dict.fromkeys(x.tags, ""),
                    dict.fromkeys(y.tags, ""),
                    values=False,
                )
    return out


def assert_same_layout(
    a: RunLayout | LayoutShape | str,
    b: RunLayout | LayoutShape | str,
    **options: Any,
) -> None:
    """Raise ``AssertionError`` listing the differences when :func:`diff_layouts` finds any.

    Takes the same options as :func:`diff_layouts`.
    """
    differences = diff_layouts(a, b, **options)
    if differences:
        raise AssertionError(
            f"run layouts differ ({len(differences)}):\n  " + "\n  ".join(differences)
        )
