"""Inserting a command into a ``.dbc`` notebook entry: shaped like its neighbour, with a
``position`` strictly between its neighbours'; every other zip entry keeps its bytes, name, order,
compression method, date and attributes.
"""

from __future__ import annotations

import copy
import io
import json
import re
import uuid
import zipfile
from collections.abc import Sequence
from typing import Any

from legacy_mllib_tracking.errors import RewriteError
from legacy_mllib_tracking.notebooks._rewrite import (
    _SEPARATOR,
    COMMENT_PREFIXES,
    cell_text,
)
from legacy_mllib_tracking.notebooks._splice import (
    _items,
    _locate,
    _splice_item,
)

__all__ = ["dbc_notebook_text", "insert_dbc_command"]

_DBC_LANGUAGES = {".python": "python", ".scala": "scala", ".sql": "sql", ".r": "r"}
#: Numeric ids a new command needs fresh (unique in the whole archive).
_ID_KEYS = ("origId", "commandId")
_ORIG_ID = re.compile(rb'"(?:origId|commandId)"\s*:\s*(\d+)')
#: Command keys that describe a command's run, not its code: a new command starts empty.
_DBC_FRESH: dict[str, Any] = {
    "results": None,
    "errorSummary": None,
    "error": None,
    "errorTraceType": None,
    "startTime": 0,
    "submitTime": 0,
    "finishTime": 0,
    "collapsed": False,
    "commandTitle": "",
    "showCommandTitle": False,
    "hideCommandCode": False,
    "hideCommandResult": False,
    "commentThread": [],
    "commentsVisible": False,
    "diffInserts": [],
    "diffDeletes": [],
    "globalVars": {},
    "bindings": {},
    "inputWidgets": {},
    "streamStates": {},
    "metadata": {},
    "iPythonMetadata": None,
    "datasetPreviewNameToCmdIdMap": {},
    "tableResultIndex": None,
    "subtype": "command",
}


def _ordered_commands(commands: Sequence[Any]) -> list[int]:
    """Indexes into ``commands`` in notebook order: ascending ``position``, ties in array order."""
    keyed = [
        (float(c.get("position", 0.0)) if isinstance(c, dict) else 0.0, i)
        for i, c in enumerate(commands)
    ]
    return [i for _, i in sorted(keyed)]


def dbc_notebook_text(notebook: Any) -> str:
    """A ``NotebookV1`` object's cells as text, for a diff: the ``command`` texts in notebook
    order, separated like a Databricks source export (so a diff shows only the new cell)."""
    commands = notebook.get("commands", []) if isinstance(notebook, dict) else []
    language = str(notebook.get("language") or "python") if isinstance(notebook, dict) else ""
    separator = f"\n{COMMENT_PREFIXES.get(language, '#')} {_SEPARATOR}\n\n"
    texts = [str(commands[i].get("command", "")).strip("\n") for i in _ordered_commands(commands)]
    return separator.join(text + "\n" for text in texts)


