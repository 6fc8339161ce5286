"""The values of notebook scanning: cells, notebooks, findings, reports, targets, verdicts.

Pure values (frozen dataclasses and ``str`` enums); no I/O, no pyspark, no mlflow. Readers build
:class:`Notebook` values, the finder turns a notebook into :class:`Finding` values, the verdict
step fills each finding's ``verdict`` and ``message`` for a :class:`Target`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from legacy_mllib_tracking.errors import NotebookReadError

__all__ = [
    "Cell",
    "FileReport",
    "Finding",
    "Format",
    "Kind",
    "Notebook",
    "NotebookReadError",
    "NotebookReport",
    "ScanReport",
    "StrEnum",
    "Tally",
    "Verdict",
    "configure_call",
]


class StrEnum(str, enum.Enum):
    """A ``str`` enum whose ``str()`` and f-string form are its value (``enum.StrEnum`` is
    Python 3.11+)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return str(self.value).__format__(spec)


class Format(StrEnum):
    """The format a file was read as (``"skipped"`` and ``"error"`` only appear in reports)."""

    #: A ``.py`` / ``.scala`` / ``.sql`` / ``.r`` export headed ``# Databricks notebook source``.
    DATABRICKS_SOURCE = "databricks-source"
    #: A Jupyter notebook (nbformat 4).
    IPYNB = "ipynb"
    #: A Databricks archive: a zip of ``NotebookV1`` JSON entries.
    DBC = "dbc"
    #: A Databricks HTML export (scan only, never rewritten).
    DATABRICKS_HTML = "databricks-html"
    #: A plain Python script: one unit, no cells.
    PYTHON = "python"
    #: Not a notebook: counted, not read.
    SKIPPED = "skipped"
    #: Could not be read: see the file's ``error``.
    ERROR = "error"


class Kind(StrEnum):
    """What a finding is; exhaustive (the issue's list). Compares equal to its string value."""

    #: ``.fit`` of a pyspark CrossValidator / TrainValidationSplit (direct, setter chain, Pipeline).
    TUNING_FIT = "tuning_fit"
    #: Either routing flag set (``spark.conf.set``, ``builder.config``, ``SparkConf().set``, SET).
    FLAG_SET = "flag_set"
    #: Code that reads either routing flag.
    FLAG_READ = "flag_read"
    #: ``mlflow.autolog(...)`` or ``mlflow.pyspark.ml.autolog(...)``.
    AUTOLOG_CALL = "autolog_call"
    #: Run data read by legacy names (``params.maxDepth``, ``metrics.avg_areaUnderROC``).
    LEGACY_NAME_REF = "legacy_name_ref"
    #: ``mlflow.start_run(...)``.
    START_RUN = "start_run"
    #: ``mlflow.end_run(...)``.
    END_RUN = "end_run"
    #: ``mlflow.<flavor>.log_model(...)``.
    LOG_MODEL = "log_model"
    #: Nested runs written by hand in a loop (with the library on, each fit gets two trees).
    MANUAL_CHILD_RUNS = "manual_child_runs"
    #: ``%run`` or ``dbutils.notebook.run``.
    NOTEBOOK_CALL = "notebook_call"
    #: ``%pip`` / ``!pip`` / ``dbutils.library.restartPython()``: Python restarts.
    PIP_INSTALL = "pip_install"
    #: Tuning code the retired feature never covered (Scala).
    NOT_APPLICABLE = "not_applicable"
    #: ``legacy_mllib_tracking.configure(...)``: the fits after it are tracked by this library.
    LIBRARY_CONFIGURE = "library_configure"
    #: A Python cell that does not parse; the rest of the notebook is still scanned.
    PARSE_ERROR = "parse_error"


class Verdict(StrEnum):
    """What a notebook needs on the target; ordered ``ok < review < migrate``."""

    #: Nothing to do.
    OK = "ok"
    #: A person must look (manual child runs, flag reads, a fit reached through another file...).
    REVIEW = "review"
    #: Relied on the retired tracker and loses its runs or their names on the target.
    MIGRATE = "migrate"

    @property
    def rank(self) -> int:
        """0 for ok, 1 for review, 2 for migrate."""
        return ("ok", "review", "migrate").index(self._value_)  # (not .value: see Finding.to_dict)


