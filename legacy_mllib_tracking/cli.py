"""The command line: ``legacy-mllib-tracking explain | tree | diff | replay | demo | ui | scan |
migrate``.

Also runs as ``python -m legacy_mllib_tracking``. Each command lives in a module of its own
(``_cli_explain``, ``_cli_runs``, ``_cli_demo``, ``_cli_notebooks``); this one builds the parser
and turns what a command raises into an exit status.

Results go to stdout; errors, warnings and progress to stderr. Bad input exits with status 2 and
one line on stderr naming the value, where it came from and what is accepted; no error is a
traceback. Output into a closed pipe (``tree ID | head -2``) is dropped quietly and the command
still exits with its own status (``tree`` 0, ``diff`` 0 or 1...), whenever the reader left.
``tree``, ``diff`` and ``replay`` only read or complete a tracking store: they refuse one that
does not exist instead of creating it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, TextIO, cast

from legacy_mllib_tracking import _cli_demo, _cli_explain, _cli_notebooks, _cli_runs
from legacy_mllib_tracking._cli_base import PROG, Parser, QuietPipe, UsageError
from legacy_mllib_tracking.errors import LegacyTrackingError

__all__ = ["main"]


class _Version(argparse.Action):
    """``--version``: this package's version and the mlflow, pyspark and Python it runs with,
    read from the installed distributions (importing neither)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the versions and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from importlib.metadata import PackageNotFoundError, version

        import legacy_mllib_tracking

        found = []
        for name in ("mlflow", "pyspark"):
            try:
                found.append(f"{name} {version(name)}")
            except PackageNotFoundError:
                found.append(f"{name} not installed")
        python = ".".join(map(str, sys.version_info[:3]))
        print(
            f"{parser.prog} {legacy_mllib_tracking.__version__} "
            f"({', '.join(found)}, Python {python})"
        )
        parser.exit(0)


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The parser and each command's own parser, by name."""
    parser = Parser(
        prog=PROG,
        description="Legacy automated MLflow tracking for MLlib tuning, on any runtime.",
    )
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (_cli_explain, _cli_runs, _cli_demo, _cli_notebooks):
        module.register(sub)
    return parser, dict(sub.choices)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    saved = sys.stdout
    pipe = QuietPipe(saved)
    sys.stdout = cast(TextIO, pipe)
    try:
        return _run(list(sys.argv[1:] if argv is None else argv))
    finally:
        pipe.flush()  # also --help's text: a reader that left is no error
        sys.stdout = saved


def _run(words: list[str]) -> int:
    parser, commands = _parser()
    args, unknown = parser.parse_known_args(words)
    if unknown:  # named by the command they were given to, with its --help
        commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    args.argv = words  # for hints that repeat the command with one value changed
    prefix = f"{PROG} {args.command}: error:"
    try:
        return int(args.func(args))
    except (UsageError, LegacyTrackingError) as error:
        print(f"{prefix} {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # never a traceback: one line naming what failed
        from legacy_mllib_tracking._safety import error_text

        # (a database error without SQLAlchemy's statement and the run data in its parameters)
        print(f"{prefix} {error_text(error, limit=450)}", file=sys.stderr)
        return 2
