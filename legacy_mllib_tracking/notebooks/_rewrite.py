"""Byte-preserving writers: insert one cell into a notebook file and change nothing else.

Each writer takes a file's original content and an insertion point and returns the new content;
every byte outside the inserted cell is kept. Writers never touch the disk (``migrate`` does).

- Databricks source (``.py`` / ``.scala`` / ``.sql`` / ``.r``): the new cell and one separator,
  laid out like the file's own separators (blank lines, LF or CRLF). A Python cell in a Scala,
  SQL or R notebook is a ``%python`` magic cell in that language's comment syntax.
- ``.ipynb``: the new cell's JSON is spliced into the ``cells`` array, indented, separated and
  ordered like the file's other cells, so the result is what re-serialising the notebook with the
  file's own indentation, key order, trailing newline and ``ensure_ascii`` would give, whatever
  program wrote it (Jupyter, VS Code, Databricks). The new cell is shaped like its neighbours
  (``source`` as a list or a string, Databricks cell metadata) and has an ``id`` when
  ``nbformat_minor >= 5``.
- ``.dbc``: the new command's JSON is spliced into its notebook entry, shaped like its neighbour
  command (same keys and order, fresh ``guid`` / ``nuid``, a new ``origId``), with a ``position``
  strictly between its neighbours'. Every other zip entry keeps its bytes, name, order,
  compression method, date and attributes.
- Plain scripts: lines inserted after a given line, with that line's indentation and line end.

A rewrite that would not give a file that opens raises :class:`RewriteError` instead.
"""

from __future__ import annotations

import copy
import io
import json
import re
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from legacy_mllib_tracking.errors import RewriteError

__all__ = [
    "COMMENT_PREFIXES",
    "RewriteError",
    "cell_text",
    "dbc_notebook_text",
    "insert_dbc_command",
    "insert_ipynb_cell",
    "insert_script_lines",
    "insert_source_cell",
]

#: The line-comment prefix of a Databricks source export, by notebook language.
COMMENT_PREFIXES = {"python": "#", "r": "#", "scala": "//", "sql": "--"}
_HEADER = "Databricks notebook source"
_SEPARATOR = "COMMAND ----------"
_MAGIC = "MAGIC"

#: Keys of a Jupyter code cell in nbformat 4 (``id`` from 4.5 on), in nbformat's own order.
_IPYNB_CODE_KEYS = ("cell_type", "execution_count", "id", "metadata", "outputs", "source")
_DATABRICKS_CELL_METADATA = "application/vnd.databricks.v1+cell"


# --- shared ---------------------------------------------------------------------------------------


def _lines_with_ends(text: str) -> list[str]:
    """``text`` split after each ``\\n`` (so ``\\r\\n`` stays whole); the last line may lack one.

    Only ``\\n`` ends a line, as in the readers (``str.splitlines`` also splits at ``\\f``...).
    """
    if not text:
        return []
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _split_end(line: str) -> tuple[str, str]:
    """A physical line as (content, line end); the end is ``""``, ``"\\n"`` or ``"\\r\\n"``."""
    if line.endswith("\r\n"):
        return line[:-2], "\r\n"
    if line.endswith("\n"):
        return line[:-1], "\n"
    return line, ""


def _first_end(lines: Sequence[str]) -> str:
    """The file's line end: the first line's, ``\\n`` when no line has one."""
    for line in lines:
        end = _split_end(line)[1]
        if end:
            return end
    return "\n"


def cell_text(lines: Sequence[str], *, language: str) -> str:
    """The text of a new Python cell for a notebook whose default language is ``language``.

    ``lines`` are the cell's lines (no line ends). A cell whose first line is a magic (``%pip``)
    stays as it is; Python code in a Scala, SQL or R notebook gets a ``%python`` first line.
    """
    if language != "python" and not lines[0].startswith("%"):
        lines = ["%python", *lines]
    return "\n".join(lines)


# --- Databricks source ----------------------------------------------------------------------------


def _is_comment_line(content: str, prefix: str, word: str) -> bool:
    return content.strip() == f"{prefix} {word}"


