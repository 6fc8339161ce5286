"""Scanning: walk paths, read every notebook, find, assess; one :class:`ScanReport`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from legacy_mllib_tracking.notebooks._finder import find
from legacy_mllib_tracking.notebooks._model import (
    FileReport,
    Format,
    Notebook,
    NotebookReadError,
    NotebookReport,
    ScanReport,
)
from legacy_mllib_tracking.notebooks._readers import read_file
from legacy_mllib_tracking.notebooks._target import Target, parse_target
from legacy_mllib_tracking.notebooks._verdict import assess

__all__ = ["iter_scan", "scan", "scan_file", "scan_notebook", "walk"]

#: Directories a walk never enters: VCS data, caches, Jupyter's checkpoint copies.
_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".ipynb_checkpoints"})


def _target(target: Target | str | None) -> Target:
    return target if isinstance(target, Target) else parse_target(target)


def scan_notebook(notebook: Notebook, target: Target | str | None = None) -> NotebookReport:
    """Find everything in one notebook and assess it for ``target``.

    Args:
        notebook: a notebook from :func:`read_notebooks`.
        target: a :class:`Target`, a runtime string (``"15.4 ML"``, ``"oss"``) or ``None`` for
            the newest ML runtime.

    Returns:
        The :class:`NotebookReport`: verdict and findings (each with verdict and message).

    Raises:
        InvalidRuntimeVersion: ``target`` is a string that cannot be read.
    """
    return assess(notebook, find(notebook), _target(target))


def scan_file(path: str | Path, target: Target | str | None = None) -> FileReport:
    """Read and scan one file; a file that cannot be read is a report with ``error`` set."""
    resolved = _target(target)
    try:
        fmt, notebooks = read_file(path)
    except NotebookReadError as error:
        return FileReport(str(path), Format.ERROR, str(error))
    reports = tuple(assess(nb, find(nb), resolved) for nb in notebooks)
    return FileReport(str(path), fmt, None, reports)


def walk(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Yield every file under ``paths`` (files as given, directories recursively, sorted).

    Hidden VCS folders, ``__pycache__`` and ``.ipynb_checkpoints`` are not entered; a file reached
    twice is yielded once. A path that does not exist is yielded as is (scanning reports it as
    an error).
    """
    given = [Path(path) for path in paths]
    if len(given) == 1:  # one file, or one folder (os.walk reaches each file once)
        yield from [given[0]] if not given[0].is_dir() else _tree(given[0])
        return
    seen: set[str] = set()
    for path in given:
        if not path.is_dir():
            candidates: Iterable[Path] = [path]
        else:
            candidates = _tree(path)
        for candidate in candidates:
            key = os.path.abspath(candidate)
            if key not in seen:  # a file named twice (or inside two given folders) once
                seen.add(key)
                yield candidate


def _tree(root: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        for name in sorted(files):
            yield Path(folder, name)


def iter_scan(
    paths: Iterable[str | Path],
    *,
    target: Target | str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[FileReport]:
    """Like :func:`scan`, one :class:`FileReport` at a time (what the CLI streams).

    Raises:
        InvalidRuntimeVersion: ``target`` cannot be read (before any file is read).
    """
    resolved = _target(target)
    files = list(walk(paths))

    def reports() -> Iterator[FileReport]:
        for done, path in enumerate(files, start=1):
            yield scan_file(path, resolved)
            if progress is not None:
                progress(done, len(files))

    return reports()


def scan(
    paths: Iterable[str | Path],
    *,
    target: Target | str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ScanReport:
    """Scan files and directories (recursively) for notebooks that relied on the tracker.

    Args:
        paths: files or directories.
        target: the runtime the notebooks will run on: a :class:`Target`, any runtime string
            ``configure()`` accepts, ``"oss"``, or ``None`` for the newest ML runtime.
        progress: called as ``progress(done, total)`` after each file.

    Returns:
        The :class:`ScanReport`: every file in walk order (skipped and unreadable ones too).

    Raises:
        InvalidRuntimeVersion: ``target`` cannot be read (before any file is read).
    """
    resolved = _target(target)
    return ScanReport(resolved.label, tuple(iter_scan(paths, target=resolved, progress=progress)))
