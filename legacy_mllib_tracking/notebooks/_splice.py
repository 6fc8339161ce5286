"""JSON splicing: find a value's span in a JSON text and insert an item into an array, laid
out like the array's other items (indentation, separators, key order, ``ensure_ascii``), every
other byte kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from legacy_mllib_tracking.errors import RewriteError

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
