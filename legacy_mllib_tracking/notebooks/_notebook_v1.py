"""NotebookV1 JSON, the notebook model inside Databricks archives (``.dbc``: a zip of entries,
folders that embed notebooks again) and HTML exports (base64 of the URL-encoded model).
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

from legacy_mllib_tracking.notebooks._cells import _LANGUAGES, _cell, _error, _normalise
from legacy_mllib_tracking.notebooks._model import Format, Notebook

_DBC_EXTENSIONS = {".python": "python", ".scala": "scala", ".sql": "sql", ".r": "r"}
_DBC_SUFFIX = {language: suffix for suffix, language in _DBC_EXTENSIONS.items()}
_HTML_MODEL = re.compile(r"""__DATABRICKS_NOTEBOOK_MODEL\s*=\s*(['"])(?P<model>[^'"]*)\1""")


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
