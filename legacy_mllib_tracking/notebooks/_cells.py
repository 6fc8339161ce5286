"""Building cells: the cell magics and the languages they switch to, line ends, the error a
reader raises. Shared by every reader.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from legacy_mllib_tracking.notebooks._model import Cell, NotebookReadError, new_cell

__all__ = ["CELL_MAGICS", "detect_magic", "split_lines"]

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

_LANGUAGES = ("python", "scala", "sql", "r")


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
    # Most cells start with code: only a "%" or a blank first can lead to a magic (every cell
    # of every notebook passes here).
    head = source[:1]
    magic = detect_magic(source) if head == "%" or head.isspace() else None
    effective = CELL_MAGICS[magic] if magic is not None else language
    return new_cell(index, effective, magic, source, first_file_line, title or None, position)


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise NotebookReadError(
            f"{path}: bytes at offset {error.start} do not decode as UTF-8"
        ) from None


def _error(path: Path | str, reason: str) -> NotebookReadError:
    return NotebookReadError(f"{path}: {reason}")
