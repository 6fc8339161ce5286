"""Part 2: the cost of logging child runs, Spark out of the measurement.

A synthetic :class:`TuningFit` with N param maps (two tuned params, ``avg_``/``std_`` metrics, as a
CrossValidator over LogisticRegression would give) is logged into a fresh parent run by

- ``library``: ``_writer.log_children(ctx, fit)``, what LEGACY mode runs after a fit: one child
  after the other on sqlite, from up to ``_limits.MAX_CHILD_THREADS`` threads against the server
  (``_limits.child_threads``), each child ended with one store call (``_compat.finish_run``);
- ``floor``: the raw minimum, ``MlflowClient.create_run`` + ``log_batch`` + ``set_terminated`` per
  child, sequential, with the same tags, params and metrics prepared beforehand;
- ``floor-concurrent`` (server only): the same calls from :data:`DEFAULT_WORKERS` threads.

(The prototypes ``library-concurrent`` and ``library-proposed`` of earlier runs, BENCHMARKS.md,
are what ``library`` now is against a server.) The full run also sweeps the library's thread
count at 100 maps on the server (env ``LEGACY_MLLIB_TRACKING_CHILD_THREADS`` = 1, 2, 4, 8).

Against a sqlite store and against a real ``mlflow server`` on 127.0.0.1 started by
:func:`server`. The parent run, ``open_fit`` and the payload are prepared outside the timing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _common import Case, Series, child_env, interleave, log, quiet_stdout

from legacy_mllib_tracking import _compat, _limits, _writer
from legacy_mllib_tracking._tuning import MapInfo, TuningFit
from legacy_mllib_tracking.keys import ENV_CHILD_THREADS

METRIC = "areaUnderROC"

#: Threads of ``floor-concurrent``: as many as the library uses against a server at most.
DEFAULT_WORKERS = _limits.MAX_CHILD_THREADS


def synthetic_fit(maps: int) -> TuningFit:
    """A CrossValidator-shaped fit over ``maps`` param maps (regParam x elasticNetParam)."""
    infos = []
    for index in range(maps):
        params = {
            "regParam": f"{10 ** (-4 + 4 * (index // 11) / max(1, maps // 11)):.6g}",
            "elasticNetParam": f"{(index % 11) / 10:g}",
        }
        metrics = {
            f"avg_{METRIC}": 0.75 + 0.2 * ((index * 7919) % maps) / maps,
            f"std_{METRIC}": 0.01 + 0.001 * (index % 5),
        }
        name = ",".join(f"{k}={v}" for k, v in params.items())
        infos.append(MapInfo(index, params, metrics, name))
    best = max(infos, key=lambda i: i.metrics[f"avg_{METRIC}"]).index
    return TuningFit(
        tuner_name="CrossValidator",
        tuner_class="pyspark.ml.tuning.CrossValidator",
        settings={
            "numFolds": "3",
            "seed": "42",
            "parallelism": "1",
            "collectSubModels": "False",
            "estimator": "LogisticRegression",
            "evaluator": "BinaryClassificationEvaluator",
            "metricName": METRIC,
        },
        metric_key=f"avg_{METRIC}",
        larger_is_better=True,
        maps=tuple(infos),
        best_index=best,
    )


# --- what is measured -------------------------------------------------------------------------


def library(ctx: _writer.FitContext, fit: TuningFit) -> None:
    """The library: ``log_children``, with the thread count it chooses for the store."""
    _writer.log_children(ctx, fit)


@contextlib.contextmanager
def child_threads(count: int | None) -> Iterator[None]:
    """Set env ``LEGACY_MLLIB_TRACKING_CHILD_THREADS`` to ``count`` (``None``: unset) meanwhile."""
    saved = os.environ.pop(ENV_CHILD_THREADS, None)
    if count is not None:
        os.environ[ENV_CHILD_THREADS] = str(count)
    try:
        yield
    finally:
        os.environ.pop(ENV_CHILD_THREADS, None)
        if saved is not None:
            os.environ[ENV_CHILD_THREADS] = saved


def floor_payload(ctx: _writer.FitContext, fit: TuningFit) -> list[tuple[Any, ...]]:
    """The floor's calls, prepared: (tags, run name, params, metrics) per child."""
    from mlflow.entities import Metric, Param

    stamp = int(time.time() * 1000)
    estimator_name = fit.settings.get("estimator", "")
    return [
        (
            _writer.child_tags(ctx, fit, info, estimator_name),
            info.run_name,
            [Param(k, v) for k, v in info.params.items()],
            [Metric(k, v, stamp, 0) for k, v in info.metrics.items()],
        )
        for info in fit.maps
    ]


