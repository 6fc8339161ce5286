"""The Spark session the integration tests run on, chosen by env ``LMT_SPARK_MODE``.

- ``local`` (default): a classic ``local[2]`` SparkSession in this process.
- ``connect``: a Spark Connect server started from pyspark's own distribution
  (``bin/spark-submit``, its own JVM, ``local[2]``, 127.0.0.1 and a free port); this process is a
  Connect client with no JVM at all, like a Databricks shared cluster or serverless notebook.
- ``cluster``: a standalone master and worker started from pyspark's distribution
  (``bin/spark-class``, 127.0.0.1, free ports), two executors in JVMs of their own; this process
  is the driver.

One mode per pytest process: a classic and a Connect session do not mix in one process (one
SparkContext per process, and ``SPARK_CONNECT_MODE_ENABLED`` switches all of pyspark.ml to
Connect), so ``.ci/run`` runs the contract tests once per mode. Servers and the cluster are
started and stopped here (also when a test fails); their logs go to the session's tmp dir.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .servers import free_port, stop_process_group

ENV_MODE = "LMT_SPARK_MODE"
MODES = ("local", "connect", "cluster")
LOOPBACK = "127.0.0.1"
#: Seconds a JVM may take to come up on a loaded 2-core CI machine.
START_TIMEOUT = 240.0

#: What every mode's session gets: small, quiet, no UI.
SESSION_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
}
#: Keep the driver's RPC and block manager on loopback.
DRIVER_LOOPBACK_CONF = {"spark.driver.host": LOOPBACK, "spark.driver.bindAddress": LOOPBACK}
CONNECT_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
#: Executors of the standalone cluster: two of one core each, so two executor JVMs.
CLUSTER_EXECUTORS = 2


def spark_mode() -> str:
    """Return the mode named by ``LMT_SPARK_MODE`` (default ``local``).

    Raises:
        pytest.UsageError: the variable names no mode.
    """
    mode = os.environ.get(ENV_MODE, "").strip().lower() or "local"
    if mode not in MODES:
        raise pytest.UsageError(
            f"env {ENV_MODE}={os.environ[ENV_MODE]!r} names no Spark mode; accepted: "
            + ", ".join(MODES)
        )
    return mode


def spark_home() -> Path:
    """Return the Spark distribution pyspark runs from (pip's pyspark ships ``bin/`` and jars)."""
    from pyspark.find_spark_home import _find_spark_home

    return Path(_find_spark_home())


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((LOOPBACK, port)) == 0


def _daemon_env(home: Path) -> dict[str, str]:
    """The environment of a JVM started from ``bin/``: loopback only, this venv's Python."""
    env = dict(os.environ)
    for name in (
        "SPARK_REMOTE",
        "SPARK_LOCAL_REMOTE",
        "SPARK_CONNECT_MODE_ENABLED",
        "PYSPARK_GATEWAY_PORT",
        "PYSPARK_GATEWAY_SECRET",
        "MASTER",
    ):
        env.pop(name, None)
    env.update(
        SPARK_HOME=str(home),
        SPARK_LOCAL_IP=LOOPBACK,
        PYSPARK_PYTHON=sys.executable,
        SPARK_DAEMON_MEMORY="512m",
    )
    return env


class Daemon:
    """A JVM started from the pyspark distribution's ``bin/``, in its own process group."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str]) -> None:
        self.name = name
        self.argv = argv
        self.log = log
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,  # its own group: stop() also ends its executors
            )
        return self

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_until(self, ready: Any, what: str, timeout: float = START_TIMEOUT) -> None:
        """Poll ``ready()`` until true; fail with the log's tail when the JVM exits or times out."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with status {self.process.returncode} before {what}; "
                    f"log {self.log}:\n{self.tail()}"
                )
            with contextlib.suppress(Exception):
                if ready():
                    return
            time.sleep(0.5)
        raise RuntimeError(
            f"{self.name} did not reach {what} within {timeout:.0f} s; log {self.log}:\n"
            + self.tail()
        )

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL after 30 s; a second call is a no-op."""
        process, self.process = self.process, None
        if process is not None:
            stop_process_group(process, grace=30)


@contextlib.contextmanager
def local_session() -> Iterator[Any]:
    """A classic ``local[2]`` SparkSession in this process, its driver on 127.0.0.1."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[2]").appName("legacy-mllib-tracking-tests")
    for key, value in {**SESSION_CONF, **DRIVER_LOOPBACK_CONF}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


def _connect_prerequisites() -> None:
    """Skip when Spark Connect cannot exist here; fail when it only needs installing."""
    import pyspark
    from packaging.version import Version

    if Version(pyspark.__version__).major < 4:
        pytest.skip(
            f"pyspark {pyspark.__version__}: classic pyspark.ml estimators run over Spark Connect "
            "from pyspark 4.0, and pip's pyspark 3.x ships no Connect server jar"
        )
    modules = {
        "grpc": "grpcio",
        "grpc_status": "grpcio-status",
        "google.rpc": "googleapis-common-protos",
        "pyarrow": "pyarrow",
        "pandas": "pandas",
        "zstandard": "zstandard",
    }
    missing = []
    for module, package in modules.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # a missing parent package (google)
            found = False
        if not found:
            missing.append(package)
    if missing:
        pytest.fail(
            f"{ENV_MODE}=connect needs pyspark's connect extra; missing {', '.join(missing)}: "
            f"pip install 'pyspark[connect]=={pyspark.__version__}'",
            pytrace=False,
        )


