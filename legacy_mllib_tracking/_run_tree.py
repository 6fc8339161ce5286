"""Reading a tuning run tree (a parent and its children) from an MLflow tracking store."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from legacy_mllib_tracking.errors import RunNotFound
from legacy_mllib_tracking.keys import (
    TAG_BEST,
    TAG_CHILD_KEY,
    TAG_FIT_ID,
    TAG_MAP_INDEX,
    TAG_PARENT_RUN_ID,
    TAG_RUN_NAME,
    TAG_TUNED_PARAMS,
)

__all__ = [
    "RunLayout",
    "RunView",
    "fits_in_order",
    "inspect_run_layout",
    "search_all_runs",
    "split_child_key",
    "tuned_param_names",
]

_PAGE = 1000
#: mlflow's error codes for a run id the store does not know (or refuses as an id).
_NOT_FOUND = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})


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
        RunNotFound: the store has no run ``run_id`` (or refuses it as an id).
        mlflow.exceptions.MlflowException: the store could not be read (missing credentials,
            a refusal, a server error).
    """
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = client or MlflowClient(tracking_uri=tracking_uri)
    try:
        parent = client.get_run(run_id)
    except MlflowException as error:
        if error.error_code not in _NOT_FOUND:  # e.g. no credentials: the store did not answer
            raise
        from legacy_mllib_tracking._safety import redact

        # mlflow's own message only says it again ("Run with id=... not found")
        raise RunNotFound(
            f"run {run_id!r} not found in tracking store {redact(client.tracking_uri)!r}"
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
