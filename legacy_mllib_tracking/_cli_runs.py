"""``legacy-mllib-tracking tree | diff | replay``: the commands that read a tracking store's run
trees or complete them from the spool.

They refuse a store that does not exist instead of creating it (mlflow would), and a store that
cannot be read is one line on stderr, never mlflow's log lines or a misleading "run not found".
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from legacy_mllib_tracking._cli_base import (
    ACCEPTED_STORES,
    UsageError,
    check_paths_exist,
    command,
    tracking_uri,
    unknown_scheme,
)
from legacy_mllib_tracking.keys import TAG_PARENT_RUN_ID

__all__ = ["register"]


def _tolerance(text: str) -> float:
    """``--metric-tolerance``: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < math.inf:  # also False for NaN
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def _where(args: argparse.Namespace) -> str:
    if args.tracking_uri:
        return "--tracking-uri"
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return "env MLFLOW_TRACKING_URI"
    return "MLflow's default tracking URI"


def _client(args: argparse.Namespace, *, probe: bool = True) -> Any:
    """Return an ``MlflowClient`` on the store these commands read, refusing a store that does
    not exist (mlflow would create it), a sqlite URI without a file, a URI mlflow cannot open
    and, with ``probe``, a server that does not answer its ``/health`` within 2 s (mlflow would
    retry for minutes)."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from legacy_mllib_tracking._safety import redact, store_missing, store_unreachable

    uri = args.tracking_uri or mlflow.get_tracking_uri()
    where = _where(args)
    if uri.lower().rstrip("/") in ("sqlite:", "sqlite:/", "sqlite://"):
        raise UsageError(
            f"tracking URI {uri!r} ({where}) names no sqlite file (mlflow would open an empty "
            "store in memory); accepted: sqlite:///PATH/TO/mlflow.db"
        )
    missing = store_missing(uri)
    if missing is not None:
        hint = "check the path" if args.tracking_uri else "pass the store's URI with --tracking-uri"
        raise UsageError(f"{where}: {missing}; {hint}")
    try:
        client = MlflowClient(tracking_uri=uri)  # a scheme mlflow cannot open fails here
    except MlflowException as error:
        scheme = unknown_scheme(uri)
        if scheme is not None:
            raise UsageError(
                f"cannot open tracking store {redact(uri)!r} ({where}): mlflow has no tracking "
                f"store for {scheme}://; accepted: {ACCEPTED_STORES}"
            ) from None
        raise UsageError(
            f"cannot open tracking store {redact(uri)!r} ({where}): "
            + redact(" ".join(error.message.split()))[:400]
        ) from None
    why = store_unreachable(uri, 2.0) if probe else None
    if why is not None:
        raise UsageError(f"{where}: tracking store {why}")
    return client


def _first_sentence(text: str) -> str:
    """The first sentence of an mlflow message (some run to a dozen sentences of advice)."""
    flat = " ".join(text.split())
    head, dot, _ = flat.partition(". ")
    return (head + ("." if dot else ""))[:400]


def _layout(args: argparse.Namespace, client: Any, run_id: str, name: str) -> Any:
    """Read the run tree of ``run_id`` for ``name`` (tree, diff); a store that will not answer
    (missing credentials, a refusal) is a usage error naming the store, not "run not found";
    a child run is one naming its parent and the command to run instead."""
    from mlflow.exceptions import MlflowException

    from legacy_mllib_tracking._safety import error_text, redact
    from legacy_mllib_tracking.layout import inspect_run_layout

    try:
        layout = inspect_run_layout(run_id, client=client)
    except MlflowException as error:
        raise UsageError(
            f"cannot read run {run_id!r} from tracking store {redact(client.tracking_uri)!r} "
            f"({_where(args)}): {_first_sentence(error_text(error, limit=2000, typed=False))}"
        ) from None
    parent = layout.parent.tags.get(TAG_PARENT_RUN_ID)
    if parent and not layout.children:
        index = layout.parent.map_index
        child = f"run {run_id} is a child run" + (
            f" (param map {index})" if index is not None else ""
        )
        if name == "diff" and parent in (args.run_a, args.run_b):
            # its own parent is the other run: the hint would compare a tree with itself
            raise UsageError(
                f"{child} of parent run {parent}, the other run given: diff compares the trees "
                "of two fits; give the parent runs of both (tree PARENT lists its children)"
            )
        again = [str(parent) if word == run_id else word for word in args.argv]
        raise UsageError(
            f"{child} of parent run {parent}; {name} needs the parent run: {command(*again)}"
        )
    return layout


def _tree(args: argparse.Namespace) -> int:
    from legacy_mllib_tracking.layout import render_tree

    layout = _layout(args, _client(args), args.run_id, "tree")
    if args.json:
        print(json.dumps(layout.to_dict(), indent=2, sort_keys=True, default=str))
    else:
        print(render_tree(layout))
    return 0


def _diff(args: argparse.Namespace) -> int:
    from legacy_mllib_tracking.layout import diff_layouts

    client = _client(args)
    a, b = (_layout(args, client, run, "diff") for run in (args.run_a, args.run_b))
    differences = diff_layouts(a, b, scope=args.scope, metric_tolerance=args.metric_tolerance)
    if args.json:
        payload = {"equal": not differences, "scope": args.scope, "differences": differences}
        print(json.dumps(payload, indent=2))
    elif differences:
        print(
            f"{len(differences)} difference(s) ({args.scope} scope), A={args.run_a} B={args.run_b}:"
        )
        for line in differences:
            print(f"  {line}")
    else:
        print(f"same layout ({args.scope} scope)")
    return 1 if differences else 0


def _replay(args: argparse.Namespace) -> int:
    """Results (``replayed ...``, ``nothing to replay``) on stdout; files kept or left alone on
    stderr."""
    from legacy_mllib_tracking.replay import replay

    if args.path is not None:
        check_paths_exist([args.path], "PATH")
    if args.tracking_uri:
        # a missing store or a URI mlflow cannot open is a usage error, before any file is read;
        # a server that is down keeps the files (exit 1), as for the URIs the files record
        _client(args, probe=False)
    try:
        results = replay(args.path, tracking_uri=args.tracking_uri)
    except FileNotFoundError as error:  # the default spool folder
        raise UsageError(str(error)) from None
    ignored = [r for r in results if r.ignored]
    results = [r for r in results if not r.ignored]
    if ignored and args.path is not None and Path(args.path).is_file():
        # named on its own (not found in a folder): a damaged spool file is no success
        raise UsageError(f"{args.path!r} was left alone: {ignored[0].ignored}")
    if ignored:
        names = ", ".join(r.path.name for r in ignored[:3]) + (", ..." if len(ignored) > 3 else "")
        print(
            f"left alone {len(ignored)} file(s) that are not spool files: {names}",
            file=sys.stderr,
        )
    if not results:
        where = args.path
        if where is None:
            from legacy_mllib_tracking._spool import default_spool_dir

            where = str(default_spool_dir())
        print(f"nothing to replay in {where}")
        return 0
    kept: dict[str, list[Any]] = {}
    for result in results:
        if result.error:
            kept.setdefault(result.error, []).append(result)
        else:
            print(
                f"replayed {result.path.name} into run {result.parent_run_id} at "
                f"{result.tracking_uri} ({result.uri_source}): "
                f"{result.created_children} child runs created, "
                f"{result.skipped_children} already there"
                + (f" ({result.note})" if result.note else "")
            )
    for reason, files in kept.items():
        where = str(files[0].path) if len(files) == 1 else f"{len(files)} spool files"
        print(f"kept     {where}: {reason}", file=sys.stderr)
    return 1 if kept else 0


def _quiet_mlflow(command: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """Run ``command`` with mlflow's own INFO and WARNING lines off stderr (a store created in
    memory, a Databricks SDK that found no credentials): the one line about it is ours. The
    level is restored afterwards, for callers of :func:`~legacy_mllib_tracking.cli.main` in a
    process of their own."""

    @functools.wraps(command)
    def quiet(args: argparse.Namespace) -> int:
        import mlflow  # noqa: F401  # first: importing mlflow sets its loggers' levels

        loggers = {
            logging.getLogger("mlflow"): logging.ERROR,
            # logs each database error it then raises, with the SQL and its parameters: the
            # command reports the error itself, in one line without them
            logging.getLogger("mlflow.store.db.utils"): logging.CRITICAL,
        }
        levels = {logger: logger.level for logger in loggers}
        for logger, level in loggers.items():
            logger.setLevel(level)
        try:
            return command(args)
        finally:
            for logger, level in levels.items():
                logger.setLevel(level)

    return quiet


_URI_HELP = "MLflow tracking URI (default: MLflow's own, e.g. $MLFLOW_TRACKING_URI)"


def register(sub: Any) -> None:
    """Add ``tree``, ``diff`` and ``replay`` to the subcommands ``sub``."""
    tree = sub.add_parser("tree", help="print a tuning run tree: parent and one row per child")
    tree.add_argument("run_id", metavar="RUN_ID", help="the parent run's id")
    tree.add_argument("--tracking-uri", type=tracking_uri, help=_URI_HELP)
    tree.add_argument("--json", action="store_true", help="print the layout as JSON")
    tree.set_defaults(func=_quiet_mlflow(_tree))
    diff = sub.add_parser("diff", help="compare two run trees; exit 0 same, 1 different")
    diff.add_argument("run_a", metavar="RUN_A")
    diff.add_argument("run_b", metavar="RUN_B")
    diff.add_argument(
        "--scope",
        choices=("contract", "full"),
        default="contract",
        help=(
            "contract (default): what the run layout guarantees (README, 'The run layout'): "
            "tuner settings, children's params and metrics, names; full: every param, metric "
            "and tag"
        ),
    )
    diff.add_argument(
        "--metric-tolerance",
        type=_tolerance,
        default=None,
        help="also compare metric values within this absolute tolerance (a finite number >= 0)",
    )
    diff.add_argument("--tracking-uri", type=tracking_uri, help=_URI_HELP)
    diff.add_argument("--json", action="store_true", help="print one JSON object")
    diff.set_defaults(func=_quiet_mlflow(_diff))
    replay = sub.add_parser(
        "replay", help="log spooled layouts (what failed to log) into their parent runs"
    )
    replay.add_argument(
        "path",
        nargs="?",
        default=None,
        metavar="PATH",
        help="a spool file or folder (default: $LEGACY_MLLIB_TRACKING_SPOOL_DIR or "
        "~/.cache/legacy-mllib-tracking/spool)",
    )
    replay.add_argument(
        "--tracking-uri",
        type=tracking_uri,
        help="MLflow tracking URI (default: the one each spool file records, the store its fit "
        "was meant for)",
    )
    replay.set_defaults(func=_quiet_mlflow(_replay))
