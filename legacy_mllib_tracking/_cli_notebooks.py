"""``legacy-mllib-tracking scan | migrate``: the command-line side of migrating old notebooks
(:mod:`legacy_mllib_tracking.notebooks` does the work). Reports and diffs go to stdout; progress,
per-notebook notes, the summary and errors to stderr."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from legacy_mllib_tracking._cli_base import UsageError, check_paths_exist

if TYPE_CHECKING:
    from legacy_mllib_tracking.notebooks import Tally, Target

__all__ = ["Progress", "register"]

_SCAN_FORMATS = ("text", "json", "sarif")
_FAIL_ON = ("migrate", "review", "never")


class Progress:
    """``scanned N/M files`` on stderr once a scan has taken more than a moment."""

    def __init__(self, *, delay: float = 1.0) -> None:
        import time

        self._clock = time.monotonic
        self._start = self._clock()
        self._delay = delay
        self._tty = sys.stderr.isatty()
        self._next = self._start + delay
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        now = self._clock()
        if now < self._next and done != total:
            return
        if now - self._start < self._delay:
            return
        self._next = now + (0.2 if self._tty else 5.0)
        text = f"scanning: {done}/{total} files"
        if self._tty:
            sys.stderr.write(f"\r{text}" + ("\n" if done == total else ""))
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()
        self._shown = True


def _scan(args: argparse.Namespace) -> int:
    from legacy_mllib_tracking.notebooks import Verdict, parse_target

    if args.format not in _SCAN_FORMATS:
        raise UsageError(f"--format must be one of {', '.join(_SCAN_FORMATS)}, got {args.format!r}")
    if args.fail_on not in _FAIL_ON:
        raise UsageError(f"--fail-on must be one of {', '.join(_FAIL_ON)}, got {args.fail_on!r}")
    target = parse_target(args.target, source="--target")
    check_paths_exist(args.paths, "PATH")
    tally = _scan_output(args, target)
    if tally.summary()["errors"]:
        return 2
    worst = tally.worst
    if args.fail_on == "migrate" and worst is Verdict.MIGRATE:
        return 1
    if args.fail_on == "review" and worst in (Verdict.MIGRATE, Verdict.REVIEW):
        return 1
    return 0


def _scan_output(args: argparse.Namespace, target: Target) -> Tally:
    """Scan and write the report in ``args.format``; return the tally."""
    from legacy_mllib_tracking.notebooks import (
        iter_scan,
        render_sarif,
        scan,
        write_json,
        write_text,
    )

    if args.format == "sarif":  # one document with every result: built whole
        import legacy_mllib_tracking

        report = scan(args.paths, target=target, progress=Progress())
        print(json.dumps(render_sarif(report, version=legacy_mllib_tracking.__version__), indent=2))
        tally = report.tally()
    else:  # text and JSON are written file by file: memory stays flat on large trees
        files = iter_scan(args.paths, target=target, progress=Progress())
        if args.format == "json":
            tally = write_json(target.label, files, sys.stdout)
        else:
            tally = write_text(target.label, files, sys.stdout, verbose=args.verbose)
    return tally


def _migrate(args: argparse.Namespace) -> int:
    from legacy_mllib_tracking.notebooks import MigrationTally, Outcome, iter_migrate, parse_target

    target = parse_target(args.target, source="--target")
    check_paths_exist(args.paths, "PATH")
    tally = MigrationTally(write=args.write)
    done = "changed" if args.write else "would change"
    for file in iter_migrate(
        args.paths, target=target, write=args.write, pip=args.pip, progress=Progress()
    ):
        tally.add(file)
        if file.error is not None:
            print(f"error        {file.error}", file=sys.stderr)
            continue
        sys.stdout.write(file.diff)
        for notebook in file.notebooks:
            if notebook.outcome is not Outcome.OK:
                label = done if notebook.outcome is Outcome.CHANGED else notebook.outcome.value
                print(f"{label:<12} {notebook.location}: {notebook.reason}", file=sys.stderr)
    counts = tally.summary()
    print(
        f"{counts['changed_files']} file(s) {done}; notebooks: {counts['changed']} {done}, "
        f"{counts['manual']} manual, {counts['review']} review, {counts['configured']} "
        f"configured, {counts['ok']} ok; {counts['errors']} error(s); target: {target}",
        file=sys.stderr,
    )
    if counts["changed_files"] and not args.write:
        print("run again with --write to change the files", file=sys.stderr)
    return tally.exit_status


def register(sub: Any) -> None:
    """Add ``scan`` and ``migrate`` to the subcommands ``sub``."""
    scan = sub.add_parser(
        "scan",
        help="find notebooks that relied on the retired MLlib tracker; exit 0 nothing to do, "
        "1 something to migrate (see --fail-on), 2 bad usage or an unreadable file",
    )
    scan.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="notebook files or directories (recursive): Databricks source "
        "exports, .ipynb, .dbc, Databricks HTML exports, plain .py",
    )
    scan.add_argument(
        "--target",
        default=None,
        metavar="RUNTIME",
        help="the runtime the notebooks will run on: any runtime configure() "
        "accepts ('15.4 ML', '13.3.x-scala2.12', 'client.2') or 'oss' "
        "(default: the newest ML runtime)",
    )
    scan.add_argument(
        "--format",
        default="text",
        metavar="FORMAT",
        help="text (default), json (schema 1) or sarif (SARIF 2.1.0)",
    )
    scan.add_argument(
        "--fail-on",
        default="migrate",
        metavar="VERDICT",
        help="exit 1 when a notebook is at least this: migrate (default), review or never",
    )
    scan.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="text: show every finding (documentation and notes too)",
    )
    scan.set_defaults(func=_scan)
    migrate = sub.add_parser(
        "migrate",
        help="add configure(spark) where a notebook needs it: print a unified diff, --write to "
        "change the files; exit 0 nothing left to do, 1 changes pending or a notebook to "
        "migrate by hand, 2 a file that could not be read or written",
    )
    migrate.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="notebook files or directories (recursive), as for scan",
    )
    migrate.add_argument(
        "--target",
        default=None,
        metavar="RUNTIME",
        help="the runtime the notebooks will run on, as for scan (default: the newest ML runtime)",
    )
    migrate.add_argument(
        "--write",
        action="store_true",
        help="change the files (a temp file renamed over each; read-only "
        "files and HTML exports are never written)",
    )
    migrate.add_argument(
        "--pip",
        action="store_true",
        help="also add '%%pip install legacy-mllib-tracking' as the first cell "
        "of each changed notebook",
    )
    migrate.set_defaults(func=_migrate)
