"""Soak (ISSUE 13): tuning fits under random faults lose nothing and log nothing twice.

    python benchmarks/soak.py                # the target: 200 fits (about 15 to 30 min, 2 cores)
    python benchmarks/soak.py --quick        # 6 fits, a few minutes: CI's short version
    python benchmarks/soak.py --fits 40 --seed 3 --rate 0.05

Runs N tuning fits (CrossValidator and TrainValidationSplit over a 2x2 grid, small data), LEGACY
and AUTOLOG mode in turn, against a real ``mlflow server`` on 127.0.0.1 behind a loopback proxy
(``tests/integration/servers.py``: ``FaultProxy``) that injects faults into a seeded share of the
requests: connection refused, 503 before the write, 503 after the write, slow answers, a connection
dropped halfway through the answer; and every ``--restart-every`` fits the server is killed
(SIGKILL) mid-fit and started again. Then faults stop, ``replay`` logs the spool, and every fit's
tree is checked on the server: every fit has its tree, every child exactly once (FINISHED, with
its metric), the parent has the run-layout contract's params, tag and best metric and is FINISHED,
and no run sits outside a tree (an empty parent whose create's answer was lost).

Prints a summary (fits, faults injected by kind, trees complete, duplicates, fit-time overhead
against untracked fits measured in the same run) and exits 1 when a target is missed: a fit that
raised, a tree missing or incomplete, a duplicate child, a run outside any tree, a spool file
replay kept, or the time limit reached. Bounded: ``--fits``, and ``--time-limit`` seconds of wall
clock for the fits, after which no new fit starts; a watchdog ends the process (and the server)
when the whole run, set-up included, overstays that limit by 10 minutes. Loopback only.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's package and its test helpers
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

from tests.integration.builders import tuner  # noqa: E402
from tests.integration.servers import FaultProxy, MlflowServer  # noqa: E402

LEAN = {"log_models": False, "log_datasets": False}
MAPS = 4  # the 2x2 grid of builders.tuner


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/soak.py",
        description="Tuning fits against a real mlflow server behind a fault-injecting proxy; "
        "checks that replay completes every tree, every child once (ISSUE 13).",
    )
    parser.add_argument("--fits", type=int, default=200, help="tuning fits to run (default 200)")
    parser.add_argument("--seed", type=int, default=13, help="seed of the fault draws")
    parser.add_argument(
        "--rate", type=float, default=0.03, help="share of requests that get a fault (0.03)"
    )
    parser.add_argument(
        "--restart-every",
        type=int,
        default=25,
        help="kill and restart the server during every N-th fit (default 25; 0: never)",
    )
    parser.add_argument(
        "--tracking-timeout",
        type=float,
        default=10.0,
        help="configure(tracking_timeout=...) for every fit (default 10 s)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=3600.0,
        help="seconds of fits after which no new fit starts (default 3600); the run then fails",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="CI's short run: 6 fits, rate 0.1, one restart, time limit 300 s",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.fits, args.rate, args.restart_every, args.time_limit = 6, 0.1, 4, 300.0
    if args.fits < 1 or not 0 <= args.rate < 1 or args.time_limit <= 0:
        parser.error("--fits must be >= 1, --rate in [0, 1), --time-limit > 0")
    return args


@dataclass
class Fit:
    """One soak fit as it ran."""

    number: int
    mode: str
    kind: str
    seconds: float
    error: str | None = None
    warnings: int = 0
    restart: bool = False


@dataclass
class Check:
    """What the server holds after replay."""

    trees: int = 0
    complete: int = 0
    duplicates: int = 0
    problems: list[str] = field(default_factory=list)
    orphans: int = 0


def _say(text: str) -> None:
    print(f"soak: {text}", file=sys.stderr, flush=True)


def _watchdog(seconds: float, server: MlflowServer) -> threading.Timer:
    """End the process (and the server) if the run overstays its time limit by ``seconds``."""

    def expire() -> None:
        _say(f"watchdog: still running {seconds:.0f} s after the time limit; stopping")
        with contextlib.suppress(Exception):
            server.kill()
        os._exit(3)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer


def _session() -> Any:
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .appName("legacy-mllib-tracking-soak")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )


def _untracked_seconds(spark: Any, data: Any, reps: int) -> float:
    """Median wall time of the soak's fit with tracking off (after one warm-up fit)."""
    from legacy_mllib_tracking import configure

    configure(spark, mode="off")
    times = []
    for rep in range(reps + 1):
        started = time.perf_counter()
        tuner("cv" if rep % 2 else "tvs").fit(data)
        if rep:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def _restart_later(server: MlflowServer, delay: float) -> threading.Thread:
    def restart() -> None:
        time.sleep(delay)
        server.kill()
        server.start(timeout=120)

    thread = threading.Thread(target=restart, name="soak-restart", daemon=True)
    thread.start()
    return thread


