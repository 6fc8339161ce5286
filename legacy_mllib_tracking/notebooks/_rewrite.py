"""Byte-preserving writers: insert one cell into a notebook file and change nothing else.

Each writer takes a file's original content and an insertion point and returns the new content;
every byte outside the inserted cell is kept. Writers never touch the disk (``migrate`` does).

- Databricks source (``.py`` / ``.scala`` / ``.sql`` / ``.r``), here: the new cell and one
  separator, laid out like the file's own separators (blank lines, LF or CRLF). A Python cell
  in a Scala, SQL or R notebook is a ``%python`` magic cell in that language's comment syntax.
- ``.ipynb`` (``_rewrite_ipynb``, through ``_splice``): the new cell's JSON is spliced into the
  ``cells`` array, indented, separated and ordered like the file's other cells, so the result
  is what re-serialising the notebook with the file's own indentation, key order, trailing
  newline and ``ensure_ascii`` would give, whatever program wrote it (Jupyter, VS Code,
  Databricks). The new cell is shaped like its neighbours (``source`` as a list or a string,
  Databricks cell metadata) and has an ``id`` when ``nbformat_minor >= 5``.
- ``.dbc`` (``_rewrite_dbc``): the new command's JSON is spliced into its notebook entry, shaped
  like its neighbour command (same keys and order, fresh ``guid`` / ``nuid``, a new
  ``origId``), with a ``position`` strictly between its neighbours'. Every other zip entry
  keeps its bytes, name, order, compression method, date and attributes.
- Plain scripts, here: lines inserted after a given line, with that line's indentation and
  line end.

A rewrite that would not give a file that opens raises :class:`RewriteError` instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from legacy_mllib_tracking.errors import RewriteError

__all__ = [
    "COMMENT_PREFIXES",
    "RewriteError",
    "cell_text",
    "insert_script_lines",
    "insert_source_cell",
]

#: The line-comment prefix of a Databricks source export, by notebook language.
COMMENT_PREFIXES = {"python": "#", "r": "#", "scala": "//", "sql": "--"}
_HEADER = "Databricks notebook source"
_SEPARATOR = "COMMAND ----------"
_MAGIC = "MAGIC"


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
