"""A real `mlflow server` on 127.0.0.1 for the tests that need the HTTP path."""

from __future__ import annotations

import base64
import collections
import contextlib
import http.client
import http.server
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
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


#: Headers of one hop, never relayed; Content-Length is set again for what is sent.
_HOP_HEADERS = frozenset({"transfer-encoding", "connection", "content-length", "keep-alive"})


class _Forwarding(http.server.BaseHTTPRequestHandler):
    """The request handler the proxies below share: read a request, forward it to ``target``
    (``http.client``: no redirects followed, no proxy settings from the environment), relay the
    answer, or parts of it. Each proxy subclasses it with ``target`` set and writes
    :meth:`forward`."""

    target: urllib.parse.ParseResult
    #: request headers not forwarded (``host`` is the proxy's own)
    dropped: tuple[str, ...] = ("host",)

    def log_message(self, *args: object) -> None:
        pass

    def body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def fetch(self, body: bytes | None) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """Forward the request; return the server's status, headers and body, or ``None``
        when the server is down (refused, reset)."""
        host = self.target.hostname or "127.0.0.1"
        connection = http.client.HTTPConnection(host, self.target.port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in self.dropped}
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            answer = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_HEADERS]
            return response.status, answer, response.read()
        except (OSError, http.client.HTTPException):  # down, or killed mid-answer
            return None
        finally:
            connection.close()

    def reply(
        self,
        status: int,
        headers: list[tuple[str, str]] | None = None,
        payload: bytes = b"",
        *,
        cut: bool = False,
    ) -> None:
        """Answer; ``cut``: half the body, then the connection is closed (a dropped answer).
        A client that gave up meanwhile (its timeout, a fit's deadline) is no error."""
        try:
            self.send_response(status)
            for key, value in headers or ():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2] if cut else payload)
            if cut:
                self.wfile.flush()
        except ConnectionError:  # broken pipe, reset, aborted
            cut = True
        if cut:
            self.close_connection = True

    def relay(self, body: bytes | None, *, cut: bool = False) -> None:
        """Forward and relay the answer; 502 when the server is down, as a load balancer."""
        answer = self.fetch(body)
        if answer is None:
            self.reply(502)
        else:
            self.reply(*answer, cut=cut)

    def forward(self) -> None:
        raise NotImplementedError

    def do_GET(self) -> None:
        self.forward()

    do_POST = do_PATCH = do_DELETE = do_GET


class _Listener:
    """A :class:`ThreadingHTTPServer` on 127.0.0.1 in daemon threads, started and stopped."""

    def __init__(self, handler: type[_Forwarding], port: int) -> None:
        self.handler, self.port = handler, port
        self.server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> None:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        server.daemon_threads = True
        self.server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.shutdown()
            server.server_close()


class AuthProxy:
    """A loopback proxy in front of a real server that answers 401 to any request without the
    expected ``Authorization`` header and forwards the others, as a server behind basic auth does.

    ``port`` may be chosen before the proxy starts, so a test can point a fit at it while it is
    down and start it later. mlflow's own ``--app-name basic-auth`` needs Flask-WTF with mlflow 3
    (not a dependency here), hence the proxy.
    """

    def __init__(self, target: str, *, user: str, password: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.refused = 0
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        proxy = self

        class Handler(_Forwarding):
            dropped = ("host", "authorization")

            def forward(self) -> None:
                body = self.body()
                if self.headers.get("Authorization") != expected:
                    proxy.refused += 1
                    self.reply(401, [("WWW-Authenticate", 'Basic realm="mlflow"')])
                    return
                self.relay(body)

        Handler.target = urllib.parse.urlparse(target)
        self._listener = _Listener(Handler, self.port)

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> AuthProxy:
        self._listener.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.stop()


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
        self.every = every
        self.count = 0
        self.refused = 0
        self.creates = 0
        self.down_answers = 0  # requests answered 502 because the server was down
        self.lost = 0  # runs/create answers lost after the server did the create
        self.tripped = threading.Event()
        lock = threading.Lock()
        proxy = self

        class Handler(_Forwarding):
            def fetch(self, body: bytes | None) -> tuple[int, list[tuple[str, str]], bytes] | None:
                answer = super().fetch(body)
                if answer is None:
                    with lock:
                        proxy.down_answers += 1
                return answer

            def forward(self) -> None:
                body = self.body()
                trip = False
                if self.command == "POST":
                    with lock:
                        proxy.count += 1
                        refuse = bool(proxy.every) and proxy.count % proxy.every == 0
                        proxy.refused += refuse
                    if refuse:
                        if after_forwarding:
                            self.fetch(body)  # the server does it, the answer is lost
                        self.reply(503)
                        return
                    if self.path.endswith("/runs/create"):
                        with lock:
                            proxy.creates += 1
                            trip = proxy.creates == trip_after_creates
                            lose = proxy.lost < lose_creates
                            proxy.lost += lose
                        if lose:
                            if lose_as == "cut":
                                self.relay(body, cut=True)
                            else:
                                self.fetch(body)
                                self.reply(503)
                            return
                self.relay(body)
                if trip and on_trip is not None:
                    proxy.tripped.set()
                    threading.Thread(target=on_trip, daemon=True).start()

        Handler.target = urllib.parse.urlparse(target)
        self._listener = _Listener(Handler, free_port())

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self._listener.port}"

    def __enter__(self) -> FlakyProxy:
        self._listener.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.stop()


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
        self.rate = rate
        self.enabled = True
        self.injected: collections.Counter[str] = collections.Counter()
        self.port = free_port()
        self._random = random.Random(seed)
        self._slow = slow
        self._refuse_for = refuse_for
        self._turn = 0
        self._lock = threading.Lock()
        self._paused = False
        self._closed = False
        proxy = self

        class Handler(_Forwarding):
            def forward(self) -> None:
                body = self.body()
                kind, seconds = proxy._draw()
                if kind == "refused":
                    threading.Thread(target=proxy._pause, args=(seconds,), daemon=True).start()
                    self.close_connection = True
                    return
                if kind == "503-before":
                    self.reply(503)
                    return
                if kind == "slow":
                    time.sleep(seconds)
                if kind == "503-after":
                    if self.fetch(body) is None:
                        self.reply(502)
                    else:
                        self.reply(503)
                    return
                self.relay(body, cut=kind == "dropped")

        Handler.target = urllib.parse.urlparse(target)
        self._listener = _Listener(Handler, self.port)

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

    def _pause(self, seconds: float) -> None:
        with self._lock:
            if self._paused or self._closed:
                return
            self._paused = True
        self._listener.stop()
        time.sleep(seconds)
        with self._lock:
            self._paused = False
            if self._closed:
                return
        self._listener.start()

    def __enter__(self) -> FaultProxy:
        self._listener.start()
        return self

    def close(self) -> None:
        """Stop listening (for good)."""
        with self._lock:
            self._closed = True
        self._listener.stop()

    def __exit__(self, *exc: object) -> None:
        self.close()
