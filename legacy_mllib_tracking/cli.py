"""The command line: ``legacy-mllib-tracking explain | tree | diff | replay | demo | ui | scan |
migrate``.

Also runs as ``python -m legacy_mllib_tracking``.

Bad input exits with status 2 and one line on stderr naming the value and what is accepted; no
error is a traceback. Output into a closed pipe (``tree ID | head -2``) ends quietly (status 141,
as a process killed by SIGPIPE). ``tree``, ``diff`` and ``replay`` only read or complete a
tracking store: they refuse one that does not exist instead of creating it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from legacy_mllib_tracking.errors import LegacyTrackingError
from legacy_mllib_tracking.keys import (
    AVG_PREFIX,
    CONF_AUTOLOG,
    CONF_SPARK_VERSION,
    CONF_TRACK,
    TAG_ESTIMATOR_NAME,
    TAG_LARGER_IS_BETTER,
    TAG_PARENT_RUN_ID,
)

if TYPE_CHECKING:
    from legacy_mllib_tracking.notebooks import Tally, Target

__all__ = ["main", "render_tree"]

_CONF_KEYS = (CONF_TRACK, CONF_AUTOLOG, CONF_SPARK_VERSION)


class _UsageError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (argparse prints the usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


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


def _tolerance(text: str) -> float:
    """``--metric-tolerance``: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < math.inf:  # also False for NaN
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