def _floor_one(client: Any, experiment_id: str, start_ms: int, item: tuple[Any, ...]) -> None:
    tags, name, params, metrics = item
    run = client.create_run(experiment_id, start_time=start_ms, tags=tags, run_name=name)
    client.log_batch(run.info.run_id, metrics=metrics, params=params)
    client.set_terminated(run.info.run_id, "FINISHED", end_time=int(time.time() * 1000))


def floor(client: Any, experiment_id: str, payload: Sequence[tuple[Any, ...]]) -> None:
    """The raw floor: three MlflowClient calls per child, one child after the other."""
    start_ms = int(time.time() * 1000)
    for item in payload:
        _floor_one(client, experiment_id, start_ms, item)


def floor_concurrent(
    client: Any, experiment_id: str, payload: Sequence[tuple[Any, ...]], *, workers: int
) -> None:
    """The raw floor's calls from ``workers`` threads."""
    start_ms = int(time.time() * 1000)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bench-floor") as pool:
        list(pool.map(lambda item: _floor_one(client, experiment_id, start_ms, item), payload))


# --- cases --------------------------------------------------------------------------------------


class Backend:
    """One tracking store (sqlite file or server URL) with an experiment for the children."""

    def __init__(self, name: str, uri: str, artifacts: Path) -> None:
        from mlflow.tracking import MlflowClient

        self.name = name
        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        self.experiment_id = self.client.create_experiment(
            f"bench-children-{os.getpid()}-{time.time_ns()}",
            artifact_location=artifacts.resolve().as_uri(),
        )
        self.failures: list[str] = []

    def parent(self) -> Any:
        return self.client.create_run(self.experiment_id, run_name="bench-parent")

    def done(self, run: Any) -> None:
        with quiet_stdout():
            self.client.set_terminated(run.info.run_id, "FINISHED")

    def finished_children(self, run: Any) -> int:
        from legacy_mllib_tracking import inspect_run_layout

        children = inspect_run_layout(run.info.run_id, client=self.client).children
        return sum(c.status == "FINISHED" and c.end_time is not None for c in children)


def _library_case(
    backend: Backend,
    fit: TuningFit,
    write: Callable[[_writer.FitContext, TuningFit], None],
    threads: int | None = None,
) -> Callable[[], Mapping[str, float]]:
    def run() -> Mapping[str, float]:
        parent = backend.parent()
        ctx = _writer.open_fit(backend.client, parent, "legacy")
        with quiet_stdout(), child_threads(threads):
            cpu, started = time.process_time(), time.perf_counter()
            write(ctx, fit)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        backend.failures.extend(ctx.failures)
        backend.done(parent)
        return {"wall": seconds, "cpu": cpu}

    return run


def _floor_case(
    backend: Backend, fit: TuningFit, call: Callable[[Any, str, Sequence[Any]], None]
) -> Callable[[], Mapping[str, float]]:
    def run() -> Mapping[str, float]:
        parent = backend.parent()
        ctx = _writer.open_fit(backend.client, parent, "legacy")
        payload = floor_payload(ctx, fit)
        with quiet_stdout():
            cpu, started = time.process_time(), time.perf_counter()
            call(backend.client, backend.experiment_id, payload)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        backend.done(parent)
        return {"wall": seconds, "cpu": cpu}

    return run


VARIANTS = ("library", "floor", "floor-concurrent")


def _measured(
    backend: Backend, fit: TuningFit, variant: str, workers: int
) -> Callable[[], Mapping[str, float]]:
    if variant == "library":
        return _library_case(backend, fit, library)
    if variant == "floor":
        return _floor_case(backend, fit, floor)
    if variant == "floor-concurrent":

        def pooled(client: Any, experiment_id: str, payload: Sequence[Any]) -> None:
            floor_concurrent(client, experiment_id, payload, workers=workers)

        return _floor_case(backend, fit, pooled)
    raise ValueError(f"unknown variant {variant!r}")


def cases(
    backend: Backend, sizes: Sequence[int], variants: Sequence[str], workers: int
) -> list[Case]:
    """One case per (grid size, variant), named ``<backend>/<variant>/<size>``."""
    out = []
    for size in sizes:
        fit = synthetic_fit(size)
        for variant in variants:
            run = _measured(backend, fit, variant, workers)
            out.append(Case(f"{backend.name}/{variant}/{size}", run, backend.name))
    return out


def check_layout(backend: Backend, size: int) -> None:
    """Fail loudly when the library does not log ``size`` finished children (checked once)."""
    fit = synthetic_fit(size)
    parent = backend.parent()
    ctx = _writer.open_fit(backend.client, parent, "legacy")
    with quiet_stdout():
        library(ctx, fit)
    backend.done(parent)
    finished = backend.finished_children(parent)
    if ctx.failures or finished != size:
        raise RuntimeError(
            f"{backend.name}/library: logged {finished} of {size} children FINISHED with an end "
            f"time; failures: {ctx.failures[:3]}"
        )