def insert_source_cell(text: str, index: int, lines: Sequence[str], *, language: str) -> str:
    """Insert a cell into a Databricks source export before cell ``index`` (0-based).

    Cells are split at ``<prefix> COMMAND ----------`` lines; cell 0 starts after the header line
    (``<prefix> Databricks notebook source``, or a header an export tool blanked). The new cell
    and a separator are laid out like the file's first separator (its blank lines before and
    after, its line end). ``index == len(cells)`` appends.

    Args:
        text: the file's content.
        index: the cell the new cell goes before.
        lines: the new cell's lines, no line ends (a first line ``%pip ...`` makes a magic cell;
            Python code in a non-Python notebook becomes a ``%python`` magic cell).
        language: the notebook's default language (``python``, ``scala``, ``sql``, ``r``).

    Returns:
        The new content.

    Raises:
        RewriteError: ``language`` has no comment syntax, or ``index`` is not a cell boundary.
    """
    prefix = COMMENT_PREFIXES.get(language)
    if prefix is None:
        raise RewriteError(
            f"cannot write a cell into a {language!r} notebook; accepted: "
            + ", ".join(sorted(COMMENT_PREFIXES))
        )
    physical = _lines_with_ends(text)
    contents = [_split_end(line)[0] for line in physical]
    separators = [
        i for i, content in enumerate(contents) if _is_comment_line(content, prefix, _SEPARATOR)
    ]
    cells = len(separators) + 1
    if not 0 <= index <= cells:
        raise RewriteError(f"cell {index} does not exist (the notebook has {cells} cells)")
    eol = _first_end(physical)
    # The blank lines around a separator, copied from the file's first separator.
    before, after = [eol], [eol]
    if separators:
        first = separators[0]
        eol = _split_end(physical[first])[1] or eol
        before = _blank_run(physical, first - 1, -1)
        after = _blank_run(physical, first + 1, 1)
    separator = f"{prefix} {_SEPARATOR}{eol}"
    body = _source_cell_lines(cell_text(lines, language=language), prefix, eol)
    if not physical:
        return f"{prefix} {_HEADER}{eol}" + "".join(body)
    if index == cells:  # append after the last cell, keeping the file's last line end (or none)
        head = text if _split_end(physical[-1])[1] else text + eol
        appended = head + "".join([*before, separator, *after, *body])
        return appended if _split_end(physical[-1])[1] else appended[: -len(eol)]
    if index == 0:
        header = contents[0].lstrip("\ufeff").strip()  # a byte order mark is no content
        at = 1 if header in (f"{prefix} {_HEADER}", "") else 0
        if at == 1 and len(physical) == 1:  # a header line and nothing else
            return text + ("" if _split_end(text)[1] else eol) + "".join(body)
    else:
        start = separators[index - 1] + 1
        at = start + len(_blank_run(physical, start, 1))
    block = [*body, *before, separator, *after]
    return "".join(physical[:at]) + "".join(block) + "".join(physical[at:])


def _blank_run(physical: Sequence[str], start: int, step: int) -> list[str]:
    """The blank lines from ``start`` walking by ``step`` (in file order)."""
    found = []
    i = start
    while 0 <= i < len(physical) and not _split_end(physical[i])[0].strip():
        found.append(physical[i])
        i += step
    return found if step > 0 else found[::-1]


def _source_cell_lines(cell: str, prefix: str, eol: str) -> list[str]:
    """A cell's lines as written in a source export: a magic cell gets ``<prefix> MAGIC``."""
    lines = cell.split("\n")
    if lines[0].startswith("%"):
        return [f"{prefix} {_MAGIC} {line}".rstrip() + eol for line in lines]
    return [line + eol for line in lines]


# --- JSON splicing --------------------------------------------------------------------------------

_DECODER = json.JSONDecoder()
_WS = " \t\r\n"


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


@dataclass(frozen=True)
class _Span:
    """Where a JSON value sits in the text: ``text[start:end]``; ``key_end`` ends its key."""

    start: int
    end: int
    key_end: int = -1


def _members(text: str, start: int) -> dict[str, _Span]:
    """The members of the JSON object at ``text[start]``, with where each value sits."""
    if text[start] != "{":
        raise RewriteError(f"expected a JSON object at offset {start}")
    found: dict[str, _Span] = {}
    i = _skip_ws(text, start + 1)
    if text[i] == "}":
        return found
    while True:
        key, key_end = _DECODER.raw_decode(text, i)
        i = _skip_ws(text, key_end)
        i = _skip_ws(text, i + 1)  # the ':'
        _, end = _DECODER.raw_decode(text, i)
        found[key] = _Span(i, end, key_end)
        i = _skip_ws(text, end)
        if text[i] == "}":
            return found
        i = _skip_ws(text, i + 1)  # the ','


def _items(text: str, start: int) -> list[_Span]:
    """The items of the JSON array at ``text[start]``, with where each sits."""
    if text[start] != "[":
        raise RewriteError(f"expected a JSON array at offset {start}")
    found: list[_Span] = []
    i = _skip_ws(text, start + 1)
    if text[i] == "]":
        return found
    while True:
        _, end = _DECODER.raw_decode(text, i)
        found.append(_Span(i, end))
        i = _skip_ws(text, end)
        if text[i] == "]":
            return found
        i = _skip_ws(text, i + 1)


