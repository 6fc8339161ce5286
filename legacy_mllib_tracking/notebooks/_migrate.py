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

import os
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from legacy_mllib_tracking.errors import NotebookReadError
from legacy_mllib_tracking.notebooks._change import _rewrite_file
from legacy_mllib_tracking.notebooks._migration import (
    FileMigration,
    MigrationResult,
    NotebookMigration,
    Outcome,
)
from legacy_mllib_tracking.notebooks._model import (
    FileReport,
    Format,
)
from legacy_mllib_tracking.notebooks._plan import plan_notebook
from legacy_mllib_tracking.notebooks._readers import read_file
from legacy_mllib_tracking.notebooks._rewrite import RewriteError
from legacy_mllib_tracking.notebooks._scan import scan_file, walk
from legacy_mllib_tracking.notebooks._target import Target, parse_target

__all__ = ["iter_migrate", "migrate"]


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
