"""A tuning run tree (a parent and its children): reading it, comparing two, rendering one.

The code lives in three private modules, one idea each, re-exported here:

- reading the tree from a tracking store: :func:`inspect_run_layout`, :class:`RunLayout`,
  :class:`RunView` (``_run_tree``);
- comparing two trees: :func:`normalize_layout`, :func:`diff_layouts`,
  :func:`assert_same_layout` (``_layout_diff``);
- rendering a tree as text, as ``legacy-mllib-tracking tree`` prints it: :func:`render_tree`
  (``_render``).
"""

from __future__ import annotations

from legacy_mllib_tracking._layout_diff import (
    ChildShape,
    LayoutShape,
    Scope,
    assert_same_layout,
    diff_layouts,
    normalize_layout,
)
from legacy_mllib_tracking._render import render_tree
from legacy_mllib_tracking._run_tree import (
    RunLayout,
    RunView,
    fits_in_order,
    inspect_run_layout,
    search_all_runs,
    split_child_key,
    tuned_param_names,
)

__all__ = [
    "ChildShape",
    "LayoutShape",
    "RunLayout",
    "RunView",
    "Scope",
    "assert_same_layout",
    "diff_layouts",
    "fits_in_order",
    "inspect_run_layout",
    "normalize_layout",
    "render_tree",
    "search_all_runs",
    "split_child_key",
    "tuned_param_names",
]
