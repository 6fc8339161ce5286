"""Comments, markdown and other languages, read as text: legacy names, commented-out flags and
autolog calls, line magics, Scala tuning, ``%run`` and ``%pip`` cells.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from legacy_mllib_tracking.notebooks._cursor import _Cursor
from legacy_mllib_tracking.notebooks._model import Cell, Finding, Kind, Notebook
from legacy_mllib_tracking.notebooks._vocabulary import (
    _COMMENT_HINT,
    _FLAG_TEXT,
    _FLAGS,
    _LEGACY_REF,
    _PIP_LINE,
    _SCALA_TUNER,
    LEGACY_METRIC_NAMES,
    TUNERS,
)


def _legacy_refs(cursor: _Cursor, line: int, text: str, *, executed: bool) -> None:
    for match in _LEGACY_REF.finditer(text):
        group, name = match.groups()
        if group == "metrics" and not (
            name.startswith(("avg_", "std_")) or name in LEGACY_METRIC_NAMES
        ):
            continue
        cursor.add(
            Kind.LEGACY_NAME_REF,
            line,
            {"name": f"{group}.{name}", "autolog_name": None, "documentation": not executed},
            executed=executed,
        )


def _comments(lines: Sequence[str]) -> Iterator[tuple[int, str]]:
    """(line, comment) for each line holding a comment with a hint word.

    A quote-aware scan of each line (cheaper than :mod:`tokenize`); a ``#`` inside a string
    that spans lines is taken as a comment, which can only add a documentation finding.
    """
    for number, line in enumerate(lines, start=1):
        if "#" not in line or not _COMMENT_HINT.search(line):
            continue
        hash_at = line.index("#")
        if "'" not in line[:hash_at] and '"' not in line[:hash_at]:
            yield number, line[hash_at:]  # no string before it: the comment starts there
            continue
        quote = ""
        index = 0
        while index < len(line):
            char = line[index]
            if quote:
                if char == "\\":
                    index += 1
                elif line.startswith(quote, index):
                    index += len(quote) - 1
                    quote = ""
            elif char in "'\"":
                quote = line[index : index + 3] if line.startswith(char * 3, index) else char
                index += len(quote) - 1
            elif char == "#":
                yield number, line[index:]
                break
            index += 1


_AUTOLOG_TEXT = re.compile(r"\bmlflow(?P<ml>\.pyspark\.ml)?\.autolog\s*\(")


def _comment(cursor: _Cursor, line: int, comment: str) -> None:
    """Commented-out code: flag sets and autolog calls as not executed; legacy names as docs."""
    text = comment.lstrip("#").strip()
    # each pattern needs a word of its own: most comments are tested with `in`, not a regex
    if "params." in text or "metrics." in text:
        _legacy_refs(cursor, line, text, executed=False)
    lower = text.lower()
    for match in _FLAG_TEXT.finditer(text) if ".enabled" in lower else ():
        if match["value"] is not None:
            key = next(flag for flag in _FLAGS if flag.lower() == match["key"].lower())
            details = {"flag": key, "value": match["value"], "language": "python"}
            cursor.add(Kind.FLAG_SET, line, details, executed=False)
    for match in _AUTOLOG_TEXT.finditer(text) if "autolog" in text else ():
        api = "mlflow.pyspark.ml.autolog" if match["ml"] else "mlflow.autolog"
        details = {"api": api, "exclusive": None, "disable": None}
        cursor.add(Kind.AUTOLOG_CALL, line, details, executed=False)


def _line_magics(cursor: _Cursor, code: list[str]) -> None:
    """Turn IPython line magics (``%pip``, ``!pip``, ``%run``...) into ``pass``, noting some;
    the lines a magic continues on (after a backslash) become blank."""
    continued = False
    for number, line in enumerate(code, start=1):
        stripped = line.lstrip()
        if continued:
            continued = line.rstrip().endswith("\\")
            code[number - 1] = ""
            continue
        if stripped[:1] in ("%", "!"):
            continued = line.rstrip().endswith("\\")
            pip = _PIP_LINE.match(line)
            if pip is not None:
                cursor.add(Kind.PIP_INSTALL, number, {"via": pip.group(1).replace(" ", "")})
            elif stripped.startswith("%run"):
                target = stripped[4:].strip() or None
                cursor.add(Kind.NOTEBOOK_CALL, number, {"via": "%run", "target": target})
            code[number - 1] = line[: len(line) - len(stripped)] + "pass"


def _text_cell(notebook: Notebook, cell: Cell) -> list[Finding]:
    """Markdown, Scala, SQL, R, shell, %run and %pip cells: read as text."""
    source = cell.source
    language = cell.language
    if language not in ("run", "pip") and not (
        "mlflow" in source.lower()
        or (language == "markdown" and ("params." in source or "metrics." in source))
        or (language == "scala" and any(tuner in source for tuner in TUNERS))
    ):
        return []  # nothing any rule below looks for
    cursor = _Cursor(notebook, cell)
    lines = cursor.lines
    if language == "markdown":
        for number, line in enumerate(lines, start=1):
            if "params." in line or "metrics." in line:
                _legacy_refs(cursor, number, line, executed=False)
        return cursor.findings
    if language == "run":
        target = cell.source.strip()[len("%run") :].strip().split(None, 1)
        cursor.add(
            Kind.NOTEBOOK_CALL,
            _first_code_line(lines),
            {"via": "%run", "target": target[0] if target else None},
        )
        return cursor.findings
    if language == "pip":
        cursor.add(Kind.PIP_INSTALL, _first_code_line(lines), {"via": cell.magic or "%pip"})
        return cursor.findings
    comment = {"scala": "//", "sql": "--", "r": "#"}.get(language, "#")
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        executed = not stripped.startswith(comment)
        for match in _FLAG_TEXT.finditer(line):
            key = next(flag for flag in _FLAGS if flag.lower() == match["key"].lower())
            if match["value"] is not None:
                details = {"flag": key, "value": match["value"], "language": language}
                cursor.add(Kind.FLAG_SET, number, details, executed=executed)
            elif executed:
                cursor.add(Kind.FLAG_READ, number, {"flag": key, "language": language})
        if language == "scala" and executed:
            for match in _SCALA_TUNER.finditer(line):
                cursor.add(
                    Kind.NOT_APPLICABLE, number, {"language": "scala", "tuner": match.group(1)}
                )
    return cursor.findings


def _first_code_line(lines: Sequence[str]) -> int:
    return next((n for n, line in enumerate(lines, start=1) if line.strip()), 1)
