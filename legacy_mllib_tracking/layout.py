"""A read-only view of a tuning run tree: a parent and its child runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from legacy_mllib_tracking.errors import RunNotFound
from legacy_mllib_tracking.keys import TAG_BEST, TAG_MAP_INDEX, TAG_PARENT_RUN_ID, TAG_RUN_NAME

__all__ = ["RunLayout", "RunView", "inspect_run_layout"]

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
        """The child's param-map index tag, or ``None``."""
        value = self.tags.get(TAG_MAP_INDEX)
        return int(value) if value is not None and value.isdigit() else None

    @property
    def is_best(self) -> bool:
        """Whether this child is tagged as the best of its fit."""
        return self.tags.get(TAG_BEST) == "true"


@dataclass(frozen=True)
class RunLayout:
    """A parent run and its children, children ordered by map index, then start time."""

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
        raise RunNotFound(
            f"run {run_id!r} not found in tracking store {client.tracking_uri!r}: {error.message}"
        ) from None
    children: list[RunView] = []
    token = None
    while True:
        page = client.search_runs(
            [parent.info.experiment_id],
            filter_string=f"tags.`{TAG_PARENT_RUN_ID}` = '{run_id}'",
            max_results=_PAGE,
            page_token=token,
        )
        children.extend(_view(r) for r in page)
        token = page.token
        if not token:
            break
    children.sort(
        key=lambda c: (c.map_index is None, c.map_index or 0, c.start_time, c.run_id)
    )
    return RunLayout(_view(parent), tuple(children))
