"""One reader per notebook format: Databricks source, ``.ipynb``, ``.dbc``, HTML, plain ``.py``.

:func:`read_file` says how a file was read and returns its notebooks; it raises
:class:`NotebookReadError` (one line: the file and the reason) for a file that looks like a
notebook but cannot be read. Stdlib only.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from legacy_mllib_tracking.notebooks._model import (
    Cell,
    Format,
    Notebook,
    NotebookReadError,
)

__all__ = [
    "CELL_MAGICS",
    "SOURCE_EXTENSIONS",
    "detect_magic",
    "read_file",
    "read_notebooks",
    "split_lines",
]

#: A cell magic (first line of a cell) and the language it switches the cell to.
CELL_MAGICS: Mapping[str, str] = {
    "%md": "markdown",
    "%md-sandbox": "markdown",
    "%sql": "sql",
    "%scala": "scala",
    "%r": "r",
    "%python": "python",
    "%sh": "shell",
    "%fs": "fs",
    "%run": "run",
    "%pip": "pip",
    "%conda": "pip",
}

#: Databricks source exports: file extension -> (comment prefix, notebook language).
SOURCE_EXTENSIONS: Mapping[str, tuple[str, str]] = {
    ".py": ("#", "python"),
    ".scala": ("//", "scala"),
    ".sql": ("--", "sql"),
    ".r": ("#", "r"),
}

_DBC_EXTENSIONS = {".python": "python", ".scala": "scala", ".sql": "sql", ".r": "r"}
_DBC_SUFFIX = {language: suffix for suffix, language in _DBC_EXTENSIONS.items()}
_LANGUAGES = ("python", "scala", "sql", "r")
_IPYNB_DATABRICKS = "application/vnd.databricks.v1+notebook"
_HTML_MARKER = re.compile(rb"""<meta\s+name\s*=\s*["']databricks-html-version["']""", re.I)
_HTML_MODEL = re.compile(r"""__DATABRICKS_NOTEBOOK_MODEL\s*=\s*(['"])(?P<model>[^'"]*)\1""")


def split_lines(text: str) -> list[str]:
    r"""Split text at ``\n``, ``\r\n`` or ``\r`` only (``str.splitlines`` splits at ``\f`` too)."""
    if "\r" not in text:
        return text.split("\n")
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _normalise(text: str) -> str:
    """Line ends as ``\\n`` (CRLF and CR normalised)."""
    return text if "\r" not in text else text.replace("\r\n", "\n").replace("\r", "\n")


def detect_magic(source: str) -> str | None:
    """Return the cell magic on the first non-blank line of ``source`` (``"%md"``...), or None."""
    stripped = source.lstrip()
    if not stripped.startswith("%"):
        return None
    token = stripped.split(None, 1)[0]
    return token if token in CELL_MAGICS else None


def _cell(
    index: int,
    source: str,
    language: str,
    *,
    first_file_line: int | None = None,
    title: str | None = None,
    position: float | None = None,
) -> Cell:
    magic = detect_magic(source)
    effective = CELL_MAGICS[magic] if magic is not None else language
    return Cell(index, effective, magic, source, first_file_line, title or None, position)


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise NotebookReadError(
            f"{path}: bytes at offset {error.start} do not decode as UTF-8"
        ) from None


def _error(path: Path | str, reason: str) -> NotebookReadError:
    return NotebookReadError(f"{path}: {reason}")


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


# --- NotebookV1 (inside .dbc archives and HTML exports) -------------------------------------------


def _position(command: Mapping[str, Any]) -> float:
    value = command.get("position")
    return float(value) if isinstance(value, (int, float)) else float("inf")


def _notebook_v1(path: Path, name: str, model: Any, fmt: Format, where: str) -> Notebook:
    if not isinstance(model, dict) or not isinstance(model.get("commands"), list):
        raise _error(path, f"{where} is not a NotebookV1 object (no 'commands' list)")
    language = str(model.get("language") or "python").lower()
    if language not in _LANGUAGES:
        language = "python"
    commands = [c for c in model["commands"] if isinstance(c, dict)]
    # Real archives store commands out of order: the notebook order is ascending position.
    commands.sort(key=_position)
    cells = []
    for index, command in enumerate(commands):
        text = command.get("command", "")
        source = _normalise(text if isinstance(text, str) else "")
        title = command.get("commandTitle")
        position = command.get("position")
        cells.append(
            _cell(
                index,
                source,
                language,
                title=title if isinstance(title, str) else None,
                position=float(position) if isinstance(position, (int, float)) else None,
            )
        )
    return Notebook(str(path), name, fmt, language, tuple(cells))


def _folder_children(
    folder: Mapping[str, Any], prefix: str
) -> Iterable[tuple[str, Mapping[str, Any]]]:
    """Yield (entry-like name, NotebookV1) for every notebook embedded under ``children``."""
    for child in folder.get("children") or ():
        if not isinstance(child, dict):
            continue
        child_name = str(child.get("name") or "")
        if isinstance(child.get("commands"), list):
            language = str(child.get("language") or "python").lower()
            yield f"{prefix}{child_name}{_DBC_SUFFIX.get(language, '.python')}", child
        elif "children" in child:
            yield from _folder_children(child, f"{prefix}{child_name}/")


def _read_dbc(path: Path) -> list[Notebook]:
    import zipfile

    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise _error(path, f"not a readable .dbc archive (zip): {error}") from None
    notebooks: list[Notebook] = []
    seen: set[str] = set()
    folders: list[tuple[str, Mapping[str, Any]]] = []
    with archive:
        for info in archive.infolist():
            name = info.filename
            if name.endswith("/") or name.rsplit("/", 1)[-1].lower() == "manifest.mf":
                continue
            suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
            try:
                data = archive.read(info)
            except (zipfile.BadZipFile, OSError, RuntimeError) as error:
                raise _error(path, f"entry {name!r} cannot be read: {error}") from None
            if suffix not in _DBC_EXTENSIONS:
                # Folder entries (FolderV1) may embed the same notebooks again under children.
                try:
                    folder = json.loads(data)
                except ValueError:
                    continue
                if isinstance(folder, dict) and "children" in folder:
                    base = name.rsplit(".", 1)[0] if "." in name.rsplit("/", 1)[-1] else name
                    folders.append((base.rstrip("/") + "/", folder))
                continue
            try:
                model = json.loads(data.decode("utf-8-sig"))
            except UnicodeDecodeError as error:
                raise _error(
                    path, f"entry {name!r}: bytes at offset {error.start} do not decode as UTF-8"
                ) from None
            except ValueError as error:
                raise _error(path, f"entry {name!r} is not valid JSON ({error})") from None
            notebook = _notebook_v1(path, name, model, Format.DBC, f"entry {name!r}")
            notebooks.append(notebook)
            seen.update(_identities(name, model))
    for prefix, folder in folders:
        for name, model in _folder_children(folder, prefix):
            identities = _identities(name, model)
            if identities & seen:
                continue
            seen.update(identities)
            notebooks.append(_notebook_v1(path, name, model, Format.DBC, f"folder {prefix!r}"))
    return notebooks


def _identities(name: str, model: Mapping[str, Any]) -> set[str]:
    found = {f"name:{name}"}
    for key in ("origId", "guid"):
        value = model.get(key)
        if value not in (None, ""):
            found.add(f"{key}:{value}")
    return found


# --- HTML export ---------------------------------------------------------------------------------


def _read_html(path: Path, text: str) -> Notebook:
    match = _HTML_MODEL.search(text)
    if match is None:
        raise _error(path, "Databricks HTML export without a __DATABRICKS_NOTEBOOK_MODEL")
    try:
        encoded = base64.b64decode(match["model"], validate=False).decode("utf-8")
        model = json.loads(unquote(encoded))
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise _error(path, f"cannot decode __DATABRICKS_NOTEBOOK_MODEL ({error})") from None
    return _notebook_v1(path, "", model, Format.DATABRICKS_HTML, "__DATABRICKS_NOTEBOOK_MODEL")


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
    if suffix == ".dbc":
        if not path.is_file():
            raise _error(path, "no such file")
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