class _DictConf:
    """A stand-in for ``spark.conf`` holding ``--conf KEY=VALUE`` pairs (no Spark needed)."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = values

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._values.get(key, default)


class _ConfSession:
    def __init__(self, values: dict[str, str]) -> None:
        self.conf = _DictConf(values)


def _parse_conf(pairs: Sequence[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise _UsageError(f"--conf expects KEY=VALUE, got {pair!r}")
        key = key.strip()
        if key not in _CONF_KEYS:
            raise _UsageError(
                f"--conf key {key!r} is not read by the router; accepted keys: "
                + ", ".join(_CONF_KEYS)
            )
        values[key] = value
    return values


def _explain(args: argparse.Namespace) -> int:
    from legacy_mllib_tracking._config import read_inputs
    from legacy_mllib_tracking.routing import decide

    conf = _parse_conf(args.conf)
    if args.runtime is not None:  # named as the user wrote it: --runtime, not the API argument
        from legacy_mllib_tracking.runtime import parse_runtime_version

        parse_runtime_version(args.runtime, source="--runtime")
    inputs = read_inputs(_ConfSession(conf), runtime_version=args.runtime)
    decision = decide(
        inputs.runtime,
        databricks=inputs.databricks,
        ml=inputs.ml,
        track=inputs.track,
        autolog=inputs.autolog,
        runtime_source=inputs.runtime_source,
    )
    warnings_ = [message for _, message in decision.warnings]
    if inputs.unreadable:
        warnings_.insert(0, f"cannot read runtime {inputs.unreadable}; routed like the newest")
    if args.json:
        payload = decision.to_dict()
        payload["warnings"] = warnings_
        print(json.dumps(payload, indent=2, sort_keys=True))
        return 0
    print(f"mode:    {decision.mode.value}")
    where = decision.runtime or ("unknown Databricks" if decision.databricks else "not Databricks")
    print(
        f"runtime: {where}"
        + (f" (from {decision.runtime_source})" if decision.runtime_source else "")
    )
    print(f"ML:      {'unknown (counts as ML)' if decision.ml is None else decision.ml}")
    print(f"flags:   {decision.track}")
    print(f"         {decision.autolog}")
    print(f"reason:  {decision.reason}")
    for message in warnings_:
        print(f"warning: {message}")
    return 0


def _fmt_metric(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isnan(value):
        return "nan"
    return f"{value:.4f}"


def render_tree(layout: Any, *, width: int = 80) -> str:
    """Render a run layout as text: the parent, then one row per child (tuned params, metric).

    Children are sorted by the tuned metric, best first (larger-is-better as the parent's
    ``legacy_mllib_tracking.larger_is_better`` tag says, else as the best-tagged child shows),
    the best child is marked with ``*``, and tuned params are shown in the grid's order. A run
    holding more than one tuning fit shows one group per fit (``fit 2 of 2: ...``), in the order
    the fits started, each with its own best.
    """
    from legacy_mllib_tracking.layout import fits_in_order

    parent = layout.parent
    lines = [
        f"parent run {parent.run_id}  {parent.status}  "
        f"{parent.tags.get(TAG_ESTIMATOR_NAME, '')}".rstrip()[:width]
    ]
    settings = ", ".join(
        f"{k}={parent.params[k]}"
        for k in ("estimator", "evaluator", "metricName", "numFolds", "trainRatio", "seed")
        if k in parent.params
    )
    if settings:
        lines.extend(
            textwrap.wrap(settings, width=width, initial_indent="  ", subsequent_indent="  ")
        )
    fits = fits_in_order(layout.children)
    marked = False
    for number, fit_id in enumerate(fits, start=1):
        children = [c for c in layout.children if c.fit_id == fit_id]
        if len(fits) > 1:
            tuner = _fit_tag(parent, TAG_ESTIMATOR_NAME, fit_id) or "tuning fit"
            heading = f"  fit {number} of {len(fits)}: {tuner}, {len(children)} child runs"
            lines.append((heading + (f", fit id {fit_id[:8]}" if fit_id else ""))[:width])
        group, best = _render_fit(parent, fit_id, children, width)
        lines.extend(group)
        marked = marked or best
    footer = f"  {len(layout.children)} child runs"
    if marked:
        footer += "; * marks the best" + (" of each fit" if len(fits) > 1 else "")
    lines.append(footer)
    return "\n".join(lines)


def _fit_tag(parent: Any, key: str, fit_id: str | None) -> str | None:
    """The parent's tag ``key`` as the fit ``fit_id`` logged it: suffixed ``_<fit_id>`` for a
    repeated fit, bare for the first."""
    value = parent.tags.get(f"{key}_{fit_id}") if fit_id else None
    if value is None:
        value = parent.tags.get(key)
    return None if value is None else str(value)


def _render_fit(
    parent: Any, fit_id: str | None, children: list[Any], width: int
) -> tuple[list[str], bool]:
    """The header and child rows of one fit; and whether a child is marked best."""
    from legacy_mllib_tracking.layout import tuned_param_names

    metric = _metric_key(children)
    best = [c for c in children if c.is_best]
    larger = True
    flagged = _fit_tag(parent, TAG_LARGER_IS_BETTER, fit_id)
    if flagged in ("true", "false"):
        larger = flagged == "true"
    elif best and metric is not None:
        # NaN is left out: min()/max() over a list that starts with NaN return NaN.
        values = [
            value
            for value in (c.metrics.get(metric) for c in children)
            if value is not None and not math.isnan(value)
        ]
        best_value = best[0].metrics.get(metric)
        if values and best_value is not None and best_value == min(values) != max(values):
            larger = False
    if metric is not None:

        def key(child: Any) -> tuple[bool, float]:
            value = child.metrics.get(metric)
            if value is None or math.isnan(value):
                return (True, 0.0)
            return (False, -value if larger else value)

        children = sorted(children, key=key)
    # The grid's order: children hold their tuned names in it (map order, first seen first).
    in_map_order = sorted(children, key=lambda c: (c.map_index is None, c.map_index or 0))
    tuned = list(dict.fromkeys(n for c in in_map_order for n in tuned_param_names(c, children)))
    header = f"  {'':1} {'child':<8} {metric or 'metric':>16}  tuned params"
    lines = [header[:width]]
    for child in children:
        params = ",".join(f"{k}={child.params[k]}" for k in tuned if k in child.params)
        mark = "*" if child.is_best else " "
        value = _fmt_metric(child.metrics.get(metric or ""))
        row = f"  {mark} {child.run_id[:8]:<8} {value:>16}  {params}"
        if len(row) > width:
            row = row[: width - 3] + "..."
        lines.append(row)
    return lines, bool(best)


def _metric_key(children: Sequence[Any]) -> str | None:
    for child in children:
        for key in child.metrics:
            if key.startswith(AVG_PREFIX):
                return str(key)
    for child in children:
        for key in child.metrics:
            if not key.startswith("std_"):
                return str(key)
    return None


def _client(args: argparse.Namespace, *, probe: bool = True) -> Any:
    """Return an ``MlflowClient`` on the store these read-only commands read, refusing a store
    that does not exist (mlflow would create it), a URI mlflow cannot open and, with ``probe``,
    a server that does not answer its ``/health`` within 2 s (mlflow would retry for minutes)."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from legacy_mllib_tracking._safety import redact, store_missing, store_unreachable

    uri = args.tracking_uri or mlflow.get_tracking_uri()
    where = "--tracking-uri" if args.tracking_uri else "MLflow's default tracking URI"
    missing = store_missing(uri)
    if missing is not None:
        raise _UsageError(f"{missing} ({where})")
    try:
        client = MlflowClient(tracking_uri=uri)  # a scheme mlflow cannot open fails here
    except MlflowException as error:
        raise _UsageError(
            f"cannot open tracking store {redact(uri)!r} ({where}): "
            + redact(" ".join(error.message.split()))[:400]
        ) from None
    why = store_unreachable(uri, 2.0) if probe else None
    if why is not None:
        raise _UsageError(f"tracking store {why} ({where})")
    return client


