"""Inserting a cell into an ``.ipynb``: the new cell's JSON spliced into ``cells``, shaped like
its neighbours (``source`` as a list or a string, Databricks cell metadata, an ``id`` from
nbformat 4.5 on).
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Sequence
from typing import Any

from legacy_mllib_tracking.errors import RewriteError
from legacy_mllib_tracking.notebooks._rewrite import cell_text
from legacy_mllib_tracking.notebooks._splice import (
    _items,
    _locate,
    _splice_item,
)

__all__ = ["insert_ipynb_cell"]

#: Keys of a Jupyter code cell in nbformat 4 (``id`` from 4.5 on), in nbformat's own order.
_IPYNB_CODE_KEYS = ("cell_type", "execution_count", "id", "metadata", "outputs", "source")
_DATABRICKS_CELL_METADATA = "application/vnd.databricks.v1+cell"


def insert_ipynb_cell(
    text: str, index: int, lines: Sequence[str], *, language: str = "python"
) -> str:
    """Insert a code cell into a Jupyter notebook (nbformat 4) before cell ``index``.

    Args:
        text: the ``.ipynb`` file's content.
        index: the cell the new cell goes before (``len(cells)`` appends).
        lines: the new cell's lines, no line ends.
        language: the notebook's default language; Python code in another language's notebook
            gets a ``%python`` first line.

    Returns:
        The new content: the original bytes with one more cell.

    Raises:
        RewriteError: not an nbformat 4 notebook, or ``index`` out of range.
    """
    try:
        notebook = json.loads(text)
    except ValueError as error:
        raise RewriteError(f"not JSON: {error}") from None
    if not isinstance(notebook, dict) or notebook.get("nbformat") != 4:
        raise RewriteError("not an nbformat 4 notebook (top-level 'nbformat' must be 4)")
    cells = notebook.get("cells")
    if not isinstance(cells, list) or not 0 <= index <= len(cells):
        raise RewriteError(f"cell {index} does not exist")
    minor = notebook.get("nbformat_minor", 0)
    cell = _new_ipynb_cell(cells, index, cell_text(lines, language=language), minor)
    array_at = _locate(text, ["cells"])
    new_text = _splice_item(text, array_at, _items(text, array_at), index, cell, depth=2)
    expected = copy.deepcopy(notebook)
    expected["cells"].insert(index, cell)
    if json.loads(new_text) != expected:  # pragma: no cover - a splicing bug, never written
        raise RewriteError("the rewritten notebook does not read back as written")
    return new_text


def _neighbour(cells: Sequence[Any], index: int, accept: Any) -> Any:
    """The nearest item to ``index`` (``index`` first, then before, then after) that ``accept``s."""
    order = [index, *range(index - 1, -1, -1), *range(index + 1, len(cells))]
    for i in order:
        if 0 <= i < len(cells) and accept(cells[i]):
            return cells[i]
    return None


def _new_ipynb_cell(cells: Sequence[Any], index: int, source: str, minor: int) -> dict[str, Any]:
    like = (
        _neighbour(cells, index, lambda c: isinstance(c, dict) and c.get("cell_type") == "code")
        or {}
    )
    keys = [k for k in _IPYNB_CODE_KEYS if k != "id" or minor >= 5]
    order = [k for k in like if k in keys] + [k for k in keys if k not in like]
    as_list = isinstance(like.get("source", []), list)
    lines = source.split("\n")
    values: dict[str, Any] = {
        "cell_type": "code",
        "execution_count": None,
        "id": _fresh_cell_id(cells),
        "metadata": _new_ipynb_metadata(like.get("metadata")),
        "outputs": [],
        "source": [line + "\n" for line in lines[:-1]] + [lines[-1]] if as_list else source,
    }
    return {key: values[key] for key in order}


def _fresh_cell_id(cells: Sequence[Any]) -> str:
    taken = {c.get("id") for c in cells if isinstance(c, dict)}
    while True:
        candidate = uuid.uuid4().hex[:8]  # nbformat's own shape (random_cell_id)
        if candidate not in taken:
            return candidate


def _new_ipynb_metadata(like: Any) -> dict[str, Any]:
    """Metadata for the new cell: Databricks' cell metadata when the neighbour has it."""
    if not isinstance(like, dict) or not isinstance(like.get(_DATABRICKS_CELL_METADATA), dict):
        return {}
    fresh = {"nuid": str(uuid.uuid4()), "title": "", "showTitle": False, "inputWidgets": {}}
    databricks = {
        key: fresh.get(key, copy.deepcopy(value))
        for key, value in like[_DATABRICKS_CELL_METADATA].items()
    }
    return {_DATABRICKS_CELL_METADATA: databricks}
