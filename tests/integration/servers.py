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
                sys.executable,
                "-m",
                "mlflow",
                "server",
                "--backend-store-uri",
                f"sqlite:///{self.root / 'server.db'}",
                "--default-artifact-root",
                (self.root / "artifacts").as_uri(),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
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


class AuthProxy:
    """A loopback proxy in front of a real server that answers 401 to any request without the
    expected ``Authorization`` header and forwards the others, as a server behind basic auth does.

    ``port`` may be chosen before the proxy starts, so a test can point a fit at it while it is
    down and start it later. mlflow's own ``--app-name basic-auth`` needs Flask-WTF with mlflow 3
    (not a dependency here), hence the proxy.
    """

    def __init__(self, target: str, *, user: str, password: str, port: int | None = None) -> None:
        import base64
        import http.server
        import urllib.error

        self.target = target.rstrip("/")
        self.port = port or free_port()
        self.refused = 0
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.headers.get("Authorization") != expected:
                    proxy.refused += 1
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="mlflow"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                request = urllib.request.Request(
                    proxy.target + self.path,
                    data=body,
                    method=self.command,
                    headers={
                        k: v
                        for k, v in self.headers.items()
                        if k.lower() not in ("host", "authorization")
                    },
                )
                try:
                    with urllib.request.urlopen(request, timeout=60) as response:
                        status, payload = response.status, response.read()
                        headers = response.headers.items()
                except urllib.error.HTTPError as error:
                    status, payload, headers = error.code, error.read(), error.headers.items()
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = _forward

        self._handler = Handler
        self.server: http.server.ThreadingHTTPServer | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> AuthProxy:
        import http.server
        import threading

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self._handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class FlakyProxy:
    """A loopback HTTP proxy in front of a real server that answers 503 to every ``every``-th
    write request (POST) without forwarding it, as an overloaded load balancer does.

    With ``after_forwarding=True`` the refused request is forwarded first and only its answer is
    replaced by the 503, as a gateway that times out on a slow backend does: the server did the
    write, the client thinks it failed and retries it.

    With ``lose_creates=N`` the answers to the first N ``runs/create`` requests are lost after
    the server did the create: cut off halfway, the connection closed (``lose_as="cut"``, as a
    connection dropped mid-answer; mlflow does not retry that), or replaced by a 503
    (``lose_as="503"``, as a gateway timing out; mlflow retries that). ``lost`` counts them.
    """

    def __init__(
        self,
        target: str,
        every: int = 3,
        *,
        after_forwarding: bool = False,
        trip_after_creates: int | None = None,
        on_trip: Callable[[], None] | None = None,
        lose_creates: int = 0,
        lose_as: str = "cut",
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
        self.lost = 0  # runs/create answers lost after the server did the create
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
                            lose = proxy.lost < lose_creates
                            proxy.lost += lose
                        if lose:
                            self._send(body, reply=lose_as == "cut", cut=True)
                            if lose_as != "cut":
                                self._status(503)
                            return
                self._send(body)
                if trip and on_trip is not None:
                    proxy.tripped.set()
                    threading.Thread(target=on_trip, daemon=True).start()

            def _status(self, code: int) -> None:
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _send(self, body: bytes | None, reply: bool = True, cut: bool = False) -> None:
                request = urllib.request.Request(
                    proxy.target + self.path,
                    data=body,
                    method=self.command,
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
                self.wfile.write(payload[: len(payload) // 2] if cut else payload)
                if cut:
                    self.wfile.flush()
                    self.close_connection = True

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


class FaultProxy:
    """A loopback HTTP proxy in front of a real server that injects faults at a seeded rate.

    Each request draws a fault with probability ``rate`` (``random.Random(seed)``); the kinds
    come in turn (:data:`KINDS`), so a short run meets each of them:

    - ``refused``: this connection is closed unanswered and the proxy stops listening for
      ``refuse_for`` seconds (connections are refused, as when a load balancer restarts);
    - ``503-before``: 503 without forwarding; ``503-after``: forwarded, the server did it, the
      answer is replaced by 503;
    - ``slow``: forwarded after ``slow`` seconds;
    - ``dropped``: forwarded, then the connection is closed halfway through the answer.

    ``enabled = False`` forwards everything. ``injected`` counts the faults by kind. Stops with
    :meth:`close`; its threads are daemons.
    """

    KINDS = ("refused", "503-before", "503-after", "slow", "dropped")

    def __init__(
        self,
        target: str,
        rate: float,
        seed: int,
        *,
        slow: tuple[float, float] = (0.5, 3.0),
        refuse_for: tuple[float, float] = (1.0, 3.0),
    ) -> None:
        import collections
        import random
        import threading

        self.target = target.rstrip("/")
        self.rate = rate
        self.enabled = True
        self.injected: collections.Counter[str] = collections.Counter()
        self.port = free_port()
        self._random = random.Random(seed)
        self._slow = slow
        self._refuse_for = refuse_for
        self._turn = 0
        self._lock = threading.Lock()
        self._server: Any = None
        self._paused = False
        self._closed = False

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _draw(self) -> tuple[str | None, float]:
        with self._lock:
            if not self.enabled or self._random.random() >= self.rate:
                return None, 0.0
            kind = self.KINDS[self._turn % len(self.KINDS)]
            if kind == "refused" and self._paused:
                return None, 0.0
            self._turn += 1
            self.injected[kind] += 1
            low, high = self._slow if kind == "slow" else self._refuse_for
            return kind, self._random.uniform(low, high)

    def _handler(self) -> type:
        import http.client
        import http.server
        import threading
        import urllib.parse

        proxy = self
        target = urllib.parse.urlparse(self.target)

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                kind, seconds = proxy._draw()
                if kind == "refused":
                    threading.Thread(target=proxy._pause, args=(seconds,), daemon=True).start()
                    self.close_connection = True
                    return
                if kind == "503-before":
                    self._reply(503, [], b"")
                    return
                if kind == "slow":
                    time.sleep(seconds)
                try:
                    connection = http.client.HTTPConnection(
                        target.hostname, target.port, timeout=60
                    )
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    status, payload = response.status, response.read()
                    answer = [
                        (k, v)
                        for k, v in response.getheaders()
                        if k.lower() not in ("transfer-encoding", "connection", "content-length")
                    ]
                    connection.close()
                except OSError:  # the server is down: a load balancer answers 502
                    self._reply(502, [], b"")
                    return
                if kind == "503-after":
                    self._reply(503, [], b"")
                elif kind == "dropped":
                    self._reply(status, answer, payload, cut=True)
                else:
                    self._reply(status, answer, payload)

            def _reply(
                self,
                status: int,
                headers: list[tuple[str, str]],
                payload: bytes,
                cut: bool = False,
            ) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload[: len(payload) // 2] if cut else payload)
                if cut:
                    self.wfile.flush()
                    self.close_connection = True

            do_GET = do_POST = do_PATCH = do_DELETE = _forward

        return Handler

    def _listen(self) -> None:
        import http.server
        import threading

        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def _pause(self, seconds: float) -> None:
        with self._lock:
            if self._paused or self._closed:
                return
            self._paused = True
        server, self._server = self._server, None
        server.shutdown()
        server.server_close()
        time.sleep(seconds)
        with self._lock:
            self._paused = False
            if self._closed:
                return
        self._listen()

    def __enter__(self) -> FaultProxy:
        self._listen()
        return self

    def close(self) -> None:
        """Stop listening (for good)."""
        with self._lock:
            self._closed = True
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __exit__(self, *exc: object) -> None:
        self.close()