def insert_dbc_command(
    data: bytes,
    entry: str,
    index: int,
    lines: Sequence[str],
    *,
    path: Sequence[str | int] = (),
) -> bytes:
    """Insert a command into one notebook of a Databricks archive before cell ``index``.

    Args:
        data: the ``.dbc`` file's bytes.
        entry: the zip entry holding the notebook (``"Folder/nb.python"``).
        index: the cell (in ``position`` order) the new command goes before; the number of
            cells appends.
        lines: the new cell's lines, no line ends.
        path: where the ``NotebookV1`` object sits inside the entry's JSON (empty: the entry is
            the notebook; ``("children", 0)`` for a notebook embedded in a folder entry).

    Returns:
        The new archive: the entry rewritten, every other entry as it was.

    Raises:
        RewriteError: a bad archive, a missing entry, an entry that is not a notebook, or no
            ``position`` strictly between the neighbours.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as error:
        raise RewriteError(f"not a zip archive: {error}") from None
    with archive:
        names = archive.namelist()
        if entry not in names:
            raise RewriteError(f"no entry {entry!r} in the archive")
        raw = archive.read(entry)
        suffix = next((s for s in _DBC_LANGUAGES if entry.endswith(s)), None)
        try:
            text = raw.decode("utf-8")
            bom = "\ufeff" if text.startswith("\ufeff") else ""
            text = text[len(bom) :]
            root = json.loads(text)
        except ValueError as error:
            raise RewriteError(f"entry {entry!r} is not JSON: {error}") from None
        notebook: Any = root
        for step in path:
            notebook = notebook[step]
        if not isinstance(notebook, dict) or not isinstance(notebook.get("commands"), list):
            raise RewriteError(f"entry {entry!r} holds no notebook commands")
        language = str(notebook.get("language") or _DBC_LANGUAGES.get(suffix or "", "python"))
        commands = notebook["commands"]
        order = _ordered_commands(commands)
        if not 0 <= index <= len(order):
            raise RewriteError(f"cell {index} does not exist in {entry!r}")
        next_origid = 1 + max(
            (int(m.group(1)) for name in names for m in _ORIG_ID.finditer(archive.read(name))),
            default=0,
        )
        command = _new_command(
            commands, order, index, cell_text(lines, language=language), next_origid
        )
        array_at = _locate(text, [*path, "commands"])
        items = _items(text, array_at)
        # In the array, the new command goes just before the command that is cell ``index``.
        array_index = order[index] if index < len(order) else len(items)
        new_text = _splice_item(text, array_at, items, array_index, command, depth=len(path) + 2)
        check: Any = json.loads(new_text)
        target = check
        for step in path:
            target = target[step]
        if target["commands"][array_index] != command:  # pragma: no cover - a splicing bug
            raise RewriteError(f"entry {entry!r} does not read back as written")
        return _rewrite_zip(archive, {entry: (bom + new_text).encode("utf-8")})


def _new_command(
    commands: Sequence[Any], order: Sequence[int], index: int, text: str, origid: int
) -> dict[str, Any]:
    before = commands[order[index - 1]] if index > 0 else None
    after = commands[order[index]] if index < len(order) else None
    low = None if before is None else float(before.get("position", 0.0))
    high = None if after is None else float(after.get("position", 0.0))
    if low is not None and high is not None:
        position = (low + high) / 2
        if not low < position < high:
            raise RewriteError(
                f"no position strictly between {low!r} and {high!r} for the new command"
            )
    elif high is not None:
        position = high / 2 if high > 0 else high - 1.0
    elif low is not None:
        position = low + 1.0
    else:
        position = 1.0
    like = after if isinstance(after, dict) else before if isinstance(before, dict) else {}
    command: dict[str, Any] = {}
    for key, value in (like or {"version": "CommandV1"}).items():
        if key == "command":
            command[key] = text
        elif key == "position":
            command[key] = position
        elif key in ("guid", "nuid"):
            command[key] = str(uuid.uuid4())
        elif key in _ID_KEYS and isinstance(value, int):
            command[key] = origid
        elif key in _DBC_FRESH:
            command[key] = copy.deepcopy(_DBC_FRESH[key])
        else:
            command[key] = copy.deepcopy(value)
    command.setdefault("command", text)
    command.setdefault("position", position)
    command.setdefault("subtype", "command")
    return command


def _rewrite_zip(archive: zipfile.ZipFile, replaced: dict[str, bytes]) -> bytes:
    """The archive with ``replaced`` entries' contents swapped; order, names, dates kept."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as writer:
        writer.comment = archive.comment
        for info in archive.infolist():
            payload = replaced.get(info.filename)
            if payload is None:
                payload = archive.read(info)
            kept = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            kept.compress_type = info.compress_type
            kept.comment = info.comment
            kept.extra = info.extra
            kept.create_system = info.create_system
            kept.create_version = info.create_version
            kept.extract_version = info.extract_version
            kept.external_attr = info.external_attr
            kept.internal_attr = info.internal_attr
            writer.writestr(kept, payload)
    return out.getvalue()