def _child_of(layout: Any) -> str | None:
    """The parent of ``layout``'s run when that run is a child run (has a parent, no children)."""
    parent = layout.parent.tags.get(TAG_PARENT_RUN_ID)
    return None if layout.children or not parent else str(parent)


def _not_a_child(layout: Any, command: str) -> None:
    parent = _child_of(layout)
    if parent is not None:
        index = layout.parent.map_index
        raise _UsageError(
            f"run {layout.parent.run_id} is a child run"
            + (f" (param map {index})" if index is not None else "")
            + f" of parent run {parent}; {command} needs the parent run: "
            + f"legacy-mllib-tracking {command} {parent}"
        )


def _tree(args: argparse.Namespace) -> int:
    from legacy_mllib_tracking.layout import inspect_run_layout

    layout = inspect_run_layout(args.run_id, client=_client(args))
    _not_a_child(layout, "tree")
    if args.json:
        print(json.dumps(layout.to_dict(), indent=2, sort_keys=True, default=str))
    else:
        print(render_tree(layout))
    return 0


def _diff(args: argparse.Namespace) -> int:
    from legacy_mllib_tracking.layout import diff_layouts, inspect_run_layout

    client = _client(args)
    layouts = [inspect_run_layout(run, client=client) for run in (args.run_a, args.run_b)]
    for layout in layouts:
        _not_a_child(layout, "diff")
    differences = diff_layouts(
        layouts[0], layouts[1], scope=args.scope, metric_tolerance=args.metric_tolerance
    )
    if args.json:
        print(
            json.dumps(
                {"equal": not differences, "scope": args.scope, "differences": differences},
                indent=2,
            )
        )
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
    from legacy_mllib_tracking.replay import replay

    if args.tracking_uri:
        # a missing store or a URI mlflow cannot open is a usage error, before any file is read;
        # a server that is down keeps the files (exit 1), as for the URIs the files record
        _client(args, probe=False)
    try:
        results = replay(args.path, tracking_uri=args.tracking_uri)
    except FileNotFoundError as error:
        raise _UsageError(str(error)) from None
    ignored = [r for r in results if r.ignored]
    results = [r for r in results if not r.ignored]
    if ignored and args.path is not None and Path(args.path).is_file():
        # named on its own (not found in a folder): a damaged spool file is no success
        raise _UsageError(f"{args.path!r} was left alone: {ignored[0].ignored}")
    if ignored:
        names = ", ".join(r.path.name for r in ignored[:3]) + (", ..." if len(ignored) > 3 else "")
        print(f"left alone {len(ignored)} file(s) that are not spool files: {names}")
    if not results:
        print("nothing to replay")
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
        print(f"kept     {where}: {reason}")
    return 1 if kept else 0


