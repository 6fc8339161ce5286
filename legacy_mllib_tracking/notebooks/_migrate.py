"""Migrating old notebooks: insert ``configure(spark)`` where a notebook needs it.

:func:`migrate` (or :func:`iter_migrate`, file by file) scans each file
(:func:`legacy_mllib_tracking.notebooks.scan_file`), plans one new cell per notebook whose
verdict is ``migrate`` (:func:`plan_notebook`, pure), rewrites the file with the byte-preserving
writers of ``_rewrite`` and returns a unified diff per file; with ``write=True`` it replaces
each changed file atomically. What it never does:

- change a notebook whose verdict is ``ok`` or ``review`` (a ``review`` notebook needs a person
  first; the reason names its findings);
- change a notebook that already calls ``configure()`` from ``legacy_mllib_tracking``: the
  scan finds the call (``library_configure``); where it covers every tuning fit the verdict is
  ``ok`` (so a second run changes nothing), where it does not (called after a fit, undone by a
  later ``%pip`` / ``restartPython()`` / flag set, or routing OFF) the result says why
  (``manual``);
- guess: when no place satisfies every rule below, a plain script has no statement that creates
  the ``SparkSession``, or the notebook writes child runs by hand (with the library every fit
  would log two trees), the notebook is left as it is and the result says why (``manual``);
- write an HTML export (scan only), or touch a file it could not read.

What the cell calls: ``configure(spark)``, or ``configure(spark, mode='legacy')`` on targets
where ``configure(spark)`` alone routes OFF (standard runtimes >= 10.2 and serverless, without a
flag set): the call the scan's message names (:meth:`NotebookReport.configure_call`).

Where the cell goes: after the last cell that restarts Python (``%pip``, ``restartPython()``),
sets a routing flag or calls ``mlflow.autolog`` (so the library is configured in the Python
process the fit runs in, with the flags it runs with, and is not overridden by a later autolog
call), and before the first cell with a tuning fit; when nothing constrains it, after the
notebook's leading markdown cells. In a plain script: after the statement that creates the
``SparkSession`` (or a later statement of the same block that sets a flag), with that
statement's indentation and session name.

Exit status of the command (:attr:`MigrationTally.exit_status`): 0 nothing left to do; 1 a file
would change (without ``write``) or a notebook with verdict ``migrate`` needs a manual change;
2 a file could not be read or written (every other file is still done).
"""

from __future__ import annotations

import ast
import difflib
import enum
import io
import json
import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from legacy_mllib_tracking.notebooks._model import (
    FileReport,
    Finding,
    Format,
    Kind,
    Notebook,
    NotebookReport,
    Verdict,
)
from legacy_mllib_tracking.notebooks._rewrite import (
    RewriteError,
    insert_script_lines,
    insert_source_cell,
)
from legacy_mllib_tracking.notebooks._rewrite_dbc import dbc_notebook_text, insert_dbc_command
from legacy_mllib_tracking.notebooks._rewrite_ipynb import insert_ipynb_cell
from legacy_mllib_tracking.notebooks._target import Target
from legacy_mllib_tracking.notebooks._verdict import coverage
from legacy_mllib_tracking.notebooks._verdict import where as _place

__all__ = [
    "CONFIGURE_LINES",
    "PIP_LINE",
    "FileMigration",
    "MigrationResult",
    "MigrationTally",
    "NotebookMigration",
    "Outcome",
    "iter_migrate",
    "migrate",
    "plan_notebook",
]

#: The lines of the inserted cell; ``spark`` is replaced by a plain script's session name, and
#: ``mode='legacy'`` is added where ``configure(spark)`` alone routes OFF on the target.
CONFIGURE_LINES = ("from legacy_mllib_tracking import configure", "configure(spark)")
#: The cell ``--pip`` adds first.
PIP_LINE = "%pip install legacy-mllib-tracking"
_PIP_SELF = re.compile(r"^\s*[%!]pip\s+install\b.*\blegacy[-_.]mllib[-_.]tracking\b", re.M | re.I)
_MAGIC_LINE = re.compile(r"^\s*[%!]")


class Outcome(str, enum.Enum):
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

    def __str__(self) -> str:
        return self.value


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
        if self.mode is None:
            return f"configure({self.session})"
        return f"configure({self.session}, mode={self.mode!r})"


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


# --- planning -------------------------------------------------------------------------------------


