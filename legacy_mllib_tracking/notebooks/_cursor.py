"""Where a finding is: one cell's lines, and the findings built on them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from legacy_mllib_tracking.notebooks._model import Cell, Finding, Kind, Notebook, new_finding


class _Cursor:
    """Locates lines of one cell and builds its findings."""

    def __init__(self, notebook: Notebook, cell: Cell) -> None:
        self.notebook = notebook
        self.cell = cell
        self._lines: list[str] | None = None
        self.findings: list[Finding] = []

    @property
    def lines(self) -> list[str]:
        """The cell's lines, split on first use (most cells never need them)."""
        if self._lines is None:
            self._lines = self.cell.source.split("\n")
        return self._lines

    def add(
        self, kind: Kind, line: int, details: Mapping[str, Any], *, executed: bool = True
    ) -> None:
        lines = self._lines if self._lines is not None else self.lines
        if not 1 <= line <= len(lines):
            line = max(1, min(line, len(lines)))
        cell = self.cell
        first = cell.first_file_line
        self.findings.append(
            new_finding(
                kind,
                None if self.notebook.plain_script else cell.index,
                line,
                None if first is None else first + line - 1,
                lines[line - 1].strip(),
                executed,
                details if type(details) is dict else dict(details),
            )
        )
