"""NotebookV1 JSON, the notebook model inside Databricks archives (``.dbc``: a zip of entries,
folders that embed notebooks again) and HTML exports (base64 of the URL-encoded model).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from legacy_mllib_tracking.notebooks._cells import _LANGUAGES, _cell, _error, _normalise
from legacy_mllib_tracking.notebooks._model import Format, Notebook

_DBC_EXTENSIONS = {".python": "python", ".scala": "scala", ".sql": "sql", ".r": "r"}
_DBC_SUFFIX = {language: suffix for suffix, language in _DBC_EXTENSIONS.items()}
_HTML_MODEL = re.compile(r"""__DATABRICKS_NOTEBOOK_MODEL\s*=\s*(['"])(?P<model>[^'"]*)\1""")


def command_position(command: Mapping[str, Any]) -> float:
    """The sort key of a ``CommandV1``: its ``position``; last when it has none."""
    value = command.get("position")
    return float(value) if isinstance(value, (int, float)) else float("inf")


def entry_language(name: str) -> str | None:
    """The language of the ``.dbc`` entry ``name`` when it is a notebook (``F/nb.python``:
    ``python``), else ``None`` (a folder entry, ``manifest.mf``...)."""
    last = name.rsplit("/", 1)[-1]
    if "." not in last:
        return None
    return _DBC_EXTENSIONS.get("." + last.rsplit(".", 1)[1].lower())


def folder_prefix(name: str) -> str:
    """The path a folder entry ``name`` gives the notebooks embedded in it: ``Team.folder`` ->
    ``Team/`` (its extension dropped)."""
    base = name.rsplit(".", 1)[0] if "." in name.rsplit("/", 1)[-1] else name
    return base.rstrip("/") + "/"


def folder_children(
    folder: Mapping[str, Any], prefix: str, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], str, Mapping[str, Any]]]:
    """``(JSON path, name, NotebookV1)`` of every notebook embedded under a folder's
    ``children`` (folders within folders too); ``name`` is the entry name the notebook would
    have on its own (``prefix`` + child names + the language's extension). The reader and the
    rewriter both name notebooks by it."""
    for i, child in enumerate(folder.get("children") or ()):
        if not isinstance(child, dict):
            continue
        child_name = str(child.get("name") or "")
        here = (*path, "children", i)
        if isinstance(child.get("commands"), list):
            language = str(child.get("language") or "python").lower()
            yield here, f"{prefix}{child_name}{_DBC_SUFFIX.get(language, '.python')}", child
        elif "children" in child:
            yield from folder_children(child, f"{prefix}{child_name}/", here)


def identities(model: Any) -> set[str]:
    """What makes two ``NotebookV1`` objects the same notebook: ``origId`` and ``guid``."""
    if not isinstance(model, dict):
        return set()
    return {f"{key}:{model[key]}" for key in ("origId", "guid") if model.get(key) not in (None, "")}


def _notebook_v1(path: Path, name: str, model: Any, fmt: Format, where: str) -> Notebook:
    if not isinstance(model, dict) or not isinstance(model.get("commands"), list):
        raise _error(path, f"{where} is not a NotebookV1 object (no 'commands' list)")
    language = str(model.get("language") or "python").lower()
    if language not in _LANGUAGES:
        language = "python"
    commands = [c for c in model["commands"] if isinstance(c, dict)]
    # Real archives store commands out of order: the notebook order is ascending position.
    commands.sort(key=command_position)
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
            try:
                data = archive.read(info)
            except (zipfile.BadZipFile, OSError, RuntimeError) as error:
                raise _error(path, f"entry {name!r} cannot be read: {error}") from None
            if entry_language(name) is None:
                # Folder entries (FolderV1) may embed the same notebooks again under children.
                try:
                    folder = json.loads(data)
                except ValueError:
                    continue
                if isinstance(folder, dict) and "children" in folder:
                    folders.append((folder_prefix(name), folder))
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
            seen.update({f"name:{name}", *identities(model)})
    for prefix, folder in folders:
        for _, name, model in folder_children(folder, prefix):
            known = {f"name:{name}", *identities(model)}
            if known & seen:
                continue
            seen.update(known)
            notebooks.append(_notebook_v1(path, name, model, Format.DBC, f"folder {prefix!r}"))
    return notebooks


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