def _executed(report: NotebookReport, *kinds: Kind) -> list[Finding]:
    return [f for f in report.findings if f.kind in kinds and f.executed]


def _uncovered(report: NotebookReport) -> str:
    """Why the notebook's own configure() call leaves its first migrate fit untracked."""
    findings = report.findings
    for finding, cover in zip(findings, coverage(findings), strict=True):
        if cover is None or finding.verdict is not Verdict.MIGRATE:
            continue
        fit = _place(finding)
        if cover.later is not None:
            return (
                f"configure() is called in {_place(cover.later)}, after the first tuning fit "
                f"({fit}): move that call before it"
            )
        if cover.configure is not None and cover.undone_by is not None:
            return (
                f"configure() in {_place(cover.configure)} is undone by "
                f"{_place(cover.undone_by)} ({cover.undone_by.kind}) before the tuning fit in "
                f"{fit}: move the call after {_place(cover.undone_by)}"
            )
        if cover.configure is not None:
            return (
                f"configure() in {_place(cover.configure)} does not track the tuning fit in "
                f"{fit} on the target: call {report.configure_call()} instead"
            )
    return "calls configure(), yet a finding still needs migrating: `scan` says why"


def plan_notebook(report: NotebookReport, *, pip: bool = False) -> NotebookMigration:
    """Decide what ``migrate`` does with one scanned notebook (pure: reads no file).

    Args:
        report: the scan of the notebook (its verdict and findings for the target).
        pip: also add ``%pip install legacy-mllib-tracking`` as the first cell (notebooks only).

    Returns:
        The plan: :attr:`Outcome.CHANGED` with the cell (or script line) to insert at, or
        another outcome with the reason nothing changes.
    """
    notebook = report.notebook
    location = notebook.location
    fit_cells = sorted({f.cell or 0 for f in _executed(report, Kind.TUNING_FIT)})
    configured = bool(_executed(report, Kind.LIBRARY_CONFIGURE))
    if report.verdict is Verdict.OK:
        if configured:
            return NotebookMigration(
                location,
                report.verdict,
                Outcome.CONFIGURED,
                "already calls configure() from legacy_mllib_tracking before its tuning fits",
            )
        return NotebookMigration(location, report.verdict, Outcome.OK, "nothing to migrate")
    if report.verdict is Verdict.REVIEW:
        reviews = [f for f in report.findings if f.verdict is Verdict.REVIEW]
        where = ", ".join(
            f"{f.kind} ({'line ' + str(f.line) if f.cell is None else f'cell {f.cell}'})"
            for f in reviews[:3]
        ) + (", ..." if len(reviews) > 3 else "")
        return NotebookMigration(
            location,
            report.verdict,
            Outcome.REVIEW,
            f"a person must look first: {where}; `scan` says why; not changed",
        )
    if configured:
        return NotebookMigration(location, report.verdict, Outcome.MANUAL, _uncovered(report))
    if notebook.format is Format.DATABRICKS_HTML:
        return NotebookMigration(
            location,
            report.verdict,
            Outcome.MANUAL,
            "HTML exports are scan only: migrate the notebook's source export or the notebook",
        )
    if not fit_cells:
        return NotebookMigration(
            location,
            report.verdict,
            Outcome.MANUAL,
            "no tuning fit in this notebook to configure tracking for: "
            "update its legacy names by hand",
        )
    manual_runs = _executed(report, Kind.MANUAL_CHILD_RUNS)
    if manual_runs:
        first = manual_runs[0]
        where = f"line {first.line}" if notebook.plain_script else f"cell {first.cell}"
        return NotebookMigration(
            location,
            report.verdict,
            Outcome.MANUAL,
            f"child runs written by hand ({where}): "
            "with configure(spark) each fit would log two trees; drop that loop, then migrate",
        )
    if notebook.plain_script:
        return _plan_script(report)
    return _plan_cells(report, fit_cells[0], pip=pip)


#: What must run before configure(spark), and how a reason names it.
_BARRIERS = {
    Kind.PIP_INSTALL: "restarts Python (%pip / restartPython)",
    Kind.FLAG_SET: "sets {flag}",
    Kind.AUTOLOG_CALL: "calls mlflow autolog (configure() must run after it)",
}


