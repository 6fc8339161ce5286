"""The command line: ``legacy-mllib-tracking explain | tree | diff | replay | demo | scan |
migrate``.

Also runs as ``python -m legacy_mllib_tracking``.

Bad input exits with status 2 and one line on stderr naming the value and what is accepted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from legacy_mllib_tracking.errors import LegacyTrackingError
from legacy_mllib_tracking.keys import (
    AVG_PREFIX,
    CONF_AUTOLOG,
    CONF_SPARK_VERSION,
    CONF_TRACK,
    TAG_ESTIMATOR_NAME,
    TAG_LARGER_IS_BETTER,
    TAG_TUNED_PARAMS,
)

if TYPE_CHECKING:
    from legacy_mllib_tracking.notebooks import Tally, Target

__all__ = ["main", "render_tree"]

_CONF_KEYS = (CONF_TRACK, CONF_AUTOLOG, CONF_SPARK_VERSION)


class _UsageError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


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
    where = decision.runtime or (
        "unknown Databricks" if decision.databricks else "not Databricks"
    )
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
    and the best child is marked with ``*``.
    """
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
        lines.extend(textwrap.wrap(settings, width=width, initial_indent="  ",
                                   subsequent_indent="  "))
    metric = _metric_key(layout)
    children = list(layout.children)
    best = [c for c in children if c.is_best]
    larger = True
    flagged = parent.tags.get(TAG_LARGER_IS_BETTER)
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

        children.sort(key=key)
    tuned = _tuned_names(children)
    for child in children:
        raw = child.tags.get(TAG_TUNED_PARAMS)
        if raw:
            with contextlib.suppress(ValueError):
                tuned = list(dict.fromkeys([*json.loads(raw), *tuned]))
            break
    header = f"  {'':1} {'child':<8} {metric or 'metric':>16}  tuned params"
    lines.append(header[:width])
    for child in children:
        params = ",".join(f"{k}={child.params[k]}" for k in tuned if k in child.params)
        mark = "*" if child.is_best else " "
        value = _fmt_metric(child.metrics.get(metric or ""))
        row = f"  {mark} {child.run_id[:8]:<8} {value:>16}  {params}"
        if len(row) > width:
            row = row[: width - 3] + "..."
        lines.append(row)
    lines.append(f"  {len(children)} child runs" + ("; * marks the best" if best else ""))
    return "\n".join(lines)


def _metric_key(layout: Any) -> str | None:
    for child in layout.children:
        for key in child.metrics:
            if key.startswith(AVG_PREFIX):
                return str(key)
    for child in layout.children:
        for key in child.metrics:
            if not key.startswith("std_"):
                return str(key)
    return None


def _tuned_names(children: Sequence[Any]) -> list[str]:
    """Params whose values differ across children (the tuned ones), bare names first.

    A qualified ``Stage.name`` is shown only when no bare ``name`` is (autolog logs both).
    """
    if not children:
        return []
    keys: dict[str, None] = {}
    for child in children:
        for key in child.params:
            keys.setdefault(key, None)
    varying = [k for k in keys if len({c.params.get(k) for c in children}) > 1]
    bare = [k for k in varying if "." not in k]
    qualified = [k for k in varying if "." in k and k.rsplit(".", 1)[1] not in bare]
    return bare + qualified


def _tracking(args: argparse.Namespace) -> None:
    if args.tracking_uri:
        import mlflow

        mlflow.set_tracking_uri(args.tracking_uri)


def _tree(args: argparse.Namespace) -> int:
    from legacy_mllib_tracking.layout import inspect_run_layout

    _tracking(args)
    layout = inspect_run_layout(args.run_id)
    if args.json:
        print(json.dumps(layout.to_dict(), indent=2, sort_keys=True, default=str))
    else:
        print(render_tree(layout))
    return 0


def _diff(args: argparse.Namespace) -> int:
    from legacy_mllib_tracking.layout import diff_layouts

    _tracking(args)
    differences = diff_layouts(
        args.run_a, args.run_b, scope=args.scope, metric_tolerance=args.metric_tolerance
    )
    if args.json:
        print(json.dumps({"equal": not differences, "scope": args.scope,
                          "differences": differences}, indent=2))
    elif differences:
        print(f"{len(differences)} difference(s) ({args.scope} scope), A={args.run_a} "
              f"B={args.run_b}:")
        for line in differences:
            print(f"  {line}")
    else:
        print(f"same layout ({args.scope} scope)")
    return 1 if differences else 0