def _locate(text: str, path: Sequence[str | int]) -> int:
    """The offset of the JSON value at ``path`` (object keys and array indexes) in ``text``."""
    at = _skip_ws(text, 0)
    for step in path:
        if isinstance(step, str):
            at = _members(text, at)[step].start
        else:
            at = _items(text, at)[step].start
    return at


@dataclass(frozen=True)
class _Style:
    """How a JSON array's items are written: enough to write one more item the same way."""

    indent: str | None  # one level of indentation, None for one-line JSON
    newline: str  # "\n" or "\r\n"
    item_separator: str  # between items of the array, after the ','
    key_separator: str  # between a key and its value, ':' included
    compact_item: str  # ',' or ', ' between items inside a one-line value
    base: str  # the indentation of the array's items
    ensure_ascii: bool


_FIRST_INDENT = re.compile(r"\s*[{\[]\r?\n([ \t]*)\S")


def _style(text: str, array_at: int, items: Sequence[_Span], depth: int) -> _Style:
    """Read how the document is indented and how the array at ``array_at`` (``depth`` levels
    deep) separates its items and their keys."""
    newline = "\r\n" if "\r\n" in text else "\n"  # JSON strings hold no raw line ends
    first = _FIRST_INDENT.match(text)
    indent = None if first is None else first.group(1)
    base = "" if indent is None else indent * depth
    key_separator, compact_item = ": ", ", "
    if items and text[items[0].start] == "{":
        members = list(_members(text, items[0].start).values())
        if members:
            key_separator = text[members[0].key_end : members[0].start]
        if len(members) >= 2:
            comma = _skip_ws(text, members[0].end)
            compact_item = text[comma : _skip_ws(text, comma + 1)]
    if len(items) >= 2:
        comma = _skip_ws(text, items[0].end)
        item_separator = text[comma + 1 : items[1].start]
    elif items:
        item_separator = text[array_at + 1 : items[0].start]
    else:
        item_separator = "" if indent is None else newline + base
    if items and "\n" in item_separator:
        base = item_separator.rsplit("\n", 1)[1]
    return _Style(
        indent=indent,
        newline=newline,
        item_separator=item_separator,
        key_separator=key_separator,
        compact_item=compact_item,
        base=base,
        ensure_ascii=text.isascii(),
    )


def _dump(value: Any, style: _Style) -> str:
    """``value`` as JSON written in ``style``, ready to sit at ``style.base`` indentation."""
    if style.indent is None:
        return json.dumps(
            value,
            ensure_ascii=style.ensure_ascii,
            separators=(style.compact_item, style.key_separator),
        )
    dumped = json.dumps(
        value,
        indent=style.indent,
        ensure_ascii=style.ensure_ascii,
        separators=(",", style.key_separator),
    )
    return dumped.replace("\n", style.newline + style.base)


def _splice_item(
    text: str, array_at: int, items: Sequence[_Span], index: int, value: Any, depth: int
) -> str:
    """Insert ``value`` as item ``index`` of the array at ``array_at``, written like the others."""
    style = _style(text, array_at, items, depth)
    dumped = _dump(value, style)
    if not items:
        close = _skip_ws(text, array_at + 1)
        if style.indent is None:
            return text[: array_at + 1] + dumped + text[close:]
        outer = style.base[: len(style.base) - len(style.indent)]
        inside = style.newline + style.base + dumped + style.newline + outer
        return text[: array_at + 1] + inside + text[close:]
    if index >= len(items):
        end = items[-1].end
        return text[:end] + "," + style.item_separator + dumped + text[end:]
    at = items[index].start
    return text[:at] + dumped + "," + style.item_separator + text[at:]


# --- .ipynb ---------------------------------------------------------------------------------------


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


# --- .dbc -----------------------------------------------------------------------------------------

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


# --- plain scripts --------------------------------------------------------------------------------


def insert_script_lines(text: str, after_line: int, lines: Sequence[str], *, indent: str) -> str:
    """Insert ``lines`` after physical line ``after_line`` (1-based) of a Python script.

    Each line gets ``indent`` and the file's line end; a last line without a line end gets one.

    Raises:
        RewriteError: ``after_line`` is not a line of ``text``.
    """
    physical = _lines_with_ends(text)
    if not 1 <= after_line <= len(physical):
        raise RewriteError(f"line {after_line} does not exist (the file has {len(physical)})")
    eol = _split_end(physical[after_line - 1])[1] or _first_end(physical)
    head = physical[:after_line]
    if not _split_end(head[-1])[1]:
        head[-1] += eol
    block = [indent + line + eol for line in lines]
    tail = physical[after_line:]
    if not tail:  # the file had no line end after its last line: keep it that way
        block[-1] = block[-1][: -len(eol)]
    return "".join(head) + "".join(block) + "".join(tail)