@dataclass(frozen=True)
class Cell:
    """One cell of a notebook, as the reader found it.

    Attributes:
        index: 0-based position in notebook order (``.dbc`` / HTML: after sorting by ``position``).
        language: the effective language: ``python``, ``scala``, ``sql``, ``r``, ``markdown``,
            ``shell``, ``fs``, ``run`` or ``pip``.
        magic: the cell magic (``"%md"``, ``"%scala"``, ``"%pip"``, ``"%run"``...) or ``None``.
        source: the cell text with ``# MAGIC `` prefixes and a ``DBTITLE`` line removed; a magic
            cell's magic stays on its first line. Line ``n`` of a finding is
            ``source.split("\\n")[n - 1]``. Line ends are ``\\n`` (CRLF is normalised).
        first_file_line: 1-based physical line of ``source``'s first line in a text format
            (Databricks source, plain script), else ``None``; so a finding's file line is
            ``first_file_line + line - 1``.
        title: the ``DBTITLE`` / ``commandTitle``, or ``None``.
        position: the command's ``position`` in a ``.dbc`` / HTML export, else ``None``.
    """

    index: int
    language: str
    magic: str | None
    source: str
    first_file_line: int | None
    title: str | None = None
    position: float | None = None


@dataclass(frozen=True)
class Notebook:
    """A notebook read from a file (a ``.dbc`` holds several).

    Attributes:
        path: the file path as given.
        name: the entry inside a ``.dbc`` (``"Folder/nb.python"``), else ``""``.
        format: one of :class:`Format` (never ``skipped`` / ``error``).
        language: the notebook's default language: ``python``, ``scala``, ``sql`` or ``r``.
        cells: the cells in notebook order.
        plain_script: ``True`` for a plain ``.py`` (one cell; findings have ``cell=None``).
    """

    path: str
    name: str
    format: Format
    language: str
    cells: tuple[Cell, ...]
    plain_script: bool = False

    @property
    def location(self) -> str:
        """``path`` or ``path!name`` for an entry of an archive."""
        return f"{self.path}!{self.name}" if self.name else self.path


@dataclass(frozen=True)
class Finding:
    """One thing the finder saw.

    Attributes:
        kind: the :class:`Kind`.
        cell: 0-based cell index, ``None`` for a plain script.
        line: 1-based line in the cell (in the file for a plain script).
        file_line: 1-based physical line for text formats, else ``None``.
        text: the source line, stripped.
        executed: ``False`` for commented-out code, markdown and other documentation.
        details: the kind-specific keys (every key of the kind always present), e.g. ``tuner``,
            ``via``, ``run_context``, ``params`` for ``tuning_fit``.
        verdict: what this finding asks for on the target (``None`` until assessed, or when it
            asks for nothing).
        message: one line: what happens on the target without the library and with it (empty
            until assessed).
    """

    kind: Kind
    cell: int | None
    line: int
    file_line: int | None
    text: str
    executed: bool
    details: Mapping[str, Any] = field(default_factory=dict)
    verdict: Verdict | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object of this finding (schema 1): common keys, then the details."""
        # (``_value_``, not ``.value``: the enum property is a Python-level call; this runs for
        # every finding of a JSON report.)
        verdict = self.verdict
        payload: dict[str, Any] = {
            "kind": self.kind._value_,
            "cell": self.cell,
            "line": self.line,
            "file_line": self.file_line,
            "text": self.text,
            "executed": self.executed,
            "verdict": None if verdict is None else verdict._value_,
            "message": self.message,
        }
        details = self.details
        payload.update(details)
        if "params" in details:  # the one nested value: copied (re-set in place, same order)
            payload["params"] = [dict(v) for v in details["params"]]
        return payload


# The scan builds tens of thousands of cells and findings. A frozen dataclass's __init__ sets
# each field through object.__setattr__ (about 1 us for a Finding); these two fill the same
# instance's __dict__ directly, a third of that. Same values, same class, still frozen
# (tests/unit/test_notebooks_finder.py compares them with the constructors).
_new = object.__new__


def new_cell(
    index: int,
    language: str,
    magic: str | None,
    source: str,
    first_file_line: int | None,
    title: str | None = None,
    position: float | None = None,
) -> Cell:
    """``Cell(...)`` with the same arguments, on the scan's hot path."""
    cell = _new(Cell)
    fields = cell.__dict__
    fields["index"] = index
    fields["language"] = language
    fields["magic"] = magic
    fields["source"] = source
    fields["first_file_line"] = first_file_line
    fields["title"] = title
    fields["position"] = position
    return cell


