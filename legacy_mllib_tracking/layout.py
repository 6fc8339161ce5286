"""A read-only view of a tuning run tree (a parent and its children), and comparing two trees."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from legacy_mllib_tracking.errors import RunNotFound
from legacy_mllib_tracking.keys import (
    AVG_PREFIX,
    BEST_PREFIX,
    PARAM_ESTIMATOR,
    PARAM_EVALUATOR,
    PARAM_METRIC_NAME,
    STD_PREFIX,
    TAG_BEST,
    TAG_CHILD_KEY,
    TAG_ESTIMATOR_NAME,
    TAG_FIT_ID,
    TAG_MAP_INDEX,
    TAG_MODE,
    TAG_PARENT_RUN_ID,
    TAG_RUN_NAME,
    TAG_TUNED_PARAMS,
    TUNER_SETTINGS,
)

__all__ = [
    "ChildShape",
    "LayoutShape",
    "RunLayout",
    "RunView",
    "assert_same_layout",
    "diff_layouts",
    "inspect_run_layout",
    "normalize_layout",
]

_PAGE = 1000


@dataclass(frozen=True)
class RunView:
    """One run as the layout sees it.

    Attributes:
        run_id, name, status: MLflow's run id, run name and status ("FINISHED", ...).
        params, metrics, tags: the run's data (metrics: latest value per key).
        start_time, end_time: milliseconds since the epoch (``end_time`` ``None`` while running).
    """

    run_id: str
    name: str
    status: str
    params: Mapping[str, str]
    metrics: Mapping[str, float]
    tags: Mapping[str, str]
    start_time: int
    end_time: int | None

    @property
    def map_index(self) -> int | None:
        """The child's param-map index (from its child key), or ``None``."""
        value = self.tags.get(TAG_MAP_INDEX)  # runs logged by earlier versions
        if value is None:
            value = split_child_key(self.tags.get(TAG_CHILD_KEY, ""))[1]
        return int(value) if value is not None and value.isdigit() else None

    @property
    def fit_id(self) -> str | None:
        """The uuid of the ``fit()`` call that logged this child (from its child key), or
        ``None`` (a run logged without this library)."""
        value = self.tags.get(TAG_FIT_ID)  # runs logged by earlier versions
        if value is None:
            value = split_child_key(self.tags.get(TAG_CHILD_KEY, ""))[0]
        return value or None

    @property
    def is_best(self) -> bool:
        """Whether this child is tagged as the best of its fit."""
        return self.tags.get(TAG_BEST) == "true"


@dataclass(frozen=True)
class RunLayout:
    """A parent run and its children, grouped by fit (in the order the fits started), each fit's
    children ordered by map index, then start time."""

    parent: RunView
    children: tuple[RunView, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""

        def view(run: RunView) -> dict[str, Any]:
            return {
                "run_id": run.run_id,
                "name": run.name,
                "status": run.status,
                "params": dict(run.params),
                "metrics": dict(run.metrics),
                "tags": dict(run.tags),
            }

        return {"parent": view(self.parent), "children": [view(c) for c in self.children]}


def split_child_key(key: str) -> tuple[str | None, str | None]:
    """Split a child key ``<fit_id>:<map index>`` into its two parts (``None`` where absent)."""
    fit_id, sep, index = key.rpartition(":")
    if not sep:
        return None, None
    return fit_id or None, index or None


def fits_in_order(children: Sequence[RunView]) -> list[str | None]:
    """Return the fit ids of ``children`` in the order the fits started (first fit first).

    A fit's children share a start time (LEGACY: the fit's start; autolog: the parent's, the
    same for every fit) and an end time (when the fit logged them), so fits are ordered by their
    earliest child's start, then end time. Children without a fit id (runs logged without this
    library) form one fit, ``None``.
    """
    never = 2**63
    started: dict[str | None, tuple[int, int, str]] = {}
    for child in children:
        end = child.end_time if child.end_time is not None else never
        key = (child.start_time, end, child.run_id)
        if child.fit_id not in started or key < started[child.fit_id]:
            started[child.fit_id] = key
    return sorted(started, key=lambda fit: started[fit])


def _view(run: Any) -> RunView:
    tags = dict(run.data.tags)
    return RunView(
        run_id=run.info.run_id,
        name=getattr(run.info, "run_name", None) or tags.get(TAG_RUN_NAME, ""),
        status=run.info.status,
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        tags=tags,
        start_time=run.info.start_time,
        end_time=run.info.end_time,
    )


def search_all_runs(client: Any, experiment_id: str, filter_string: str) -> Iterator[Any]:
    """Yield every run of ``experiment_id`` that matches ``filter_string``, page after page."""
    token = None
    while True:
        page = client.search_runs(
            [experiment_id], filter_string=filter_string, max_results=_PAGE, page_token=token
        )
        yield from page
        token = page.token
        if not token:
            return


def inspect_run_layout(
    run_id: str, *, tracking_uri: str | None = None, client: Any | None = None
) -> RunLayout:
    """Read the run tree under ``run_id``: the run itself and every run tagged as its child.

    Args:
        run_id: the parent run's id.
        tracking_uri: the tracking store (default: MLflow's current tracking URI).
        client: an ``MlflowClient`` to use instead of creating one.

    Returns:
        The :class:`RunLayout`.

    Raises:
        RunNotFound: the store has no run ``run_id``.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = client or MlflowClient(tracking_uri=tracking_uri)
    try:
        parent = client.get_run(run_id)
    except MlflowException as error:
        from legacy_mllib_tracking._safety import redact

        raise RunNotFound(
            f"run {run_id!r} not found in tracking store {redact(client.tracking_uri)!r}: "
            + redact(" ".join(str(error.message).split()))
        ) from None
    children = [
        _view(r)
        for r in search_all_runs(
            client, parent.info.experiment_id, f"tags.`{TAG_PARENT_RUN_ID}` = '{run_id}'"
        )
    ]
    order = {fit: n for n, fit in enumerate(fits_in_order(children))}
    children.sort(
        key=lambda c: (
            order[c.fit_id],
            c.map_index is None,
            c.map_index or 0,
            c.start_time,
            c.run_id,
        )
    )
    return RunLayout(_view(parent), tuple(children))


# --- comparing layouts ---------------------------------------------------------------------------

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


def tuned_param_names(child: RunView, siblings: Sequence[RunView]) -> tuple[str, ...]:
    """Return the names of ``child``'s tuned params, in the grid's order.

    From its ``tuned_params`` tag (earlier versions hold them sorted by name). A run logged
    without the tag (an old Databricks run, plain autolog) counts the params whose values differ
    across ``siblings`` (the children of its fit), sorted; a qualified ``Stage.name`` only where
    no bare ``name`` differs too.
    """
    raw = child.tags.get(TAG_TUNED_PARAMS)
    if raw:
        try:
            names = json.loads(raw)
        except ValueError:
            names = None
        if isinstance(names, list):
            return tuple(str(name) for name in names)
    varying = sorted(k for k in child.params if len({s.params.get(k) for s in siblings}) > 1)
    bare = {k for k in varying if "." not in k}
    return tuple(k for k in varying if "." not in k or k.rsplit(".", 1)[1] not in bare)


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
        scope: ``"contract"`` compares only what SPEC 5 guarantees (the tuner's settings, the
            winning values ``best_<tuned param>`` and the best metric on the parent, the children
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