def _settle(seconds: float) -> None:
    """Wait for the library's background calls (a run's end left in flight) to finish."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(t.name.startswith("legacy-mllib-tracking") for t in threading.enumerate()):
            return
        time.sleep(1)


def run_fits(
    args: argparse.Namespace,
    spark: Any,
    data: Any,
    server: MlflowServer,
    proxy: FaultProxy,
    started: float,
) -> tuple[list[Fit], bool]:
    """Run the fits; return them and whether the time limit stopped the run early."""
    from legacy_mllib_tracking import TrackingWarning, configure

    rng = random.Random(args.seed + 1)
    fits: list[Fit] = []
    restart: threading.Thread | None = None
    for number in range(args.fits):
        if time.monotonic() - started > args.time_limit:
            return fits, True
        mode = "legacy" if number % 2 == 0 else "autolog"
        kind = "cv" if number % 4 < 2 else "tvs"
        configure(
            spark,
            mode=mode,
            autolog_options=LEAN if mode == "autolog" else None,
            tracking_timeout=args.tracking_timeout,
        )
        restarts = (
            args.restart_every > 0
            and number % args.restart_every == args.restart_every // 2
            and (restart is None or not restart.is_alive())
        )
        if restarts:
            restart = _restart_later(server, rng.uniform(0.2, 2.0))
        fit = Fit(number, mode, kind, 0.0, restart=restarts)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            begun = time.perf_counter()
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # mlflow's "View run" lines
                    tuner(kind).fit(data)
            except Exception as error:
                fit.error = f"{type(error).__name__}: {error}"[:300]
            fit.seconds = time.perf_counter() - begun
        fit.warnings = sum(issubclass(w.category, TrackingWarning) for w in caught)
        fits.append(fit)
        _say(
            f"fit {number + 1}/{args.fits} {mode:7} {kind:3} {fit.seconds:6.1f} s"
            + (" (server restarted)" if restarts else "")
            + (f" warning x{fit.warnings}" if fit.warnings else "")
            + (f" FAILED {fit.error}" if fit.error else "")
        )
    if restart is not None:
        restart.join(180)
    return fits, False


def check_trees(uri: str, experiment_id: str, expected_fits: int) -> Check:
    """Check every fit's tree in ``experiment_id`` (active runs only: deleted copies are gone)."""
    from mlflow.tracking import MlflowClient

    from legacy_mllib_tracking.keys import (
        BEST_PREFIX,
        TAG_CHILD_KEY,
        TAG_MODE,
        TAG_PARENT_RUN_ID,
    )
    from legacy_mllib_tracking.layout import search_all_runs, split_child_key

    client = MlflowClient(uri)
    runs = {r.info.run_id: r for r in search_all_runs(client, experiment_id, "")}
    by_fit: dict[str, list[Any]] = {}
    index_of: dict[str, str | None] = {}  # child run id -> its map index (from its child key)
    for run in runs.values():
        fit_id, index = split_child_key(run.data.tags.get(TAG_CHILD_KEY, ""))
        if fit_id is not None and TAG_PARENT_RUN_ID in run.data.tags:
            by_fit.setdefault(fit_id, []).append(run)
            index_of[run.info.run_id] = index
    check = Check(trees=len(by_fit))
    parents = {c.data.tags[TAG_PARENT_RUN_ID] for kids in by_fit.values() for c in kids}
    children = {c.info.run_id for kids in by_fit.values() for c in kids}
    check.orphans = len(set(runs) - parents - children)
    if len(by_fit) != expected_fits:
        check.problems.append(f"{expected_fits} fits, but {len(by_fit)} trees on the server")
    for fit_id, kids in sorted(by_fit.items()):
        problems = []
        indexes = Counter(index_of[c.info.run_id] for c in kids)
        extra = len(kids) - len(indexes)
        check.duplicates += extra
        if extra:
            problems.append(f"{extra} duplicate children")
        if sorted(indexes) != [str(i) for i in range(MAPS)]:
            problems.append(f"map indexes {sorted(map(str, indexes))}")
        for child in kids:
            if child.info.status != "FINISHED":
                problems.append(f"child {child.info.run_id} is {child.info.status}")
            if not any(k.startswith("avg_") or k == "areaUnderROC" for k in child.data.metrics):
                problems.append(f"child {child.info.run_id} has no metric")
        parent_ids = {c.data.tags[TAG_PARENT_RUN_ID] for c in kids}
        parent = runs.get(next(iter(parent_ids))) if len(parent_ids) == 1 else None
        if parent is None:
            problems.append(f"parents {sorted(parent_ids)} (expected one, in the experiment)")
        else:
            if parent.info.status != "FINISHED":
                problems.append(f"parent {parent.info.run_id} is {parent.info.status}")
            if TAG_MODE not in parent.data.tags or "metricName" not in parent.data.params:
                problems.append(f"parent {parent.info.run_id} lacks the contract's params/tag")
            if not any(k.startswith(BEST_PREFIX) for k in parent.data.metrics):
                problems.append(f"parent {parent.info.run_id} has no best_ metric")
        if problems:
            check.problems.append(f"fit {fit_id}: " + "; ".join(problems))
        else:
            check.complete += 1
    return check


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.monotonic()
    logging.getLogger("mlflow").setLevel(logging.ERROR)  # autolog's own retry warnings
    logging.getLogger("py4j").setLevel(logging.ERROR)
    root = Path(tempfile.mkdtemp(prefix="lmt-soak-"))
    os.environ["LEGACY_MLLIB_TRACKING_SPOOL_DIR"] = str(root / "spool")
    server = MlflowServer(root / "server").start(timeout=120)
    watchdog = _watchdog(args.time_limit + 600, server)
    _say(f"mlflow server up at {server.uri} after {time.monotonic() - started:.0f} s")
    try:
        import mlflow

        from legacy_mllib_tracking import configure
        from legacy_mllib_tracking.demo import make_data
        from legacy_mllib_tracking.replay import replay

        spark = _session()
        data = make_data(spark, rows=120, seed=3).cache()
        data.count()
        untracked = _untracked_seconds(spark, data, reps=2 if args.quick else 4)
        _say(
            f"untracked fit: median {untracked:.1f} s; set-up took "
            f"{time.monotonic() - started:.0f} s"
        )
        mlflow.set_tracking_uri(server.uri)
        experiment_id = mlflow.create_experiment(f"soak-{args.seed}-{int(time.time())}")
        with FaultProxy(server.uri, args.rate, args.seed) as proxy:
            mlflow.set_tracking_uri(proxy.uri)
            mlflow.set_experiment(experiment_id=experiment_id)
            fits, out_of_time = run_fits(args, spark, data, server, proxy, time.monotonic())
            proxy.enabled = False
            _settle(120)
        configure(spark, mode="off")
        mlflow.set_tracking_uri(server.uri)
        spooled = sorted((root / "spool").glob("*.json"))
        with contextlib.redirect_stdout(io.StringIO()):
            results = replay(root / "spool", tracking_uri=server.uri) if spooled else []
        kept = [r for r in results if r.error is not None]
        check = check_trees(server.uri, experiment_id, len(fits))
    finally:
        watchdog.cancel()
        server.stop()

    if not fits:
        print("MISSED: no fit ran within the time limit")
        return 1
    failed = [f for f in fits if f.error]
    overheads = [f.seconds - untracked for f in fits]
    worst = max(range(len(fits)), key=lambda i: overheads[i])
    restarts = sum(f.restart for f in fits)
    faults = dict(proxy.injected, **({"server restart": restarts} if restarts else {}))
    lines = [
        f"fits: {len(fits)} ({sum(f.mode == 'legacy' for f in fits)} LEGACY, "
        f"{sum(f.mode == 'autolog' for f in fits)} AUTOLOG), seed {args.seed}, "
        f"fault rate {args.rate:g} per request, tracking_timeout {args.tracking_timeout:g} s",
        "faults injected: "
        + (", ".join(f"{k} {v}" for k, v in sorted(faults.items())) or "none")
        + f" ({sum(faults.values())} in all)",
        f"fits failed: {len(failed)}; fits with a TrackingWarning: "
        f"{sum(bool(f.warnings) for f in fits)}",
        f"spool files: {len(spooled)}, replayed {len(results) - len(kept)}, kept {len(kept)}; "
        f"parent params replay had to suffix (a value differing from the logged one): "
        f"{sum(len(r.params_suffixed) for r in results)}",
        f"trees complete: {check.complete}/{len(fits)}; duplicate children: {check.duplicates}; "
        f"runs outside any tree: {check.orphans}",
        f"fit time: untracked median {untracked:.1f} s; tracked median "
        f"{statistics.median(f.seconds for f in fits):.1f} s; worst overhead "
        f"{overheads[worst]:+.1f} s (fit {worst + 1}, {fits[worst].mode})",
        f"wall clock: {time.monotonic() - started:.0f} s; server and spool under {root}",
    ]
    for line in lines:
        print(line)
    missed = []
    if failed:
        missed.append(f"{len(failed)} fits raised: {failed[0].error}")
    if check.duplicates or check.complete != len(fits) or check.problems:
        missed.extend(check.problems[:10])
    if check.orphans:
        missed.append(f"{check.orphans} runs outside any tree (an empty parent left behind?)")
    if kept:
        missed.append(f"replay kept {len(kept)} spool files: {kept[0].error}")
    if out_of_time:
        missed.append(f"time limit {args.time_limit:g} s reached after {len(fits)} fits")
    for reason in missed:
        print(f"MISSED: {reason}")
    print("soak: " + ("targets missed" if missed else "all targets met"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
