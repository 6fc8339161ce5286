"""A real `mlflow server` on 127.0.0.1 for the tests that need the HTTP path."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process_group(process: subprocess.Popen[Any], grace: float) -> None:
    """SIGTERM the process group ``process`` leads (started with ``start_new_session=True``),
    SIGKILL it after ``grace`` seconds; nothing when the process has ended."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)


class MlflowServer:
    """``python -m mlflow server`` with its own sqlite backend and artifact root."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = root
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> MlflowServer:
        self.root.mkdir(parents=True, exist_ok=True)
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "mlflow", "server",
                "--backend-store-uri", f"sqlite:///{self.root / 'server.db'}",
                "--default-artifact-root", (self.root / "artifacts").as_uri(),
                "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
            ],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={
                **os.environ,
                "MLFLOW_TRACKING_URI": "",
                # mlflow 3's job runner starts ~8 huey processes tracking never uses; on 2 cores
                # they slow the server's start by 15 to 30 s (BENCHMARKS.md). Older: ignored.
                "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
                "MLFLOW_DISABLE_TELEMETRY": "true",
            },
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"mlflow server exited with {self.process.returncode}: "
                    + (self.root / "server.log").read_text()[-2000:]
                )
            try:
                with urllib.request.urlopen(self.uri + "/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"mlflow server on port {self.port} did not answer within {timeout} s")

    def kill(self) -> None:
        """Kill the server at once (SIGKILL to its process group), as a crash does."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)
        self.process = None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_process_group(process, grace=20)


class FlakyProxy:
    """A loopback HTTP proxy in front of a real server that answers 503 to every ``every``-th
    write request (POST) without forwarding it, as an overloaded load balancer does.

    With ``after_forwarding=True`` the refused request is forwarded first and only its answer is
    replaced by the 503, as a gateway that times out on a slow backend does: the server did the
    write, the client thinks it failed and retries it.
    """

    def __init__(
        self,
        target: str,
        every: int = 3,
        *,
        after_forwarding: bool = False,
        trip_after_creates: int | None = None,
        on_trip: Callable[[], None] | None = None,
    ) -> None:
        """``every=0`` refuses nothing. With ``trip_after_creates=N``, ``on_trip`` runs (in its
        own thread) right after the N-th ``runs/create`` was answered; while the server is down
        the proxy answers 502, as a load balancer in front of a dead backend does."""
        import http.server
        import threading
        import urllib.error

        self.target = target.rstrip("/")
        self.every = every
        self.count = 0
        self.refused = 0
        self.creates = 0
        self.down_answers = 0  # requests answered 502 because the server was down
        self.tripped = threading.Event()
        lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                trip = False
                if self.command == "POST":
                    with lock:
                        proxy.count += 1
                        refuse = bool(proxy.every) and proxy.count % proxy.every == 0
                        proxy.refused += refuse
                    if refuse and after_forwarding:
                        self._send(body, reply=False)
                    if refuse:
                        self._status(503)
                        return
                    if self.path.endswith("/runs/create"):
                        with lock:
                            proxy.creates += 1
                            trip = proxy.creates == trip_after_creates
                self._send(body)
                if trip and on_trip is not None:
                    proxy.tripped.set()
                    threading.Thread(target=on_trip, daemon=True).start()

            def _status(self, code: int) -> None:
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _send(self, body: bytes | None, reply: bool = True) -> None:
                request = urllib.request.Request(
                    proxy.target + self.path, data=body, method=self.command,
                    headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                )
                try:
                    with urllib.request.urlopen(request, timeout=60) as response:
                        status, payload = response.status, response.read()
                        headers = response.headers.items()
                except urllib.error.HTTPError as error:
                    status, payload, headers = error.code, error.read(), error.headers.items()
                except OSError:  # the server is down
                    with lock:
                        proxy.down_answers += 1
                    if reply:
                        self._status(502)
                    return
                if not reply:
                    return
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FlakyProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
