"""Benchmarks of legacy-mllib-tracking (ISSUE 5): what tracking costs, measured side by side.

    python benchmarks/run.py            # the full run (about 40 minutes on 2 idle cores)
    python benchmarks/run.py --quick    # a smoke run (a few minutes): tiny workload, 1 rep
    python benchmarks/run.py --only fits --models   # logging models: first and repeated fits

Three parts, each in this one process with repetitions interleaved (A B C D A B C D ...) and the
warm-up excluded:

1. ``fits``: a CrossValidator / TrainValidationSplit fit untracked, in LEGACY mode, in AUTOLOG mode
   and under plain ``mlflow.pyspark.ml.autolog()`` (``fits.py``);
2. ``children``: logging N child runs (N = 10, 100, 1,000) by the library and by the raw
   ``MlflowClient`` floor, on sqlite and on a local ``mlflow server`` (``children.py``);
3. ``startup``: ``import legacy_mllib_tracking`` and ``configure()`` in fresh processes
   (``startup.py``).

Prints the tables (Markdown) on stdout, progress on stderr, and writes ``results.json``,
``results.md`` and ``children.png`` to ``--out`` (default ``benchmarks/results``; a new temporary
directory with ``--quick``). Exits 1 when a tracked fit or a child logging did not log what it
should (the numbers would be meaningless), 0 otherwise, also when a speed target is missed: CI runs
``--quick`` to prove the script works, not to judge speed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # measure this checkout's package
# Nothing leaves the machine: mlflow 3's usage telemetry is off here and in the server subprocess.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

import _common  # noqa: E402
import report  # noqa: E402

PARTS = ("startup", "fits", "children")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="Measure what legacy-mllib-tracking costs (ISSUE 5). See BENCHMARKS.md.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: tiny workload, grids 10 and 100, 1 repetition",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where results.json, results.md and children.png go "
        "(default: benchmarks/results; --quick: a new temporary directory)",
    )
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help=f"comma-separated parts to run, of {', '.join(PARTS)}",
    )
    parser.add_argument(
        "--reps",
        type=int,
        default=None,
        help="measured repetitions per case (default 3; --quick 1)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="discarded warm-up rounds of the fits part (default 1; --quick 0)",
    )
    parser.add_argument(
        "--models",
        action="store_true",
        help="fits part: only untracked, plain autolog and AUTOLOG with models logged, first and "
        "repeated fits (ISSUE 12)",
    )
    parser.add_argument(
        "--no-server",
        action="store_true",
        help="skip the mlflow server half of the child-logging part",
    )
    parser.add_argument(
        "--merge",
        type=Path,
        default=None,
        help="take the parts this run does not measure from an earlier results.json",
    )
    parser.add_argument(
        "--keep-workdir",
        action="store_true",
        help="keep the temporary stores, artifacts and server log",
    )
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(PARTS)
    if unknown:
        parser.error(f"--only names unknown parts {sorted(unknown)}; choose from {PARTS}")
    if args.reps is not None and args.reps < 1:
        parser.error(f"--reps must be at least 1, got {args.reps}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    parts = [p for p in PARTS if p in args.only.split(",")]
    reps = args.reps or (1 if args.quick else 3)
    out = args.out or (
        Path(tempfile.mkdtemp(prefix="lmt-bench-out-")) if args.quick else HERE / "results"
    )
    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="lmt-bench-"))
    started = time.perf_counter()
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "machine": _common.machine(),
        "command": " ".join(["python benchmarks/run.py", *(argv or sys.argv[1:])]),
    }
    if args.merge is not None:
        earlier = json.loads(args.merge.read_text())
        for part in PARTS:
            if part not in parts and part in earlier:
                results[part] = report.part_from_json(earlier[part])
                results[part]["merged_from"] = str(args.merge)
    errors: list[str] = []
    _common.log(f"benchmarks: {results['mode']} run, parts {parts}, {reps} reps, work in {workdir}")
    try:
        for part in parts:
            try:
                results[part] = run_part(part, args, reps, workdir)
            except Exception:
                errors.append(f"{part}: {traceback.format_exc()}")
                _common.log(f"benchmarks: part {part} failed:\n{traceback.format_exc()}")
            if part != parts[-1]:  # what is measured so far survives an interrupted run
                write(results, errors, started, out, final=False)
    finally:
        if args.keep_workdir:
            _common.log(f"benchmarks: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    write(results, errors, started, out, final=True)
    problems = list(results.get("fits", {}).get("problems", []))
    for backend, failures in results.get("children", {}).get("failures", {}).items():
        problems += [f"children/{backend}: {f}" for f in failures]
    for line in errors + problems:
        _common.log(f"benchmarks: ERROR {line}")
    return 1 if errors or problems else 0


def write(
    results: dict[str, Any], errors: list[str], started: float, out: Path, *, final: bool
) -> None:
    """Write results.json, results.md and children.png; print the table when ``final``."""
    results["seconds"] = time.perf_counter() - started
    results["loadavg_end"] = _common.loadavg()
    results["finished"] = time.strftime("%Y-%m-%d %H:%M %Z") + ("" if final else " (partial)")
    results["targets"] = report.targets(results)
    results["errors"] = errors
    table = report.markdown(results)
    if final:
        print(table)
    (out / "results.md").write_text(table + "\n")
    report.write_json(results, out / "results.json")
    why_not = report.plot(results, out / "children.png")
    if final and why_not:
        _common.log(f"benchmarks: no plot: {why_not}")
    _common.log(
        f"benchmarks: wrote {out}/results.json, results.md" + ("" if why_not else ", children.png")
    )


def run_part(part: str, args: argparse.Namespace, reps: int, workdir: Path) -> dict[str, Any]:
    started = time.perf_counter()
    load = _common.loadavg()
    result: dict[str, Any]
    if part == "startup":
        import startup

        result = startup.measure(quick=args.quick, workdir=workdir)
    elif part == "children":
        import children

        result = children.measure(
            quick=args.quick, workdir=workdir, reps=reps, with_server=not args.no_server
        )
        result["reps"] = reps
    else:
        import fits

        warmup = args.warmup if args.warmup is not None else (0 if args.quick else 1)
        result = fits.measure(
            quick=args.quick,
            workdir=workdir,
            reps=reps,
            warmup=warmup,
            variants=fits.MODEL_VARIANTS if args.models else None,
        )
        result.update(reps=reps, warmup=warmup)
    result["seconds"] = time.perf_counter() - started
    result["loadavg"] = [load, _common.loadavg()]
    _common.log(f"benchmarks: part {part} took {result['seconds']:.0f} s")
    return result


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds the finally blocks: the server and Spark are stopped


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