def new_finding(
    kind: Kind,
    cell: int | None,
    line: int,
    file_line: int | None,
    text: str,
    executed: bool,
    details: Mapping[str, Any],
    verdict: Verdict | None = None,
    message: str = "",
) -> Finding:
    """``Finding(...)`` with the same arguments (all of them positional), on the hot path."""
    finding = _new(Finding)
    fields = finding.__dict__
    fields["kind"] = kind
    fields["cell"] = cell
    fields["line"] = line
    fields["file_line"] = file_line
    fields["text"] = text
    fields["executed"] = executed
    fields["details"] = details
    fields["verdict"] = verdict
    fields["message"] = message
    return finding


def configure_call(session: str = "spark", mode: str | None = None) -> str:
    """The text of this library's ``configure()`` call: ``configure(spark)``, or
    ``configure(spark, mode='legacy')`` with a ``mode`` (the one place this text is built)."""
    return f"configure({session})" if mode is None else f"configure({session}, mode={mode!r})"


@dataclass(frozen=True)
class NotebookReport:
    """A scanned notebook: its verdict for the target and its findings in notebook order.

    Attributes:
        notebook: the notebook read.
        verdict: the worst verdict of its findings (``ok`` when none asks for anything).
        findings: every finding, in notebook order, each with its verdict and message.
        configure_mode: the mode the ``configure()`` call that migrates this notebook must
            force on the target: ``"legacy"`` where ``configure(spark)`` alone routes OFF (a
            standard runtime >= 10.2, serverless), else ``None`` (``configure(spark)`` routes
            by itself). The scan's messages and ``migrate`` both use :meth:`configure_call`.
    """

    notebook: Notebook
    verdict: Verdict
    findings: tuple[Finding, ...]
    configure_mode: str | None = None

    def configure_call(self, session: str = "spark") -> str:
        """The call that tracks this notebook's fits on the target: ``configure(spark)`` or
        ``configure(spark, mode='legacy')`` (``session``: the SparkSession's name)."""
        return configure_call(session, self.configure_mode)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object of this notebook (schema 1)."""
        return {
            "name": self.notebook.name,
            "language": self.notebook.language,
            "verdict": self.verdict._value_,
            "configure_call": self.configure_call(),
            "findings": [finding.to_dict() for finding in self.findings],
        }


@dataclass(frozen=True)
class FileReport:
    """One file of a scan: how it was read and its notebooks, or why it was skipped / not read."""

    path: str
    format: Format
    error: str | None
    notebooks: tuple[NotebookReport, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object of this file (schema 1)."""
        return {
            "path": self.path,
            "format": self.format._value_,
            "error": self.error,
            "notebooks": [report.to_dict() for report in self.notebooks],
        }


class Tally:
    """Running counts of a scan, for reports written file by file (memory stays flat)."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(
            ("files", "scanned", "migrate", "review", "ok", "skipped", "errors"), 0
        )
        self.worst = Verdict.OK

    def add(self, file: FileReport) -> None:
        """Count one file and its notebooks."""
        self.counts["files"] += 1
        if file.format is Format.SKIPPED:
            self.counts["skipped"] += 1
        elif file.format is Format.ERROR:
            self.counts["errors"] += 1
        for report in file.notebooks:
            self.counts["scanned"] += 1
            self.counts[report.verdict._value_] += 1
            if report.verdict.rank > self.worst.rank:
                self.worst = report.verdict

    def summary(self) -> dict[str, int]:
        """Counts: files, scanned notebooks, migrate, review, ok, skipped files, error files."""
        return dict(self.counts)


@dataclass(frozen=True)
class ScanReport:
    """A whole scan: the target it was assessed for and every file, in walk order."""

    target: str
    files: tuple[FileReport, ...]

    def notebooks(self) -> list[NotebookReport]:
        """Every scanned notebook, in file order."""
        return [report for file in self.files for report in file.notebooks]

    def tally(self) -> Tally:
        """The counts of this report."""
        tally = Tally()
        for file in self.files:
            tally.add(file)
        return tally

    def summary(self) -> dict[str, int]:
        """Counts: files, scanned notebooks, migrate, review, ok, skipped files, error files."""
        return self.tally().summary()

    def worst(self) -> Verdict:
        """The worst verdict over every notebook (``ok`` when there are none)."""
        return self.tally().worst

    def to_dict(self) -> dict[str, Any]:
        """Return the whole JSON document (schema 1)."""
        return {
            "schema": 1,
            "target": self.target,
            "files": [file.to_dict() for file in self.files],
            "summary": self.summary(),
        }