def measure_backend(
    backend: Backend,
    *,
    sizes: Sequence[int],
    variants: Sequence[str],
    reps: int,
    workers: int,
) -> dict[str, Series]:
    """Warm up on the smallest grid, then interleave every (size, variant) case ``reps`` times."""
    check_layout(backend, min(sizes))
    interleave(cases(backend, [min(sizes)], variants, workers), reps=0, warmup=1, label="children")
    return interleave(
        cases(backend, sizes, variants, workers), reps=reps, warmup=0, label="children"
    )


def sweep_threads(
    backend: Backend, *, size: int, counts: Sequence[int], reps: int
) -> dict[str, Series]:
    """``library`` at one grid size with each thread count of ``counts``, interleaved."""
    fit = synthetic_fit(size)
    sweep = [
        Case(
            f"{backend.name}/library/{size}/threads={n}",
            _library_case(backend, fit, library, threads=n),
            backend.name,
        )
        for n in counts
    ]
    return interleave(sweep, reps=reps, warmup=0, label="threads")


# --- the server ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(workdir: Path, *, timeout: float, workers: int = 4) -> Iterator[str]:
    """Run ``mlflow server`` (sqlite backend) on 127.0.0.1; yield its URL; stop it on exit.

    Raises:
        RuntimeError: it did not answer ``/health`` within ``timeout`` seconds (it is stopped).
    """
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    logfile = workdir / "server.log"
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{workdir / 'server.db'}",
        "--default-artifact-root", (workdir / "server-artifacts").resolve().as_uri(),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", str(workers),
    ]  # fmt: skip
    # mlflow 3's job runner starts ~8 huey consumer processes that tracking does not use; on a
    # 2-core machine they would compete with the client and server being measured.
    env = child_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    started = time.perf_counter()
    with open(logfile, "wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"mlflow server exited with {process.returncode}: "
                    f"{logfile.read_text(errors='replace')[-1500:]}"
                )
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"mlflow server did not answer {url}/health in {timeout:g} s")
            time.sleep(0.25)
        log(f"children: mlflow server up at {url} in {time.perf_counter() - started:.1f} s")
        yield url
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server's process group (the server and its uvicorn workers), and only that."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    else:  # the leader is gone; its workers may not be
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


# --- the part ----------------------------------------------------------------------------------


def _threads_used(backend: Backend, sizes: Sequence[int]) -> dict[str, int]:
    """The library's thread count per grid size on ``backend`` (the env as it is now)."""
    uri = _compat.tracking_uri_of(backend.client)
    return {str(size): _limits.child_threads(uri, size) for size in sizes}


def measure(*, quick: bool, workdir: Path, reps: int, with_server: bool) -> dict[str, Any]:
    """Measure child logging on sqlite and (``with_server``) on a local mlflow server."""
    sizes = [10, 100] if quick else [10, 100, 1000]
    workers = DEFAULT_WORKERS
    result: dict[str, Any] = {
        "sizes": sizes, "workers": workers, "library_threads": {}, "series": {}, "sweep": {},
    }  # fmt: skip

    sqlite = Backend("sqlite", f"sqlite:///{workdir / 'children.db'}", workdir / "artifacts")
    result["library_threads"]["sqlite"] = _threads_used(sqlite, sizes)
    log(f"children: sqlite, grids {sizes}, {reps} interleaved reps")
    series = measure_backend(
        sqlite, sizes=sizes, variants=("library", "floor"), reps=reps, workers=workers
    )
    result["series"].update(series)
    result["failures"] = {"sqlite": sqlite.failures[:5]}

    if not with_server:
        result["server"] = {"skipped": "--no-server"}
        return result
    try:
        with server(workdir, timeout=60 if quick else 180) as url:
            remote = Backend("server", url, workdir / "artifacts")
            result["library_threads"]["server"] = _threads_used(remote, sizes)
            log(
                f"children: server, grids {sizes}, {reps} interleaved reps, library threads "
                f"{result['library_threads']['server']}, floor-concurrent {workers} threads"
            )
            series = measure_backend(
                remote, sizes=sizes, variants=VARIANTS, reps=reps, workers=workers
            )
            result["series"].update(series)
            if not quick:
                result["sweep"] = sweep_threads(remote, size=100, counts=(1, 2, 4, 8), reps=reps)
            result["failures"]["server"] = remote.failures[:5]
            result["server"] = {"url": url, "server_workers": 4}
    except RuntimeError as error:  # the table says the server part was not measured, and why
        log(f"children: server part skipped: {error}")
        result["server"] = {"skipped": str(error)}
    return result
