"""``legacy-mllib-tracking demo | ui``: a CrossValidator fit on local Spark, and the MLflow UI
over the store it wrote."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from legacy_mllib_tracking._cli_base import (
    ACCEPTED_STORES,
    UsageError,
    tracking_uri,
    unknown_scheme,
)

__all__ = ["register"]


def _ui(args: argparse.Namespace) -> int:
    from legacy_mllib_tracking import _ui

    uri = args.tracking_uri or f"sqlite:///{Path.cwd() / 'mlflow.db'}"
    problem = _ui.store_problem(uri)
    if problem is not None:
        raise UsageError(problem)
    if _ui.port_in_use(args.port):
        raise UsageError(
            f"port {args.port} on 127.0.0.1 is in use (another MLflow UI?); pass --port N"
        )
    return _ui.serve(uri, args.port)


def _demo(args: argparse.Namespace) -> int:
    from legacy_mllib_tracking import demo
    from legacy_mllib_tracking._safety import store_unreachable
    from legacy_mllib_tracking.runtime import parse_runtime_version

    # Both checked before Spark starts: a bad runtime, or a server that is down (mlflow would
    # wait out its retries, ~100 s, before the first line of output).
    if args.runtime is not None:
        parse_runtime_version(args.runtime, source="--runtime")
    if args.tracking_uri:
        problem = _demo_store_problem(args.tracking_uri)
        if problem is not None:
            raise UsageError(f"{problem} (--tracking-uri)")
        why = store_unreachable(args.tracking_uri, 2.0)
        if why is not None:
            raise UsageError(
                f"tracking store {why} (--tracking-uri); start it, or leave --tracking-uri out "
                "to use ./mlflow.db"
            )

    return demo.run(runtime=args.runtime, tracking_uri=args.tracking_uri, workdir=Path.cwd())


def _demo_store_problem(uri: str) -> str | None:
    """Why the demo must not write to ``uri``, found before Spark starts: a scheme mlflow has no
    tracking store for, a sqlite URI without a file (an in-memory store: the runs would be gone
    when the demo ends) or in a folder that does not exist (mlflow would create the folders of a
    mistyped path), or a file that is not a SQLite database or belongs to another application."""
    from legacy_mllib_tracking import _ui
    from legacy_mllib_tracking._safety import local_store_path, redact

    scheme = unknown_scheme(uri)
    if scheme is not None:
        return (
            f"mlflow has no tracking store for {scheme}:// in {redact(uri)!r}; accepted: "
            f"{ACCEPTED_STORES}"
        )
    if not uri.lower().startswith("sqlite"):
        return None
    path = local_store_path(uri)
    if path is None:
        return (
            f"tracking URI {uri!r} names no sqlite file (an empty store in memory, gone when the "
            "demo ends); accepted: sqlite:///PATH/TO/mlflow.db"
        )
    if not path.parent.is_dir():
        return f"the folder of {uri!r} does not exist ({path.parent}); create it or fix the path"
    if path.is_dir():
        return f"tracking URI {uri!r} names a folder, not a sqlite file"
    if path.is_file() and path.stat().st_size:
        what = _ui._sqlite_content(path) or _refuses_writes(path)
        if what is not None:
            return f"{uri!r} is not an MLflow store the demo can write to: {what}"
    return None


def _refuses_writes(path: Path) -> str | None:
    """Why SQLite will not write to the database ``path`` (read-only), else ``None``; a write
    transaction is begun and rolled back, nothing is written."""
    import sqlite3

    try:
        connection = sqlite3.connect(path, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("CREATE TABLE legacy_mllib_tracking_probe (x)")
            connection.execute("ROLLBACK")
        finally:
            connection.close()
    except sqlite3.Error as error:
        return f"SQLite refuses to write to it ({error})"
    return None


def _port(text: str) -> int:
    """``--port``: a whole number from 1 to 65535, checked before anything else."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535, got {text!r}")
    return port


def register(sub: Any) -> None:
    """Add ``demo`` and ``ui`` to the subcommands ``sub``."""
    demo = sub.add_parser("demo", help="fit a CrossValidator on local Spark and show its runs")
    demo.add_argument("--runtime", help="simulate a runtime version, e.g. '9.1' (legacy)")
    demo.add_argument(
        "--tracking-uri",
        type=tracking_uri,
        help="MLflow tracking URI (default: sqlite:///mlflow.db in the working directory)",
    )
    demo.set_defaults(func=_demo)
    ui = sub.add_parser(
        "ui", help="open the MLflow UI on a local store (the demo's) on 127.0.0.1; Ctrl-C stops it"
    )
    ui.add_argument(
        "--tracking-uri",
        type=tracking_uri,
        help="the store to show (default: sqlite:///mlflow.db in the working directory)",
    )
    ui.add_argument("--port", type=_port, default=5000, help="port on 127.0.0.1 (default: 5000)")
    ui.set_defaults(func=_ui)