def _plan_cells(report: NotebookReport, first_fit: int, *, pip: bool) -> NotebookMigration:
    notebook = report.notebook
    barriers: dict[int, str] = {}
    for finding in _executed(report, *_BARRIERS):
        if finding.cell is None:
            continue
        barriers.setdefault(finding.cell, _BARRIERS[finding.kind].format(**finding.details))
    late = sorted(cell for cell in barriers if cell >= first_fit)
    if late:
        cell = late[-1]
        return NotebookMigration(
            notebook.location,
            report.verdict,
            Outcome.MANUAL,
            f"cell {cell} {barriers[cell]} at or after the first tuning fit (cell {first_fit}): "
            "configure(spark) must come after it and before the fit; split or move the cells",
        )
    at = max(barriers) + 1 if barriers else 0
    if not barriers:  # keep the notebook's title and introduction on top
        while at < first_fit and notebook.cells[at].language == "markdown":
            at += 1
    add_pip = pip and not any(_PIP_SELF.search(cell.source) for cell in notebook.cells)
    where = f"before cell {at}" + (
        f" (first tuning fit: cell {first_fit})" if at != first_fit else " (the first tuning fit)"
    )
    mode = report.configure_mode
    call = report.configure_call()
    return NotebookMigration(
        notebook.location,
        report.verdict,
        Outcome.CHANGED,
        f"{call} cell {where}"
        + (", %pip cell first" if add_pip else "")
        + ("" if mode is None else "; configure(spark) alone routes OFF on the target"),
        cell=at,
        pip=add_pip,
        mode=mode,
    )


# --- plain scripts --------------------------------------------------------------------------------

_SESSION_ROOTS = {"SparkSession", "DatabricksSession"}


def _creates_session(value: ast.expr | None) -> bool:
    """``value`` is ``SparkSession.builder....getOrCreate()`` (or ``getActiveSession()``)."""
    if not isinstance(value, ast.Call) or not isinstance(value.func, ast.Attribute):
        return False
    attrs: list[str] = []
    node: ast.expr = value.func
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        else:
            break
    root = node.id if isinstance(node, ast.Name) else ""
    last = value.func.attr
    if last == "getOrCreate":
        return "builder" in attrs or root in _SESSION_ROOTS
    return last in ("getActiveSession", "active") and root in _SESSION_ROOTS


def _session_statement(tree: ast.Module) -> tuple[ast.stmt, str, list[ast.stmt]] | None:
    """The first statement binding a name to a new SparkSession: (statement, name, its block)."""
    found: list[tuple[int, ast.stmt, str, list[ast.stmt]]] = []
    for parent in ast.walk(tree):
        for field in ("body", "orelse", "finalbody", "handlers"):
            block = getattr(parent, field, None)
            if not isinstance(block, list):
                continue
            for statement in block:
                target: ast.expr | None = None
                if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                    target = statement.targets[0]
                elif isinstance(statement, ast.AnnAssign):
                    target = statement.target
                if isinstance(target, ast.Name) and _creates_session(
                    getattr(statement, "value", None)
                ):
                    found.append((statement.lineno, statement, target.id, block))
    if not found:
        return None
    _, statement, name, block = min(found, key=lambda item: item[0])
    return statement, name, block


