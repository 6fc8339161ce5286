"""What every command of the command line shares: the usage error, a parser whose errors are one
line, the checks of ``--tracking-uri`` and of paths, the way to print a command that runs as
printed, and an stdout that a reader may close early (``tree ID | head -2``)."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

__all__ = [
    "ACCEPTED_STORES",
    "PROG",
    "Parser",
    "QuietPipe",
    "UsageError",
    "check_paths_exist",
    "command",
    "tracking_uri",
    "unknown_scheme",
]

PROG = "legacy-mllib-tracking"

#: URI schemes mlflow 2.17 and 3.17 open as tracking stores (plugins may add more).
_TRACKING_SCHEMES = frozenset(
    {"file", "sqlite", "http", "https", "databricks", "postgresql", "mysql", "mssql"}
)
#: What ``--tracking-uri`` accepts, for the messages that refuse a URI.
ACCEPTED_STORES = (
    "a folder path, sqlite:///PATH/TO/mlflow.db, http(s)://HOST:PORT (a tracking server), "
    "databricks, postgresql://, mysql://, mssql://"
)


def unknown_scheme(uri: str) -> str | None:
    """The scheme of ``uri`` (``ftp``) when mlflow has no tracking store for it, else ``None``
    (mlflow's own message about such a URI speaks of its model registry)."""
    scheme = uri.partition(":")[0].lower() if "://" in uri else ""
    return scheme if scheme and scheme not in _TRACKING_SCHEMES else None


class UsageError(Exception):
    """Bad command-line input: printed as one line on stderr, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (argparse prints the usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def tracking_uri(text: str) -> str:
    """``--tracking-uri``: a URI, not empty (an empty one would silently mean MLflow's default)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"must be a tracking URI such as sqlite:///mlflow.db or http://127.0.0.1:5000, "
            f"got {text!r}; leave the option out for the command's default"
        )
    return text


def check_paths_exist(paths: Sequence[str | Path], what: str) -> None:
    """Raise :class:`UsageError` naming every path of ``paths`` that does not exist.

    The one wording of a missing path, whatever the command: ``PATH 'x': no such file or
    directory``.
    """
    missing = [str(path) for path in paths if not os.path.lexists(path)]
    if missing:
        names = ", ".join(repr(name) for name in missing)
        raise UsageError(f"{what} {names}: no such file or directory")


def command(*words: str, workdir: Path | None = None) -> str:
    """This program's command line with ``words``, quoted for a shell, as it runs from
    ``workdir`` (default: the working directory): ``legacy-mllib-tracking`` when that is the
    script on PATH, else this interpreter's script (``./dev demo`` runs from ``.venv``, which is
    not on PATH), else ``python -m legacy_mllib_tracking``."""
    workdir = Path.cwd() if workdir is None else workdir
    script = Path(sys.executable).parent / PROG
    on_path = shutil.which(PROG)
    if on_path is not None and Path(on_path).resolve() == script.resolve():
        program = [PROG]
    elif script.is_file():
        try:
            program = [str(script.relative_to(workdir.resolve()))]
        except ValueError:
            program = [str(script)]
    else:
        program = [sys.executable, "-m", "legacy_mllib_tracking"]
    return " ".join(shlex.quote(word) for word in (*program, *words))


class QuietPipe(io.TextIOBase):
    """stdout for a command whose reader may leave early (``tree ID | head -2``).

    Once a write or flush finds the pipe closed (``BrokenPipeError``), stdout's file descriptor
    is pointed at ``os.devnull`` (the Python docs' recipe for SIGPIPE) and the command goes on
    to its end: whether the reader left before or after the last line, the command exits with
    its own status, never one that depends on timing.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream
        self.reader_left = False

    def write(self, text: str) -> int:
        try:
            self._stream.write(text)
        except BrokenPipeError:
            self._drop()
        return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._drop()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    def _drop(self) -> None:
        self.reader_left = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        finally:
            os.close(devnull)
        with contextlib.suppress(BrokenPipeError):  # devnull takes everything
            self._stream.flush()  # what was buffered for the reader now goes to devnull
