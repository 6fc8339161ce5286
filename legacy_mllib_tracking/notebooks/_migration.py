"""What ``migrate`` did, or would do: one outcome per notebook, one result per file, the run's
counts and exit status; the lines of the inserted cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from legacy_mllib_tracking.notebooks._model import (
    Format,
    StrEnum,
    Verdict,
    configure_call,
)

__all__ = [
    "CONFIGURE_LINES",
    "PIP_LINE",
    "FileMigration",
    "MigrationResult",
    "MigrationTally",
    "NotebookMigration",
    "Outcome",
]

#: The lines of the inserted cell; ``spark`` is replaced by a plain script's session name, and
#: ``mode='legacy'`` is added where ``configure(spark)`` alone routes OFF on the target.
CONFIGURE_LINES = ("from legacy_mllib_tracking import configure", configure_call())
#: The cell ``--pip`` adds first.
PIP_LINE = "%pip install legacy-mllib-tracking"
_PIP_SELF = re.compile(r"^\s*[%!]pip\s+install\b.*\blegacy[-_.]mllib[-_.]tracking\b", re.M | re.I)
_MAGIC_LINE = re.compile(r"^\s*[%!]")


class Outcome(StrEnum):
    """What ``migrate`` does with one notebook."""

    #: A ``configure(spark)`` cell is inserted (or would be, without ``write``).
    CHANGED = "changed"
    #: Already calls ``configure()`` from legacy_mllib_tracking before its first tuning fit.
    CONFIGURED = "configured"
    #: Verdict ``ok``: nothing to do, untouched.
    OK = "ok"
    #: Verdict ``review``: a person must look (see the scan), untouched.
    REVIEW = "review"
    #: Verdict ``migrate`` but no safe automatic change (the reason says why), untouched.
    MANUAL = "manual"


@dataclass(frozen=True)
class NotebookMigration:
    """What ``migrate`` did (or would do) with one notebook.

    Attributes:
        location: ``path``, or ``path!entry`` for a notebook inside a ``.dbc``.
        verdict: the scan's verdict for the target.
        outcome: see :class:`Outcome`.
        reason: one line: where the cell goes, or why nothing changes.
        cell: 0-based index (in the original notebook) of the cell the new cell goes before;
            ``None`` when nothing is inserted or for a plain script.
        after_line: plain scripts: the 1-based line the new lines go after, else ``None``.
        pip: a ``%pip install legacy-mllib-tracking`` cell goes first as well.
        session: the name the SparkSession is bound to (``spark`` in notebooks).
        indent: plain scripts: the indentation of the inserted lines.
        mode: the mode the inserted call forces: ``"legacy"`` where ``configure(spark)``
            alone routes OFF on the target (:attr:`NotebookReport.configure_mode`), else
            ``None``.
    """

    location: str
    verdict: Verdict
    outcome: Outcome
    reason: str
    cell: int | None = None
    after_line: int | None = None
    pip: bool = False
    session: str = "spark"
    indent: str = ""
    mode: str | None = None

    @property
    def call(self) -> str:
        """The inserted call: ``configure(spark)`` or ``configure(spark, mode='legacy')``."""
        return configure_call(self.session, self.mode)


@dataclass(frozen=True)
class FileMigration:
    """One file: its notebooks' outcomes, the unified diff of the change, and whether written.

    Attributes:
        path: the file as found.
        format: how it was read.
        notebooks: one entry per notebook (a ``.dbc`` holds several).
        diff: a unified diff of the change ("" when nothing changes); for a ``.dbc``, a diff of
            each changed notebook's cells.
        written: the new content replaced the file.
        error: one line when the file could not be read, rewritten or written, else ``None``.
    """

    path: str
    format: Format
    notebooks: tuple[NotebookMigration, ...] = ()
    diff: str = ""
    written: bool = False
    error: str | None = None

    @property
    def changed(self) -> bool:
        """The file changes (or would change, without ``write``)."""
        return bool(self.diff) and self.error is None


@dataclass(frozen=True)
class MigrationResult:
    """A whole ``migrate`` run: the target, whether it wrote, and every file in walk order."""

    target: str
    write: bool
    files: tuple[FileMigration, ...]

    def notebooks(self) -> list[NotebookMigration]:
        """Every notebook, in file order."""
        return [notebook for file in self.files for notebook in file.notebooks]

    def summary(self) -> dict[str, int]:
        """Counts: files, changed files, notebooks per outcome, error files."""
        return self._tally().summary()

    @property
    def exit_status(self) -> int:
        """The command's exit status (see :attr:`MigrationTally.exit_status`)."""
        return self._tally().exit_status

    def _tally(self) -> MigrationTally:
        tally = MigrationTally(write=self.write)
        for file in self.files:
            tally.add(file)
        return tally


class MigrationTally:
    """Running counts of a ``migrate`` run, for output written file by file (flat memory)."""

    def __init__(self, *, write: bool) -> None:
        self.write = write
        self.counts = dict.fromkeys(
            ("files", "changed_files", *(outcome.value for outcome in Outcome), "errors"), 0
        )

    def add(self, file: FileMigration) -> None:
        """Count one file and its notebooks."""
        self.counts["files"] += 1
        self.counts["changed_files"] += file.changed
        self.counts["errors"] += file.error is not None
        if file.error is not None:  # nothing of it was written: its notebooks did not change
            return
        for notebook in file.notebooks:
            self.counts[notebook.outcome.value] += 1

    def summary(self) -> dict[str, int]:
        """Counts: files, changed files, notebooks per outcome, error files."""
        return dict(self.counts)

    @property
    def exit_status(self) -> int:
        """2 when a file could not be read or written; 1 when a file would change (dry run) or
        a notebook with verdict ``migrate`` needs a manual change; else 0 (``review``
        notebooks are listed but, as for ``scan --fail-on migrate``, do not fail)."""
        if self.counts["errors"]:
            return 2
        pending = not self.write and self.counts["changed_files"]
        return 1 if pending or self.counts[Outcome.MANUAL.value] else 0
