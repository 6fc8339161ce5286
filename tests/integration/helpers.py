"""Helpers shared by the integration tests: lean autolog options, the configure call, and the
run-layout contract of SPEC 5 asserted on a logged tree."""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from legacy_mllib_tracking import configure, inspect_run_layout
from legacy_mllib_tracking.keys import (
    BEST_PREFIX,
    TAG_BEST,
    TAG_MODE,
    TAG_PARENT_RUN_ID,
    TUNER_SETTINGS,
)

from .builders import METRIC, grid_values

#: autolog options that keep autologged fits fast: no model or dataset logging.
LEAN = {"log_models": False, "log_datasets": False}


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll ``condition`` every 50 ms until it holds or ``timeout`` seconds passed; return it."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def logging_threads_done() -> bool:
    """Whether no thread of the library's logging (``legacy-mllib-tracking-*``) is alive."""
    return not any(t.name.startswith("legacy-mllib-tracking-") for t in threading.enumerate())


def configure_mode(spark: Any, mode: str, **options: Any) -> None:
    """Force ``mode``, with :data:`LEAN` autolog options in AUTOLOG; ``options`` go to configure."""
    configure(spark, mode=mode, autolog_options=LEAN if mode == "autolog" else None, **options)


def metric_key(kind: str) -> str:
    """The child metric of :func:`builders.tuner`'s ``kind`` (``avg_`` before it for ``cv``)."""
    return f"avg_{METRIC}" if kind == "cv" else METRIC


def assert_contract(
    run_id: str,
    *,
    kind: str,
    mode: str,
    fits: int = 1,
    grid: Mapping[str, Sequence[str]] | None = None,
) -> Any:
    """Assert SPEC 5 on the tree under ``run_id`` and return its layout.

    ``grid``: each tuned param's values as logged, in grid order (default: builders.tuner's).
    """
    if grid is None:
        grid = {"regParam": ("0.01", "0.5"), "elasticNetParam": ("0.0", "1.0")}
        assert set(itertools.product(*grid.values())) == grid_values()
    maps = math.prod(len(values) for values in grid.values())
    layout = inspect_run_layout(run_id)
    parent = layout.parent
    settings = TUNER_SETTINGS["CrossValidator" if kind == "cv" else "TrainValidationSplit"]
    for key in (*[k for k in settings if k != "foldCol"], "estimator", "evaluator", "metricName"):
        assert key in parent.params, f"parent lacks param {key!r}: {sorted(parent.params)}"
    assert parent.params["metricName"] == METRIC
    assert parent.tags[TAG_MODE] == mode
    metric = metric_key(kind)
    assert BEST_PREFIX + metric in parent.metrics
    assert len(layout.children) == maps * fits
    seen = []
    for child in layout.children:
        assert child.status == "FINISHED"
        assert child.tags[TAG_PARENT_RUN_ID] == run_id
        assert metric in child.metrics
        if kind == "cv":
            assert f"std_{METRIC}" in child.metrics
        seen.append(tuple(child.params[name] for name in grid))
        assert child.map_index in range(maps)
    assert sorted(seen) == sorted(list(itertools.product(*grid.values())) * fits)
    by_fit: dict[str, list[Any]] = {}
    for child in layout.children:  # grouped by fit, first fit first
        by_fit.setdefault(child.fit_id, []).append(child)
    assert len(by_fit) == fits
    best_values = []
    for number, (fit_id, children) in enumerate(by_fit.items(), start=1):
        assert [c.map_index for c in children] == list(range(maps))
        # run names say the map in the grid's order, and the fit when the run holds several
        prefix = "" if number == 1 else f"fit {number}: "
        for child in children:
            assert child.name == prefix + ",".join(f"{n}={child.params[n]}" for n in grid)
        best = [c for c in children if c.tags.get(TAG_BEST) == "true"]
        assert len(best) == 1
        best_value = max(c.metrics[metric] for c in children)
        assert best[0].metrics[metric] == pytest.approx(best_value)
        best_values.append(best_value)
        # the winning values on the parent, under the children's bare names (suffixed per fit)
        suffix = "" if number == 1 else f"_{fit_id}"
        for name in grid:
            assert parent.params[f"{BEST_PREFIX}{name}{suffix}"] == best[0].params[name], sorted(
                parent.params
            )
    best_on_parent = [v for k, v in parent.metrics.items() if k.startswith(BEST_PREFIX + metric)]
    assert sorted(best_on_parent) == pytest.approx(sorted(best_values))
    # A saved search on the bare name finds the children (also for a tuned Pipeline).
    name, values = next(iter(grid.items()))
    found = MlflowClient().search_runs(
        [mlflow.get_run(run_id).info.experiment_id],
        filter_string=f"params.{name} = '{values[-1]}' and tags.`{TAG_PARENT_RUN_ID}` = '{run_id}'",
    )
    assert len(found) == maps // len(values) * fits
    return layout