def _no_classic_session(mode: str) -> None:
    from pyspark import SparkContext

    if SparkContext._active_spark_context is not None:
        pytest.fail(
            f"{ENV_MODE}={mode} needs a pytest process without a classic SparkSession, but one "
            "is running; run this mode in a pytest process of its own",
            pytrace=False,
        )


@contextlib.contextmanager
def connect_session(workdir: Path) -> Iterator[Any]:
    """A Spark Connect client session on a server started from ``bin/spark-submit``."""
    _connect_prerequisites()
    _no_classic_session("connect")
    from pyspark.sql import SparkSession

    home = spark_home()
    port = free_port()
    conf = {
        **SESSION_CONF,
        **DRIVER_LOOPBACK_CONF,
        "spark.connect.grpc.binding.address": LOOPBACK,
        "spark.connect.grpc.binding.port": str(port),
    }
    argv = [
        str(home / "bin" / "spark-submit"),
        "--class",
        CONNECT_SERVER_CLASS,
        "--name",
        "legacy-mllib-tracking-tests-connect-server",
        "--master",
        "local[2]",
        "--driver-memory",
        "1g",
    ]
    for key, value in conf.items():
        argv += ["--conf", f"{key}={value}"]
    server = Daemon("Spark Connect server", argv, workdir / "connect-server.log", _daemon_env(home))
    session = None
    try:
        server.start().wait_until(lambda: _listening(port), f"listening on {LOOPBACK}:{port}")
        session = SparkSession.builder.remote(f"sc://{LOOPBACK}:{port}").getOrCreate()
        yield session
    finally:
        if session is not None:
            with contextlib.suppress(Exception):
                session.stop()
        server.stop()


def _master_json(ui_port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{LOOPBACK}:{ui_port}/json/", timeout=2) as response:
        return dict(json.load(response))


def executor_ids(session: Any) -> list[str]:
    """Return the ids of the executors registered with ``session``'s driver (not the driver)."""
    ids = session.sparkContext._jsc.sc().getExecutorIds()
    return [str(ids.apply(i)) for i in range(ids.size())]


@contextlib.contextmanager
def cluster_session(workdir: Path) -> Iterator[Any]:
    """A classic SparkSession driving a standalone master and worker from ``bin/spark-class``."""
    _no_classic_session("cluster")
    from pyspark.sql import SparkSession

    home = spark_home()
    spark_class = home / "bin" / "spark-class"
    if not spark_class.is_file():
        pytest.skip(f"this pyspark has no {spark_class} to start a standalone cluster with")
    env = _daemon_env(home)
    env["SPARK_LOCAL_DIRS"] = str(workdir / "local")
    env["SPARK_MASTER_OPTS"] = "-Dspark.master.rest.enabled=false"  # no fixed port 6066
    master_port, master_ui, worker_port, worker_ui = (free_port() for _ in range(4))
    master_url = f"spark://{LOOPBACK}:{master_port}"
    master = Daemon(
        "standalone master",
        [
            str(spark_class),
            "org.apache.spark.deploy.master.Master",
            "--host",
            LOOPBACK,
            "--port",
            str(master_port),
            "--webui-port",
            str(master_ui),
        ],
        workdir / "master.log",
        env,
    )
    worker = Daemon(
        "standalone worker",
        [
            str(spark_class),
            "org.apache.spark.deploy.worker.Worker",
            "--host",
            LOOPBACK,
            "--port",
            str(worker_port),
            "--webui-port",
            str(worker_ui),
            "--cores",
            str(CLUSTER_EXECUTORS),
            "--memory",
            "2g",
            "--work-dir",
            str(workdir / "work"),
            master_url,
        ],
        workdir / "worker.log",
        env,
    )
    session = None
    try:
        master.start().wait_until(lambda: _listening(master_port), f"listening on {master_url}")
        worker.start().wait_until(
            lambda: _master_json(master_ui).get("aliveworkers", 0) >= 1,
            "registered with the master",
        )
        builder = SparkSession.builder.master(master_url)
        for key, value in {**SESSION_CONF, **DRIVER_LOOPBACK_CONF}.items():
            builder = builder.config(key, value)
        session = (
            builder.appName("legacy-mllib-tracking-tests-cluster")
            .config("spark.executor.cores", "1")
            .config("spark.cores.max", str(CLUSTER_EXECUTORS))
            .config("spark.executor.memory", "512m")
            .config("spark.pyspark.python", sys.executable)
            # Schedule nothing before both executors are up.
            .config("spark.scheduler.minRegisteredResourcesRatio", "1.0")
            .config("spark.scheduler.maxRegisteredResourcesWaitingTime", f"{START_TIMEOUT:.0f}s")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        worker.wait_until(
            lambda: len(executor_ids(session)) >= CLUSTER_EXECUTORS,
            f"running {CLUSTER_EXECUTORS} executors",
        )
        yield session
    finally:
        if session is not None:
            with contextlib.suppress(Exception):
                session.stop()
        worker.stop()
        master.stop()


def session_for(mode: str, workdir: Path) -> contextlib.AbstractContextManager[Any]:
    """Return the context manager that starts (and stops) the session of ``mode``."""
    if mode == "connect":
        return connect_session(workdir)
    if mode == "cluster":
        return cluster_session(workdir)
    return local_session()
