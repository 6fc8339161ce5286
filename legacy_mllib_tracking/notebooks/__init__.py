"""Migrating old notebooks: find what relied on the retired tracker (``scan``) and fix it.

Imports neither pyspark nor mlflow (stdlib only), so scanning a workspace export is fast.

API (shared by ``scan`` and ``migrate``)::

    from legacy_mllib_tracking.notebooks import (
        Cell, Notebook, Finding, Kind, Verdict, Format,          # values (_model.py)
        NotebookReport, FileReport, ScanReport, NotebookReadError, RewriteError,
        read_file, read_notebooks,                               # readers (_readers.py)
        Target, parse_target,                                    # targets (_target.py)
        find, scan_notebook, scan,                               # finder / assessment / walk
    )

    read_file(path) -> (Format, list[Notebook])     # (Format.SKIPPED, []) for a non-notebook;
                                                    # raises NotebookReadError (one-line str)
    read_notebooks(path) -> list[Notebook]          # the same, notebooks only
    find(nb: Notebook) -> tuple[Finding, ...]       # target-free findings, notebook order
    parse_target(text: str | None) -> Target        # None: newest ML runtime; "oss"; any
                                                    # runtime string configure() accepts
    scan_notebook(nb, target=None) -> NotebookReport(notebook, verdict, findings)
                                                    # findings carry .verdict and .message
    scan_file(path, target=None) -> FileReport      # error entry instead of raising
    scan(paths, *, target=None, progress=None) -> ScanReport   # files/dirs, recursive;
                                                    # progress(done, total) after each file
    walk(paths) -> Iterator[Path]                   # the files scan() visits, in order
    iter_scan(paths, *, target=None, progress=None) -> Iterator[FileReport]   # streaming
    render_text(report) / render_json(report) -> str; render_sarif(report) -> dict
    write_text(target_label, files, out) / write_json(...) -> Tally   # file by file

Values: ``Cell(index, language, magic, source, first_file_line, title=None, position=None)``;
``Notebook(path, name, format, language, cells, plain_script=False)``;
``Finding(kind, cell, line, file_line, text, executed, details, verdict=None, message="")``.
``Kind`` and ``Verdict`` are ``str`` enums (``finding.kind == "tuning_fit"`` holds).
Cell ``source`` has ``# MAGIC`` prefixes and the DBTITLE line removed; a magic cell keeps its
magic (``%md``) on line 1; ``file_line = first_file_line + line - 1``. For a ``tuning_fit`` the
details are ``tuner``, ``via`` (direct | setter-chain | pipeline | call), ``run_context``
(with | active-run | none), ``estimator``, ``params`` (``[{name, stage, legacy, autolog}]``),
``metric``, ``in_function``; a ``library_configure`` has ``session``, ``mode``,
``runtime_version``, ``dynamic``.
A report's ``configure_mode`` / ``configure_call()`` give the call that tracks its fits on the
target (``configure(spark, mode='legacy')`` where ``configure(spark)`` alone routes OFF).

Migrating (``_migrate.py``; planning in ``_plan.py``, values in ``_migration.py``)::

    migrate(paths, *, target=None, write=False, pip=False, progress=None) -> MigrationResult
    iter_migrate(...) -> Iterator[FileMigration]    # file by file (what the CLI streams)
    plan_notebook(report, *, pip=False) -> NotebookMigration   # pure: where the cell goes
    MigrationResult(target, write, files).exit_status / .summary() / .notebooks()
    FileMigration(path, format, notebooks, diff, written, error)
    NotebookMigration(location, verdict, outcome, reason, cell, after_line, pip, session,
                      indent, mode)
    Outcome: changed | configured | ok | review | manual;  MigrationTally: running counts

Errors (defined in :mod:`legacy_mllib_tracking.errors`, re-exported here):
``NotebookReadError`` (a file that cannot be read) and ``RewriteError`` (a notebook that
cannot be rewritten), both ``LegacyTrackingError`` and ``ValueError``.
"""

from __future__ import annotations

from legacy_mllib_tracking.errors import NotebookReadError, RewriteError
from legacy_mllib_tracking.notebooks._finder import find
from legacy_mllib_tracking.notebooks._migrate import iter_migrate, migrate
from legacy_mllib_tracking.notebooks._migration import (
    FileMigration,
    MigrationResult,
    MigrationTally,
    NotebookMigration,
    Outcome,
)
from legacy_mllib_tracking.notebooks._model import (
    Cell,
    FileReport,
    Finding,
    Format,
    Kind,
    Notebook,
    NotebookReport,
    ScanReport,
    Tally,
    Verdict,
)
from legacy_mllib_tracking.notebooks._plan import plan_notebook
from legacy_mllib_tracking.notebooks._readers import read_file, read_notebooks
from legacy_mllib_tracking.notebooks._report import (
    render_json,
    render_sarif,
    render_text,
    write_json,
    write_text,
)
from legacy_mllib_tracking.notebooks._scan import iter_scan, scan, scan_file, scan_notebook, walk
from legacy_mllib_tracking.notebooks._target import Target, parse_target

__all__ = [
    "Cell",
    "FileMigration",
    "FileReport",
    "Finding",
    "Format",
    "Kind",
    "MigrationResult",
    "MigrationTally",
    "Notebook",
    "NotebookMigration",
    "NotebookReadError",
    "NotebookReport",
    "Outcome",
    "RewriteError",
    "ScanReport",
    "Tally",
    "Target",
    "Verdict",
    "find",
    "iter_migrate",
    "iter_scan",
    "migrate",
    "parse_target",
    "plan_notebook",
    "read_file",
    "read_notebooks",
    "render_json",
    "render_sarif",
    "render_text",
    "scan",
    "scan_file",
    "scan_notebook",
    "walk",
    "write_json",
    "write_text",
]