def _replay(args: argparse.Namespace) -> int:
    from legacy_mllib_tracking.replay import replay

    _tracking(args)
    try:
        results = replay(args.path)
    except FileNotFoundError as error:
        raise _UsageError(str(error)) from None
    if not results:
        print("nothing to replay")
        return 0
    kept = 0
    for result in results:
        if result.error:
            kept += 1
            print(f"kept     {result.path}: {result.error}")
        else:
            print(
                f"replayed {result.path.name} into run {result.parent_run_id}: "
                f"{result.created_children} child runs created, "
                f"{result.skipped_children} already there"
                + (f" ({result.note})" if result.note else "")
            )
    return 1 if kept else 0


def _demo(args: argparse.Namespace) -> int:
    from legacy_mllib_tracking import demo

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
        print(json.dumps(render_sarif(report, version=legacy_mllib_tracking.__version__),
                         indent=2))
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
    for file in iter_migrate(args.paths, target=target, write=args.write, pip=args.pip,
                             progress=_Progress()):
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
    parser = argparse.ArgumentParser(
        prog="legacy-mllib-tracking",
        description="Legacy automated MLflow tracking for MLlib tuning, on any runtime.",
    )
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
    diff.add_argument("--scope", choices=("contract", "full"), default="contract",
                      help="contract: what SPEC 5 guarantees (default); full: everything")
    diff.add_argument("--metric-tolerance", type=float, default=None,
                      help="also compare metric values within this absolute tolerance")
    diff.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLflow's own)")
    diff.add_argument("--json", action="store_true", help="print one JSON object")
    diff.set_defaults(func=_diff)
    replay = sub.add_parser(
        "replay", help="log spooled layouts (what failed to log) into their parent runs"
    )
    replay.add_argument(
        "path", nargs="?", default=None, metavar="PATH",
        help="a spool file or folder (default: $LEGACY_MLLIB_TRACKING_SPOOL_DIR or "
        "~/.cache/legacy-mllib-tracking/spool)",
    )
    replay.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLflow's own)")
    replay.set_defaults(func=_replay)
    demo = sub.add_parser("demo", help="fit a CrossValidator on local Spark and show its runs")
    demo.add_argument("--runtime", help="simulate a runtime version, e.g. '9.1' (legacy)")
    demo.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: sqlite:///mlflow.db in the working directory)",
    )
    demo.set_defaults(func=_demo)
    scan = sub.add_parser(
        "scan",
        help="find notebooks that relied on the retired MLlib tracker; exit 0 nothing to do, "
        "1 something to migrate (see --fail-on), 2 bad usage or an unreadable file",
    )
    scan.add_argument("paths", nargs="+", metavar="PATH",
                      help="notebook files or directories (recursive): Databricks source "
                      "exports, .ipynb, .dbc, Databricks HTML exports, plain .py")
    scan.add_argument("--target", default=None, metavar="RUNTIME",
                      help="the runtime the notebooks will run on: any runtime configure() "
                      "accepts ('15.4 ML', '13.3.x-scala2.12', 'client.2') or 'oss' "
                      "(default: the newest ML runtime)")
    scan.add_argument("--format", default="text", metavar="FORMAT",
                      help="text (default), json (schema 1) or sarif (SARIF 2.1.0)")
    scan.add_argument("--fail-on", default="migrate", metavar="VERDICT",
                      help="exit 1 when a notebook is at least this: migrate (default), "
                      "review or never")
    scan.add_argument("-v", "--verbose", action="store_true",
                      help="text: show every finding (documentation and notes too)")
    scan.set_defaults(func=_scan)
    migrate = sub.add_parser(
        "migrate",
        help="add configure(spark) where a notebook needs it: print a unified diff, --write to "
        "change the files; exit 0 nothing left to do, 1 changes pending or a notebook to "
        "migrate by hand, 2 a file that could not be read or written",
    )
    migrate.add_argument("paths", nargs="+", metavar="PATH",
                         help="notebook files or directories (recursive), as for scan")
    migrate.add_argument("--target", default=None, metavar="RUNTIME",
                         help="the runtime the notebooks will run on, as for scan "
                         "(default: the newest ML runtime)")
    migrate.add_argument("--write", action="store_true",
                         help="change the files (a temp file renamed over each; read-only "
                         "files and HTML exports are never written)")
    migrate.add_argument("--pip", action="store_true",
                         help="also add '%%pip install legacy-mllib-tracking' as the first cell "
                         "of each changed notebook")
    migrate.set_defaults(func=_migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (_UsageError, LegacyTrackingError) as error:
        print(f"legacy-mllib-tracking {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        sys.stdout.flush()