def _ui(args: argparse.Namespace) -> int:
    from legacy_mllib_tracking import _ui

    uri = args.tracking_uri or f"sqlite:///{Path.cwd() / 'mlflow.db'}"
    problem = _ui.store_problem(uri)
    if problem is not None:
        raise _UsageError(problem)
    if not 1 <= args.port <= 65535:
        raise _UsageError(f"--port must be from 1 to 65535, got {args.port}")
    if _ui.port_in_use(args.port):
        raise _UsageError(
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
        why = store_unreachable(args.tracking_uri, 2.0)
        if why is not None:
            raise _UsageError(
                f"tracking store {why} (--tracking-uri); start it, or leave --tracking-uri out "
                "to use ./mlflow.db"
            )

    return demo.run(runtime=args.runtime, tracking_uri=args.tracking_uri, workdir=Path.cwd())


_SCAN_FORMATS = ("text", "json", "sarif")
_FAIL_ON = ("migrate", "review", "never")


class _Progress:
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
        raise _UsageError(
            f"--format must be one of {', '.join(_SCAN_FORMATS)}, got {args.format!r}"
        )
    if args.fail_on not in _FAIL_ON:
        raise _UsageError(f"--fail-on must be one of {', '.join(_FAIL_ON)}, got {args.fail_on!r}")
    target = parse_target(args.target, source="--target")
    try:
        tally = _scan_output(args, target)
    except BrokenPipeError:
        # `scan ... | head`: the reader left. Point stdout at /dev/null so the final flush is
        # quiet, and exit like a process killed by SIGPIPE.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
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

        report = scan(args.paths, target=target, progress=_Progress())
        print(json.dumps(render_sarif(report, version=legacy_mllib_tracking.__version__), indent=2))
        tally = report.tally()
    else:  # text and JSON are written file by file: memory stays flat on large trees
        files = iter_scan(args.paths, target=target, progress=_Progress())
        if args.format == "json":
            tally = write_json(target.label, files, sys.stdout)
        else:
            tally = write_text(target.label, files, sys.stdout, verbose=args.verbose)
    return tally


def _migrate(args: argparse.Namespace) -> int:
    from legacy_mllib_tracking.notebooks import MigrationTally, Outcome, iter_migrate, parse_target

    target = parse_target(args.target, source="--target")
    tally = MigrationTally(write=args.write)
    done = "changed" if args.write else "would change"
    reader_left = False
    for file in iter_migrate(
        args.paths, target=target, write=args.write, pip=args.pip, progress=_Progress()
    ):
        tally.add(file)
        if file.error is not None:
            print(f"error        {file.error}", file=sys.stderr)
            continue
        try:
            sys.stdout.write(file.diff)
            sys.stdout.flush()
        except BrokenPipeError:
            # `migrate ... | head`: the reader left. Every file is still done (a --write run
            # must not stop half way); the rest of the diff goes to /dev/null.
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            reader_left = True
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
    return 141 if reader_left and not args.write else tally.exit_status


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="legacy-mllib-tracking",
        description="Legacy automated MLflow tracking for MLlib tuning, on any runtime.",
    )
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True)
    explain = sub.add_parser("explain", help="print the routing decision for an input, no Spark")
    explain.add_argument("--runtime", help="a runtime version, e.g. '10.4 LTS ML', '15.4'")
    explain.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Spark conf value the router reads (repeatable): " + ", ".join(_CONF_KEYS),
    )
    explain.add_argument("--json", action="store_true", help="print one JSON object")
    explain.set_defaults(func=_explain)
    tree = sub.add_parser("tree", help="print a tuning run tree: parent and one row per child")
    tree.add_argument("run_id", metavar="RUN_ID", help="the parent run's id")
    tree.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLflow's own)")
    tree.add_argument("--json", action="store_true", help="print the layout as JSON")
    tree.set_defaults(func=_tree)
    diff = sub.add_parser("diff", help="compare two run trees; exit 0 same, 1 different")
    diff.add_argument("run_a", metavar="RUN_A")
    diff.add_argument("run_b", metavar="RUN_B")
    diff.add_argument(
        "--scope",
        choices=("contract", "full"),
        default="contract",
        help="contract: what SPEC 5 guarantees (default); full: everything",
    )
    diff.add_argument(
        "--metric-tolerance",
        type=_tolerance,
        default=None,
        help="also compare metric values within this absolute tolerance (a finite number >= 0)",
    )
    diff.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLflow's own)")
    diff.add_argument("--json", action="store_true", help="print one JSON object")
    diff.set_defaults(func=_diff)
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
        help="MLflow tracking URI (default: the one each spool file records, the store its fit "
        "was meant for)",
    )
    replay.set_defaults(func=_replay)
    demo = sub.add_parser("demo", help="fit a CrossValidator on local Spark and show its runs")
    demo.add_argument("--runtime", help="simulate a runtime version, e.g. '9.1' (legacy)")
    demo.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: sqlite:///mlflow.db in the working directory)",
    )
    demo.set_defaults(func=_demo)
    ui = sub.add_parser(
        "ui", help="open the MLflow UI on a local store (the demo's) on 127.0.0.1; Ctrl-C stops it"
    )
    ui.add_argument(
        "--tracking-uri",
        help="the store to show (default: sqlite:///mlflow.db in the working directory)",
    )
    ui.add_argument("--port", type=int, default=5000, help="port on 127.0.0.1 (default: 5000)")
    ui.set_defaults(func=_ui)
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    prefix = f"legacy-mllib-tracking {args.command}: error:"
    try:
        status = int(args.func(args))
        sys.stdout.flush()
        return status
    except (_UsageError, LegacyTrackingError) as error:
        print(f"{prefix} {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`tree ID | head -2`): stop quietly, and point stdout at devnull
        # so that the interpreter's last flush at exit does not complain (Python docs, SIGPIPE).
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # never a traceback: one line naming what failed
        from legacy_mllib_tracking._safety import redact

        text = redact(" ".join(str(error).split()))[:400]
        print(f"{prefix} {type(error).__name__}: {text}", file=sys.stderr)
        return 2