def _function_lines(tree: ast.Module) -> set[int]:
    """Lines inside function bodies (code there runs when called, not in file order)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def _plan_script(report: NotebookReport) -> NotebookMigration:
    notebook = report.notebook
    source = notebook.cells[0].source
    manual = Outcome.MANUAL
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as error:
        return NotebookMigration(
            notebook.location, report.verdict, manual, f"does not parse ({error}): not changed"
        )
    found = _session_statement(tree)
    if found is None:
        return NotebookMigration(
            notebook.location,
            report.verdict,
            manual,
            "no statement creates the SparkSession (name = SparkSession.builder...getOrCreate()):"
            " add configure(<session>) after it by hand",
        )
    statement, name, block = found
    line = source.split("\n")[statement.lineno - 1]
    indent = line[: len(line) - len(line.lstrip())]
    if len(indent) != statement.col_offset:
        return NotebookMigration(
            notebook.location,
            report.verdict,
            manual,
            f"the SparkSession is created on line {statement.lineno} inside a one-line block: "
            "add configure() after it by hand",
        )
    after = statement.end_lineno or statement.lineno
    for finding in _executed(report, *_BARRIERS):
        for later in block:
            if later.lineno > after and later.lineno <= finding.line <= (later.end_lineno or 0):
                after = later.end_lineno or later.lineno
    in_functions = _function_lines(tree)
    early = [
        f.line
        for f in _executed(report, Kind.TUNING_FIT)
        if f.line <= after and f.line not in in_functions
    ]
    if early:
        return NotebookMigration(
            notebook.location,
            report.verdict,
            manual,
            f"a tuning fit on line {early[0]} runs before line {after} (SparkSession created or "
            "flags set): add configure() by hand",
        )
    mode = report.configure_mode
    return NotebookMigration(
        notebook.location,
        report.verdict,
        Outcome.CHANGED,
        f"{report.configure_call(name)} after line {after}"
        + ("" if mode is None else f"; configure({name}) alone routes OFF on the target"),
        after_line=after,
        session=name,
        indent=indent,
        mode=mode,
    )


# --- rewriting ------------------------------------------------------------------------------------


def _cell_lines(plan: NotebookMigration) -> list[str]:
    return [CONFIGURE_LINES[0], plan.call]


def _rewrite_text(text: str, notebook: Notebook, plan: NotebookMigration) -> str:
    """The new text of a text-format file (Databricks source, ipynb, plain script)."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    text = text[len(bom) :]
    lines = _cell_lines(plan)
    if notebook.format is Format.PYTHON:
        assert plan.after_line is not None
        return bom + insert_script_lines(text, plan.after_line, lines, indent=plan.indent)
    assert plan.cell is not None
    insert: Callable[[str, int, Sequence[str]], str]
    if notebook.format is Format.IPYNB:

        def insert(t: str, i: int, cell: Sequence[str]) -> str:
            return insert_ipynb_cell(t, i, cell, language=notebook.language)
    else:

        def insert(t: str, i: int, cell: Sequence[str]) -> str:
            return insert_source_cell(t, i, cell, language=notebook.language)

    text = insert(text, plan.cell, lines)
    if plan.pip:
        text = insert(text, 0, [PIP_LINE])
    return bom + text


def _unified(old: str, new: str, label: str) -> str:
    """A unified diff of two texts, every line ended, ``\\ No newline`` where one is missing."""
    out: list[str] = []
    for line in difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), label, label, n=3
    ):
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _dbc_diff(old: bytes, new: bytes, path: str, entries: Sequence[_Location]) -> str:
    parts = []
    with zipfile.ZipFile(io.BytesIO(old)) as before, zipfile.ZipFile(io.BytesIO(new)) as after:
        for entry, where in entries:
            parts.append(
                _unified(
                    dbc_notebook_text(_at(json.loads(before.read(entry)), where)),
                    dbc_notebook_text(_at(json.loads(after.read(entry)), where)),
                    f"{path}!{entry}" + "".join(f"[{step!r}]" for step in where),
                )
            )
    return "".join(parts)


def _at(value: Any, where: Sequence[str | int]) -> Any:
    for step in where:
        value = value[step]
    return value


_DBC_SUFFIXES = {"python": ".python", "scala": ".scala", "sql": ".sql", "r": ".r"}


_Location = tuple[str, tuple[str | int, ...]]  # (zip entry, JSON path to the NotebookV1)


