"""One reader per notebook format: Databricks source, ``.ipynb``, ``.dbc``, HTML, plain ``.py``.

:func:`read_file` says how a file was read and returns its notebooks; it raises
:class:`NotebookReadError` (one line: the file and the reason) for a file that looks like a
notebook but cannot be read. Stdlib only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from legacy_mllib_tracking.notebooks._cells import (
    _LANGUAGES,
    CELL_MAGICS,
    _cell,
    _decode,
    _error,
    _normalise,
    detect_magic,
    split_lines,
)
from legacy_mllib_tracking.notebooks._model import (
    Cell,
    Format,
    Notebook,
)
from legacy_mllib_tracking.notebooks._notebook_v1 import _read_dbc, _read_html

__all__ = [
    "CELL_MAGICS",
    "SOURCE_EXTENSIONS",
    "detect_magic",
    "read_file",
    "read_notebooks",
    "split_lines",
]

#: Databricks source exports: file extension -> (comment prefix, notebook language).
SOURCE_EXTENSIONS: Mapping[str, tuple[str, str]] = {
    ".py": ("#", "python"),
    ".scala": ("//", "scala"),
    ".sql": ("--", "sql"),
    ".r": ("#", "r"),
}
_IPYNB_DATABRICKS = "application/vnd.databricks.v1+notebook"
_HTML_MARKER = re.compile(rb"""<meta\s+name\s*=\s*["']databricks-html-version["']""", re.I)


# --- Databricks source ---------------------------------------------------------------------------


def _source_kind(path: Path, text: str) -> tuple[str, str] | None:
    """Return (comment prefix, language) if ``text`` is a Databricks source export."""
    spec = SOURCE_EXTENSIONS.get(path.suffix.lower())
    if spec is None:
        return None
    comment, _ = spec
    first = text.split("\n", 1)[0].strip()
    if first == f"{comment} Databricks notebook source":
        return spec
    # An export tool blanked the header: the separators still make it a notebook.
    if not first and f"{comment} COMMAND ----------" in text:
        return spec
    return None


def _read_source(path: Path, text: str, comment: str, language: str) -> Notebook:
    lines = split_lines(text)
    separator = f"{comment} COMMAND ----------"
    magic_prefix = f"{comment} MAGIC"
    title_prefix = f"{comment} DBTITLE "
    # 0-based indexes of separator lines; the header line (index 0) is no cell's.
    cuts = [
        i
        for i, line in enumerate(lines)
        if line.startswith(separator) and line.strip() == separator
    ]
    bounds = zip([0, *cuts], [*cuts, len(lines)], strict=True)
    cells: list[Cell] = []
    for index, (before, after) in enumerate(bounds):
        start, stop = before + 1, after  # the cell's lines are lines[start:stop]
        while start < stop and not lines[start].strip():
            start += 1
        while stop > start and not lines[stop - 1].strip():
            stop -= 1
        title = None
        if start < stop and lines[start].startswith(title_prefix):
            # "# DBTITLE 1,<title>": the digit says whether the title is shown.
            title = lines[start][len(title_prefix) :].partition(",")[2].strip()
            start += 1
        body = lines[start:stop]
        if body and body[0].startswith(magic_prefix):
            cut = len(magic_prefix)
            body = [
                line[cut + 1 :]
                if line.startswith(" ", cut) and line.startswith(magic_prefix)
                else line[cut:]
                if line.startswith(magic_prefix)
                else line
                for line in body
            ]
        first = start + 1 if start < stop else None
        cells.append(_cell(index, "\n".join(body), language, first_file_line=first, title=title))
    return Notebook(str(path), "", Format.DATABRICKS_SOURCE, language, tuple(cells))


def _read_script(path: Path, text: str) -> Notebook:
    source = _normalise(text)
    cell = Cell(0, "python", None, source, 1)
    return Notebook(str(path), "", Format.PYTHON, "python", (cell,), plain_script=True)


# --- Jupyter -------------------------------------------------------------------------------------


def _ipynb_language(metadata: Mapping[str, Any]) -> str:
    candidates = [
        (metadata.get(_IPYNB_DATABRICKS) or {}).get("language"),
        (metadata.get("kernelspec") or {}).get("language"),
        (metadata.get("language_info") or {}).get("name"),
    ]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.lower() in _LANGUAGES:
            return candidate.lower()
    return "python"


def _read_ipynb(path: Path, text: str) -> Notebook:
    try:
        document = json.loads(text)
    except ValueError as error:
        raise _error(path, f"not valid JSON ({error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        version = document.get("nbformat") if isinstance(document, dict) else None
        raise _error(path, f"not an nbformat 4 notebook (no 'cells' list; nbformat={version!r})")
    metadata = document.get("metadata")
    language = _ipynb_language(metadata if isinstance(metadata, dict) else {})
    cells: list[Cell] = []
    for index, raw in enumerate(document["cells"]):
        if not isinstance(raw, dict):
            raise _error(path, f"cell {index} is not a JSON object")
        source = raw.get("source", "")
        if isinstance(source, list):
            try:
                source = "".join(source)
            except TypeError:  # a non-string part: join what it says
                source = "".join(str(part) for part in source)
        elif not isinstance(source, str):
            raise _error(path, f"cell {index} 'source' is neither a string nor a list")
        source = _normalise(source)
        if raw.get("cell_type") == "code":
            cell = _cell(index, source, language)
            if cell.language == "pip" and _code_after_magics(source):
                # In Jupyter %pip / %conda are line magics: the rest of the cell is code (the
                # finder blanks the magic lines and reports each install).
                cell = Cell(index, language, None, source, None)
            cells.append(cell)
        else:  # markdown and raw cells are documentation
            cells.append(Cell(index, "markdown", None, source, None))
    return Notebook(str(path), "", Format.IPYNB, language, tuple(cells))


def _code_after_magics(source: str) -> bool:
    """Whether ``source`` holds a line that is no line magic (``%``, ``!``), no continuation of
    one (after a line ending in a backslash) and not blank."""
    continued = False
    for line in source.split("\n"):
        stripped = line.strip()
        if not continued and stripped and stripped[0] not in "%!":
            return True
        continued = stripped.endswith("\\") and (continued or stripped[:1] in ("%", "!"))
    return False


# --- dispatch ------------------------------------------------------------------------------------


def read_file(path: str | Path) -> tuple[Format, list[Notebook]]:
    """Read one file as whatever notebook format it is.

    Args:
        path: the file.

    Returns:
        ``(format, notebooks)``; ``(Format.SKIPPED, [])`` for a file that is no notebook.

    Raises:
        NotebookReadError: the file looks like a notebook but cannot be read (also a missing or
            unreadable file); the message is one line naming the file and the reason.
    """
    path = path if isinstance(path, Path) else Path(path)
    suffix = path.suffix.lower()
    if suffix not in (*SOURCE_EXTENSIONS, ".ipynb", ".dbc", ".html", ".htm"):
        if not path.exists():  # a mistyped file or folder is an error, not a skip
            raise _error(path, "no such file or directory")
        return Format.SKIPPED, []
    if not path.is_file():
        if path.exists():  # a FIFO or a device: reading it would block or never end
            return Format.SKIPPED, []
        raise _error(path, "no such file")
    if suffix == ".dbc":
        return Format.DBC, _read_dbc(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise _error(path, error.strerror or str(error)) from None
    if suffix in (".html", ".htm"):
        if not _HTML_MARKER.search(data):
            return Format.SKIPPED, []
        return Format.DATABRICKS_HTML, [_read_html(path, _decode(path, data))]
    text = _decode(path, data)
    if suffix == ".ipynb":
        return Format.IPYNB, [_read_ipynb(path, text)]
    kind = _source_kind(path, text)
    if kind is not None:
        return Format.DATABRICKS_SOURCE, [_read_source(path, text, *kind)]
    if suffix == ".py":
        return Format.PYTHON, [_read_script(path, text)]
    return Format.SKIPPED, []


def read_notebooks(path: str | Path) -> list[Notebook]:
    """Return the notebooks in one file (empty for a file that is no notebook).

    Raises:
        NotebookReadError: the file cannot be read (see :func:`read_file`).
    """
    return read_file(path)[1]
