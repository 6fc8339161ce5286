"""The finder: what a notebook does that the retired tracker cared about, as target-free findings.

Python cells are read with :mod:`ast` in notebook order; names are followed through assignments
across cells (a tuner built in cell 2 and fitted in cell 5, a ``Pipeline`` whose stages list got
the tuner through ``stages + [cv]`` or ``stages.append(cv)``). Comments, markdown and other
languages are read as text: comments and markdown are documentation (``executed=False``), never
code. Outputs are never read.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any, cast

from legacy_mllib_tracking.notebooks._cursor import _Cursor
from legacy_mllib_tracking.notebooks._model import Cell, Finding, Kind, Notebook
from legacy_mllib_tracking.notebooks._text import (
    _comment,
    _comments,
    _legacy_refs,
    _line_magics,
    _text_cell,
)
from legacy_mllib_tracking.notebooks._values import _State
from legacy_mllib_tracking.notebooks._vocabulary import (
    _CELL_WORDS,
    _COMMENT_HINT,
    _LEGACY_REF,
    _LINE_MAGIC,
    LEGACY_METRIC_NAMES,
    TUNERS,
    _has_any,
)
from legacy_mllib_tracking.notebooks._walker import _children, _PythonCell

__all__ = ["LEGACY_METRIC_NAMES", "TUNERS", "find"]


def _strings_on(tree: ast.Module, hits: set[int]) -> Iterator[tuple[int, str, bool]]:
    """``(line, text, executed)`` of each string constant of ``tree`` that spans one of the
    lines ``hits``, in source order; ``executed`` is ``False`` for a bare string statement (a
    docstring: documentation, not a query).

    Only nodes whose lines hold a hit are entered (one pass; most of a long cell is skipped).
    """
    low, high = min(hits), max(hits)
    single = low == high
    constant, expr = ast.Constant, ast.Expr
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        kind = type(node)  # ``type() is``: ast.parse makes no subclasses (a hot loop)
        if kind is constant:
            if type(node.value) is str:  # type: ignore[attr-defined]
                yield node.lineno, node.value, True  # type: ignore[attr-defined]
            continue
        if kind is expr and type(node.value) is constant:  # type: ignore[attr-defined]
            if type(node.value.value) is str:  # type: ignore[attr-defined]
                yield node.value.lineno, node.value.value, False  # type: ignore[attr-defined]
            continue
        # Pushed last child first, so they pop in source order.
        for child in reversed(_children(node)):
            start = getattr(child, "lineno", None)
            if start is not None:
                end = getattr(child, "end_lineno", None) or start
                if end < low or start > high:
                    continue
                if not single and not any(start <= n <= end for n in hits):
                    continue
            stack.append(child)


def _parse(text: str) -> ast.Module:
    """``ast.parse``, with a NUL byte reported as a ``SyntaxError`` at its line on every Python
    (3.10 raises ``ValueError``, which would end the scan of the whole tree; 3.11 and 3.12 give
    no useful line)."""
    nul = text.find("\0")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise SyntaxError("source code cannot contain null bytes", ("<cell>", line, 1, ""))
    return ast.parse(text)


def _python_cell(notebook: Notebook, cell: Cell, state: _State) -> list[Finding]:
    source = cell.source
    cursor = _Cursor(notebook, cell)
    text = source
    if cell.magic is not None:  # "%python": the cell magic's own line is no Python
        code = list(cursor.lines)
        first = next(i for i, line in enumerate(code) if line.strip())
        code[first] = ""
        text = "\n".join(code)
    try:
        tree = _parse(text)
    except SyntaxError as error:
        # IPython line magics (an .ipynb's "!pip install", "%matplotlib inline") are no
        # Python: blank them and try again. Only then: a "%" that starts a continuation line
        # is Python's modulo operator, and a plain script has no magics at all.
        retried = None
        if not notebook.plain_script and _LINE_MAGIC.search(text):
            code = text.split("\n")
            _line_magics(cursor, code)
            text = "\n".join(code)
            try:
                retried = _parse(text)
            except SyntaxError:
                retried = None
        if retried is None:
            cursor.findings.clear()
            cursor.add(Kind.PARSE_ERROR, error.lineno or 1, {"error": error.msg})
            return cursor.findings
        tree = retried
    walker = _PythonCell(state, cursor)
    # Most cells of a real notebook (data preparation, plots) hold nothing the finder follows:
    # parsed (a syntax error is still reported) but not walked. A cell is walked when it holds
    # a hint word or a name already bound to something the finder follows.
    if (
        _has_any(text, _CELL_WORDS)
        or _has_any(text, state.bound)
        or (state.library and _has_any(text, state.library))
    ):
        walker.run(tree)
    else:
        walker.light(tree)
    if "params." in text or "metrics." in text:
        # Legacy names in code are string constants: walk only the statements on lines that
        # hold one (a filter string, an order_by, a column name).
        hits = {
            n
            for n, line in enumerate(cursor.lines, start=1)
            if ("params." in line or "metrics." in line) and _LEGACY_REF.search(line)
        }
        for first, string, executed in _strings_on(tree, hits) if hits else ():
            for offset, chunk in enumerate(string.split("\n")):
                if "params." in chunk or "metrics." in chunk:
                    _legacy_refs(cursor, first + offset, chunk, executed=executed)
    if "#" in text and _COMMENT_HINT.search(text):
        for number, comment in _comments(cursor.lines):
            _comment(cursor, number, comment)
    if len(cursor.findings) > 1:
        cursor.findings.sort(key=lambda finding: finding.line)
    return cursor.findings


def _fill_autolog_names(findings: list[Finding]) -> list[Finding]:
    """Say what plain autolog calls each legacy name, from the fits this notebook makes."""
    renamed: dict[str, str] = {}
    # Kinds read once: an enum class attribute is a slow lookup on 3.11 (EnumType.__getattr__).
    fit, legacy_ref = Kind.TUNING_FIT, Kind.LEGACY_NAME_REF
    for finding in findings:
        if finding.kind is fit:
            for param in finding.details["params"]:
                renamed.setdefault(param["legacy"], param["autolog"])
    for finding in findings:
        if finding.kind is legacy_ref:
            group, _, name = finding.details["name"].partition(".")
            new = name if group == "metrics" else renamed.get(name, name)
            # The details dict is the finder's own until find() returns: fill it in place.
            cast("dict[str, Any]", finding.details)["autolog_name"] = f"{group}.{new}"
    return findings


def find(notebook: Notebook) -> tuple[Finding, ...]:
    """Return every finding in ``notebook``, in notebook order; target-free (no verdicts).

    Python cells are parsed with :mod:`ast` (a cell that does not parse gives a ``parse_error``
    finding and the rest goes on); names are followed across cells in order.
    """
    state = _State()
    findings: list[Finding] = []
    for cell in notebook.cells:
        if cell.language == "python":
            findings.extend(_python_cell(notebook, cell, state))
        else:
            findings.extend(_text_cell(notebook, cell))
    return tuple(_fill_autolog_names(findings))