def _dbc_locations(data: bytes, name: str) -> list[_Location]:
    """Where the notebook the scan calls ``name`` sits in an archive, and its copies.

    First the notebook itself: the entry ``name``, or a notebook embedded in a folder entry
    (``FolderV1`` ``children``) under the name the reader gives it (folder path + child
    names). Then every embedded copy of it (same ``origId`` or ``guid``, same command texts),
    which the scan reports once but an import may read: each gets the same new cell.

    Raises:
        RewriteError: no entry holds it.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        embedded: list[tuple[_Location, str, Any]] = []
        for entry in names:
            last = entry.rsplit("/", 1)[-1]
            if "." in last and "." + last.rsplit(".", 1)[1].lower() in _DBC_SUFFIXES.values():
                continue
            try:
                folder = json.loads(archive.read(entry).decode("utf-8-sig"))
            except ValueError:
                continue
            if isinstance(folder, dict) and "children" in folder:
                base = entry.rsplit(".", 1)[0] if "." in last else entry
                for path, child_name, model in _children(folder, base.rstrip("/") + "/", ()):
                    embedded.append(((entry, path), child_name, model))
        primary: _Location
        if name in names:
            primary = (name, ())
            model = json.loads(archive.read(name).decode("utf-8-sig"))
        else:
            match = next((item for item in embedded if item[1] == name), None)
            if match is None:
                raise RewriteError(f"no entry of the archive holds notebook {name!r}")
            primary, _, model = match
    identity, texts = _identity(model), _command_texts(model)
    copies = [
        where
        for where, _, other in embedded
        if where != primary and identity & _identity(other) and _command_texts(other) == texts
    ]
    return [primary, *copies]


def _children(
    folder: Any, prefix: str, path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], str, Any]]:
    """(JSON path, reader's name, NotebookV1) of every notebook under a folder's children."""
    for i, child in enumerate(folder.get("children") or ()):
        if not isinstance(child, dict):
            continue
        child_name = str(child.get("name") or "")
        here = (*path, "children", i)
        if isinstance(child.get("commands"), list):
            language = str(child.get("language") or "python").lower()
            yield here, f"{prefix}{child_name}{_DBC_SUFFIXES.get(language, '.python')}", child
        elif "children" in child:
            yield from _children(child, f"{prefix}{child_name}/", here)


def _identity(model: Any) -> set[tuple[str, str]]:
    if not isinstance(model, dict):
        return set()
    keys = ("origId", "guid")
    return {(key, str(model[key])) for key in keys if model.get(key) not in (None, "")}


def _command_texts(model: Any) -> list[str]:
    commands = model.get("commands") if isinstance(model, dict) else None
    if not isinstance(commands, list):
        return []
    ordered = sorted(
        (c for c in commands if isinstance(c, dict)),
        key=lambda c: (
            float(c["position"]) if isinstance(c.get("position"), (int, float)) else float("inf")
        ),
    )
    return [str(c.get("command", "")) for c in ordered]


def _rewrite_file(
    data: bytes, file: FileReport, plans: Sequence[NotebookMigration]
) -> tuple[bytes, str]:
    """The new bytes of a file and the diff to show; ``(data, "")`` when nothing changes."""
    changing = [
        (report.notebook, plan)
        for report, plan in zip(file.notebooks, plans, strict=True)
        if plan.outcome is Outcome.CHANGED
    ]
    if not changing:
        return data, ""
    if file.format is Format.DBC:
        new = data
        entries = []
        for notebook, plan in changing:
            assert plan.cell is not None
            for entry, where in _dbc_locations(data, notebook.name):
                new = insert_dbc_command(new, entry, plan.cell, _cell_lines(plan), path=where)
                if plan.pip:
                    new = insert_dbc_command(new, entry, 0, [PIP_LINE], path=where)
                entries.append((entry, where))
        return new, _dbc_diff(data, new, file.path, entries)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RewriteError(f"bytes at offset {error.start} do not decode as UTF-8") from None
    notebook, plan = changing[0]
    new_text = _rewrite_text(text, notebook, plan)
    return new_text.encode("utf-8"), _unified(text, new_text, file.path)


# --- writing --------------------------------------------------------------------------------------


def _write_atomically(
    path: Path, original: bytes, new: bytes, *, check: Callable[[Path], None] | None = None
) -> None:
    """Replace ``path`` by ``new`` through a temp file next to it; keep its mode.

    ``check`` is called with the temp file (named with the original's suffix) before the
    rename; whatever it raises leaves the original untouched.

    Raises:
        OSError: the file is read-only, changed since it was read, or cannot be written; the
            original is untouched.
    """
    info = path.stat()
    if not info.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(
        path, os.W_OK
    ):
        raise PermissionError(f"{path}: the file is read-only")
    if path.read_bytes() != original:
        raise OSError(f"{path}: changed since it was read; run migrate again")
    handle, temp = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".migrate{path.suffix}", dir=path.parent
    )
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(new)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, stat.S_IMODE(info.st_mode))
        if check is not None:
            check(Path(temp))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _reads_back(temp: Path, file: FileReport, plans: Sequence[NotebookMigration]) -> None:
    """Raise :class:`RewriteError` unless ``temp`` reads as the same notebooks plus the new
    cells (the readers the scan uses, so the next scan sees what was written)."""
    from legacy_mllib_tracking.notebooks import NotebookReadError, read_file

    try:
        _, notebooks = read_file(temp)
    except NotebookReadError as error:
        raise RewriteError(f"the rewritten file does not read back ({error})") from None
    by_name = {notebook.name: notebook for notebook in notebooks}
    for report, plan in zip(file.notebooks, plans, strict=True):
        before = report.notebook
        added = 0
        if plan.outcome is Outcome.CHANGED and not before.plain_script:
            added = 1 + plan.pip
        after = by_name.get(before.name)
        if after is None or len(after.cells) != len(before.cells) + added:
            raise RewriteError(
                f"the rewritten {before.location} does not read back with "
                f"{len(before.cells) + added} cells"
            )


# --- the API --------------------------------------------------------------------------------------


def migrate(
    paths: Sequence[str | os.PathLike[str]],
    *,
    target: Target | str | None = None,
    write: bool = False,
    pip: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> MigrationResult:
    """Plan (and with ``write``, make) the ``configure(spark)`` change for every notebook.

    Args:
        paths: files or directories (walked recursively), as for ``scan``.
        target: the runtime the notebooks will run on: a :class:`~legacy_mllib_tracking.
            notebooks.Target`, any string ``configure()`` accepts, ``"oss"``, or ``None`` for
            the newest ML runtime.
        write: replace each changed file (a temp file next to it, renamed over it; mode kept).
        pip: also add ``%pip install legacy-mllib-tracking`` as the first cell of each changed
            notebook (not plain scripts).
        progress: called as ``progress(done, total)`` after each file is scanned.

    Returns:
        The :class:`MigrationResult`: per file its notebooks' outcomes, the diff, whether it was
        written, or a one-line error (a file that cannot be read or written; the rest go on).

    Raises:
        legacy_mllib_tracking.InvalidRuntimeVersion: ``target`` cannot be parsed.
    """
    from legacy_mllib_tracking.notebooks import parse_target

    resolved = target if isinstance(target, Target) else parse_target(target)
    files = iter_migrate(paths, target=resolved, write=write, pip=pip, progress=progress)
    return MigrationResult(resolved.label, write, tuple(files))


def iter_migrate(
    paths: Sequence[str | os.PathLike[str]],
    *,
    target: Target | str | None = None,
    write: bool = False,
    pip: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[FileMigration]:
    """:func:`migrate` one file at a time: yield each file's :class:`FileMigration` when done.

    Each file is scanned, planned, rewritten (and with ``write`` written) before the next is
    read, so memory stays flat however large the tree. Skipped files are not yielded.

    Raises:
        legacy_mllib_tracking.InvalidRuntimeVersion: ``target`` cannot be parsed (before any
            file is read).
    """
    from legacy_mllib_tracking.notebooks import parse_target, scan_file, walk

    resolved = target if isinstance(target, Target) else parse_target(target)
    found: list[Path] = []
    seen: set[str] = set()
    for path in walk(Path(p) for p in paths):  # a file named twice is migrated once
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            found.append(path)
    for done, path in enumerate(found, start=1):
        file = scan_file(path, resolved)
        if file.format is not Format.SKIPPED:
            yield _migrate_file(file, write=write, pip=pip)
        if progress is not None:
            progress(done, len(found))


def _migrate_file(file: FileReport, *, write: bool, pip: bool) -> FileMigration:
    if file.error is not None:
        return FileMigration(file.path, file.format, error=file.error)
    plans = tuple(plan_notebook(report, pip=pip) for report in file.notebooks)
    if not any(plan.outcome is Outcome.CHANGED for plan in plans):
        return FileMigration(file.path, file.format, plans)
    path = Path(file.path)
    try:
        data = path.read_bytes()
        new, diff = _rewrite_file(data, file, plans)
    except (OSError, RewriteError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        return FileMigration(
            file.path, file.format, plans, error=f"{file.path}: cannot rewrite: {reason}"
        )
    if not write or new == data:
        return FileMigration(file.path, file.format, plans, diff)
    try:
        _write_atomically(path, data, new, check=lambda temp: _reads_back(temp, file, plans))
    except RewriteError as error:
        return FileMigration(
            file.path,
            file.format,
            plans,
            diff,
            error=f"{file.path}: cannot rewrite: {error}; file untouched",
        )
    except OSError as error:
        reason = str(error) if not error.strerror else f"{file.path}: {error.strerror}"
        return FileMigration(file.path, file.format, plans, diff, error=reason)
    return FileMigration(file.path, file.format, plans, diff, written=True)
