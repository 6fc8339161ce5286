"""Rendering a tuning run tree as text: what ``legacy-mllib-tracking tree`` and the demo print."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

from legacy_mllib_tracking._run_tree import (
    RunLayout,
    RunView,
    fits_in_order,
    tuned_param_names,
)
from legacy_mllib_tracking.keys import (
    AVG_PREFIX,
    STD_PREFIX,
    TAG_ESTIMATOR_NAME,
    TAG_LARGER_IS_BETTER,
)

__all__ = ["render_tree"]


def _fmt_metric(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isnan(value):
        return "nan"
    return f"{value:.4f}"


def render_tree(layout: RunLayout, *, width: int = 80) -> str:
    """Render a run layout as text: the parent, then one row per child (tuned params, metric).

    Children are sorted by the tuned metric, best first (larger-is-better as the parent's
    ``legacy_mllib_tracking.larger_is_better`` tag says, else as the best-tagged child shows),
    the best child is marked with ``*``, and tuned params are shown in the grid's order. A run
    holding more than one tuning fit shows one group per fit (``fit 2 of 2: ...``), in the order
    the fits started, each with its own best.
    """
    parent = layout.parent
    lines = [
        f"parent run {parent.run_id}  {parent.status}  "
        f"{parent.tags.get(TAG_ESTIMATOR_NAME, '')}".rstrip()[:width]
    ]
    settings = ", ".join(
        f"{k}={parent.params[k]}"
        for k in ("estimator", "evaluator", "metricName", "numFolds", "trainRatio", "seed")
        if k in parent.params
    )
    if settings:
        lines.extend(
            textwrap.wrap(settings, width=width, initial_indent="  ", subsequent_indent="  ")
        )
    fits = fits_in_order(layout.children)
    marked = False
    for number, fit_id in enumerate(fits, start=1):
        children = [c for c in layout.children if c.fit_id == fit_id]
        if len(fits) > 1:
            tuner = _fit_tag(parent, TAG_ESTIMATOR_NAME, fit_id) or "tuning fit"
            heading = f"  fit {number} of {len(fits)}: {tuner}, {len(children)} child runs"
            lines.append((heading + (f", fit id {fit_id[:8]}" if fit_id else ""))[:width])
        group, best = _render_fit(parent, fit_id, children, width)
        lines.extend(group)
        marked = marked or best
    footer = f"  {len(layout.children)} child runs"
    if marked:
        footer += "; * marks the best" + (" of each fit" if len(fits) > 1 else "")
    lines.append(footer)
    return "\n".join(lines)


def _fit_tag(parent: RunView, key: str, fit_id: str | None) -> str | None:
    """The parent's tag ``key`` as the fit ``fit_id`` logged it: suffixed ``_<fit_id>`` for a
    repeated fit, bare for the first."""
    value = parent.tags.get(f"{key}_{fit_id}") if fit_id else None
    if value is None:
        value = parent.tags.get(key)
    return None if value is None else str(value)


def _render_fit(
    parent: RunView, fit_id: str | None, children: list[RunView], width: int
) -> tuple[list[str], bool]:
    """The header and child rows of one fit; and whether a child is marked best."""
    metric = _metric_key(children)
    best = [c for c in children if c.is_best]
    larger = True
    flagged = _fit_tag(parent, TAG_LARGER_IS_BETTER, fit_id)
    if flagged in ("true", "false"):
        larger = flagged == "true"
    elif best and metric is not None:
        # NaN is left out: min()/max() over a list that starts with NaN return NaN.
        values = [
            value
            for value in (c.metrics.get(metric) for c in children)
            if value is not None and not math.isnan(value)
        ]
        best_value = best[0].metrics.get(metric)
        if values and best_value is not None and best_value == min(values) != max(values):
            larger = False
    if metric is not None:

        def key(child: RunView) -> tuple[bool, float]:
            value = child.metrics.get(metric)
            if value is None or math.isnan(value):
                return (True, 0.0)
            return (False, -value if larger else value)

        children = sorted(children, key=key)
    # The grid's order: children hold their tuned names in it (map order, first seen first).
    in_map_order = sorted(children, key=lambda c: (c.map_index is None, c.map_index or 0))
    tuned = list(dict.fromkeys(n for c in in_map_order for n in tuned_param_names(c, children)))
    header = f"  {'':1} {'child':<8} {metric or 'metric':>16}  tuned params"
    lines = [header[:width]]
    for child in children:
        params = ",".join(f"{k}={child.params[k]}" for k in tuned if k in child.params)
        mark = "*" if child.is_best else " "
        value = _fmt_metric(child.metrics.get(metric or ""))
        row = f"  {mark} {child.run_id[:8]:<8} {value:>16}  {params}"
        if len(row) > width:
            row = row[: width - 3] + "..."
        lines.append(row)
    return lines, bool(best)


def _metric_key(children: Sequence[RunView]) -> str | None:
    for child in children:
        for key in child.metrics:
            if key.startswith(AVG_PREFIX):
                return str(key)
    for child in children:
        for key in child.metrics:
            if not key.startswith(STD_PREFIX):
                return str(key)
    return None
