"""The MLflow UI over a local store: ``mlflow server`` on 127.0.0.1, stopped whole on Ctrl-C.

``legacy-mllib-tracking ui`` (and ``./dev ui``) runs it over the demo's ``mlflow.db``. The server
runs in a session of its own, so a Ctrl-C in the terminal reaches this process only, which then
stops the server's whole process group (SIGTERM, SIGKILL after a grace period): no worker is
left behind. mlflow 3's server also starts job-runner processes that tracking never uses; they
are turned off (``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``, ignored by older mlflow).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["port_in_use", "serve", "server_command", "store_problem"]

HOST = "127.0.0.1"
#: Seconds the server gets to stop after SIGTERM before it is killed.
GRACE = 10.0


def store_problem(tracking_uri: str) -> str | None:
    """Return why ``tracking_uri`` cannot be served by the UI, or ``None`` when it can.

    A tracking server (``http(s)://``, ``databricks``) has a UI of its own; a sqlite file must
    exist (``mlflow server`` would create an empty store silently).
    """
    parsed = urllib.parse.urlparse(tracking_uri)
    if parsed.scheme in ("http", "https") or tracking_uri.startswith("databricks"):
        return (
            f"tracking URI {tracking_uri!r} is a tracking server, which serves its own UI; "
            "accepted: a local store such as sqlite:///mlflow.db"
        )
    if parsed.scheme != "sqlite":  # mlflow 3 refuses file stores; other schemes are no store
        return (
            f"tracking URI {tracking_uri!r} is not a sqlite store; accepted: a local store such "
            "as sqlite:///mlflow.db"
        )
    prefix = "sqlite:///"
    path = Path(tracking_uri[len(prefix) :]) if tracking_uri.startswith(prefix) else None
    if path is not None and path.is_dir():
        return (
            f"tracking URI {tracking_uri!r} names a folder, not a sqlite file; accepted: "
            "sqlite:///PATH/TO/mlflow.db"
        )
    if path is None or not path.is_file():
        return (
            f"no MLflow store at {tracking_uri!r} (no such file); run the demo first "
            "(./dev demo) or pass --tracking-uri sqlite:///PATH/TO/mlflow.db"
        )
    what = _sqlite_content(path)
    if what is not None:
        # mlflow server would fail with a traceback, or turn the file into a store
        return f"{tracking_uri!r} is not an MLflow store: {what}; accepted: an MLflow sqlite store"
    return None


def _sqlite_content(path: Path) -> str | None:
    """Why the file ``path`` is no MLflow sqlite store (empty, not SQLite, no MLflow tables),
    or ``None`` when it is one. Opened read-only: nothing is written."""
    import sqlite3

    try:
        with path.open("rb") as file:
            head = file.read(16)
    except OSError as error:
        return f"it cannot be read ({error.strerror or error})"
    if not head:
        return "the file is empty"
    if head != b"SQLite format 3\x00":
        return "the file is not a SQLite database"
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            found = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'experiments'"
            ).fetchone()
        finally:
            connection.close()
    except sqlite3.Error as error:
        return f"SQLite cannot read it ({error})"
    return None if found else "a SQLite database without MLflow's tables"


def port_in_use(port: int) -> bool:
    """Whether something already listens on ``127.0.0.1:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
    return False


def server_command(tracking_uri: str, port: int) -> list[str]:
    """The ``mlflow server`` command line for ``tracking_uri`` on 127.0.0.1:``port``."""
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        tracking_uri,
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
    ]


@contextlib.contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM and SIGHUP stop the UI like Ctrl-C (main thread only)."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    saved = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError):  # not the main thread: leave them alone
            saved[signum] = signal.signal(signum, interrupt)
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server's process group: SIGTERM, then SIGKILL after :data:`GRACE` seconds."""
    for signum, wait in ((signal.SIGTERM, GRACE), (signal.SIGKILL, GRACE)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # the leader is gone; workers of its group may still be stopping
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return


def serve(tracking_uri: str, port: int) -> int:
    """Run the MLflow UI over ``tracking_uri`` on http://127.0.0.1:``port`` until Ctrl-C.

    Returns:
        0 after Ctrl-C (or SIGTERM, SIGHUP) stopped it; the server's exit status when it ended
        by itself (e.g. it could not start).
    """
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": "",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    print(f"MLflow UI on http://{HOST}:{port} over {tracking_uri} (Ctrl-C stops it)", flush=True)
    with _stop_signals_interrupt():
        process = subprocess.Popen(
            server_command(tracking_uri, port), env=env, start_new_session=True
        )
        try:
            return process.wait()
        except KeyboardInterrupt:
            _stop(process)
            print("MLflow UI stopped", flush=True)
            return 0
        finally:
            if process.poll() is None:  # any other way out: never leave the server running
                _stop(process)
