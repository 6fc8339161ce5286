"""One fit's HTTP budget (``_compat_http.http_budget``): mlflow's own ``http_request``
against real loopback sockets (a port nobody listens on, a server that never answers, a slow
one)."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from legacy_mllib_tracking import _compat_http
from legacy_mllib_tracking._patching import PatchSet


@pytest.fixture
def http_request() -> Iterator[Any]:
    """mlflow's ``http_request`` with the budget patch installed (undone after the test)."""
    from mlflow.utils import rest_utils
    from mlflow.utils.rest_utils import MlflowHostCreds

    patches = PatchSet()
    _compat_http.install_http_budget(patches)
    try:

        def call(host: str, **kwargs: Any) -> Any:
            return rest_utils.http_request(
                MlflowHostCreds(host), "/api/2.0/mlflow/x", "GET", **kwargs
            )

        yield call
    finally:
        patches.undo()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def hung_host() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers, like a server
    stopped with SIGSTOP."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def _serve(handler: type[http.server.BaseHTTPRequestHandler], port: int = 0) -> Any:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_host() -> Iterator[str]:
    """A server that answers 200 after 1 s."""

    class Slow(_Ok):
        def do_GET(self) -> None:
            time.sleep(1.0)
            super().do_GET()

    server = _serve(Slow)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_hung_server_costs_the_budget_then_calls_fail_at_once(
    http_request: Any, hung_host: str
) -> None:
    """A call to a server that never answers returns when the budget runs out (not after
    mlflow's 120 s timeout and its retries), and stops every later call of the fit at once."""
    with _compat_http.http_budget(2.0) as budget:
        started = time.monotonic()
        with pytest.raises(_compat_http.TrackingStopped, match="did not answer within"):
            http_request(hung_host)
        assert time.monotonic() - started < 10
        assert budget is not None and budget.stopped is not None
        started = time.monotonic()
        with pytest.raises(_compat_http.TrackingStopped):
            http_request(hung_host)
        assert time.monotonic() - started < 1


def test_a_refused_connection_retries_only_within_the_budget(http_request: Any) -> None:
    """Nothing listening: mlflow's retries are cut to what fits in the budget, so the call fails
    in seconds (mlflow 3.17's defaults back off for minutes), and the fit's tracking stops."""
    from mlflow.exceptions import MlflowException

    with _compat_http.http_budget(3.0) as budget:
        started = time.monotonic()
        with pytest.raises(MlflowException):
            http_request(f"http://127.0.0.1:{_free_port()}")
        assert time.monotonic() - started < 10
        assert budget is not None and budget.stopped is not None
        assert budget.stopped.startswith("a tracking call failed")


def _new_http_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t not in before and t.name == "legacy-mllib-tracking-http" and t.is_alive()
    ]


def test_deadline_a_refused_connection_is_retried_then_out_of_time(http_request: Any) -> None:
    """LEGACY mode's :class:`Deadline`: nothing listening, the call is retried as mlflow would
    until mlflow's next retry would come after the deadline; then it raises TrackingStopped
    (the fit ran out of time), leaves no attempt behind, and once the deadline has passed every
    call of the fit raises at once."""
    port = _free_port()
    before = set(threading.enumerate())
    with _compat_http.http_budget(3.0, deadline=True) as budget:
        assert isinstance(budget, _compat_http.Deadline)
        started = time.monotonic()
        with pytest.raises(_compat_http.TrackingStopped, match="did not answer within"):
            http_request(f"http://127.0.0.1:{port}")
        assert time.monotonic() - started < 4
        assert budget.ran_out
        assert _new_http_threads(before) == []  # mlflow's own retries are not running on
        time.sleep(max(0.0, budget.remaining()) + 0.1)
        started = time.monotonic()
        with pytest.raises(_compat_http.TrackingStopped):
            http_request(f"http://127.0.0.1:{port}")
        assert time.monotonic() - started < 0.5
        assert budget.stopped is not None


def test_deadline_a_server_back_before_it_gets_the_write(http_request: Any) -> None:
    """A server that starts listening a second after the first attempt was refused gets the
    call on a later retry, within the deadline (as mlflow's own retries would carry it)."""
    port = _free_port()
    servers: list[Any] = []
    timer = threading.Timer(1.0, lambda: servers.append(_serve(_Ok, port)))
    timer.start()
    try:
        with _compat_http.http_budget(20.0, deadline=True) as budget:
            assert http_request(f"http://127.0.0.1:{port}").status_code == 200
            assert isinstance(budget, _compat_http.Deadline) and not budget.ran_out
    finally:
        timer.join()
        for server in servers:
            server.shutdown()
            server.server_close()


def test_deadline_retries_a_503_as_mlflow_and_honours_retry_after(http_request: Any) -> None:
    """A server that answers 503 (with ``Retry-After: 1``) twice, then 200: the call returns
    the 200 after about the two pauses the server asked for; a status mlflow does not retry
    (404) comes back at once, as a response."""
    answers = [503, 503, 200]
    seen: list[float] = []

    class Busy(_Ok):
        def do_GET(self) -> None:
            seen.append(time.monotonic())
            code = answers.pop(0) if answers else 404
            if code == 200:
                super().do_GET()
                return
            self.send_response(code)
            if code == 503:
                self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = _serve(Busy)
    host = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with _compat_http.http_budget(20.0, deadline=True):
            assert http_request(host).status_code == 200
            # mlflow's backoff alone would retry the first 503 at once
            assert len(seen) == 3 and seen[1] - seen[0] >= 0.9 and seen[2] - seen[1] >= 0.9, seen
            started = time.monotonic()
            assert http_request(host).status_code == 404
            assert time.monotonic() - started < 1
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_host() -> Iterator[tuple[str, list[int]]]:
    """A server that accepts connections and never answers; the list counts the connections
    accepted so far."""
    accepted = [0]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            held.append(conn)
            accepted[0] += 1

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", accepted
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        sock.close()


def test_deadline_a_hung_server_gets_no_attempt_after_it(
    http_request: Any, silent_host: tuple[str, list[int]]
) -> None:
    """A server that never answers: the call returns at the deadline, out of time; no attempt
    connects after it, and the attempt in flight ends within about a second (its timeout was
    cut to what was left), so nothing reaches the server later."""
    host, accepted = silent_host
    before = set(threading.enumerate())
    with _compat_http.http_budget(2.0, deadline=True):
        started = time.monotonic()
        with pytest.raises(_compat_http.TrackingStopped, match="did not answer within"):
            http_request(host)
        assert time.monotonic() - started < 4
        at_deadline = accepted[0]
    assert at_deadline >= 1
    ends = time.monotonic() + 5
    while _new_http_threads(before) and time.monotonic() < ends:
        time.sleep(0.05)
    assert _new_http_threads(before) == []
    time.sleep(1.0)
    assert accepted[0] == at_deadline


def test_deadline_a_failure_after_mlflows_retries_is_mlflows_error(http_request: Any) -> None:
    """Well before the deadline, a call that failed as often as mlflow retries (here once)
    raises mlflow's own error, and the other calls of the fit go on (nothing stopped); an error
    mlflow does not retry (a URL it cannot read) is raised at once."""
    from mlflow.exceptions import MlflowException

    with _compat_http.http_budget(60.0, deadline=True) as budget:
        with pytest.raises(MlflowException):
            http_request(f"http://127.0.0.1:{_free_port()}", max_retries=1)
        started = time.monotonic()
        with pytest.raises(MlflowException):
            http_request("http://[127.0.0.1")
        assert time.monotonic() - started < 1
        assert isinstance(budget, _compat_http.Deadline)
        assert budget.stopped is None and not budget.ran_out


def test_outside_a_budget_calls_pass_through(http_request: Any, slow_host: str) -> None:
    """Without a budget (LEGACY mode, no fit) the patched call is mlflow's own."""
    assert _compat_http.current_http_budget() is None
    assert http_request(slow_host).status_code == 200


def test_calls_in_flight_together_count_once(http_request: Any, slow_host: str) -> None:
    """Two 1 s calls made at once from two threads sharing the fit's context spend about 1 s of
    the budget, not 2; the budget is not stopped by calls that succeed."""
    import contextvars

    with _compat_http.http_budget(30.0) as budget:
        assert budget is not None
        results: list[int] = []
        threads = [
            threading.Thread(
                target=contextvars.copy_context().run,
                args=(lambda: results.append(http_request(slow_host).status_code),),
            )
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [200, 200]
        assert 28.0 < budget.remaining() <= 29.1, budget.remaining()
        assert budget.stopped is None


def test_retry_settings_fit_in_what_is_left() -> None:
    """Retries are kept while their backoff sleeps fit in the seconds left; the timeout is cut
    to them; a caller's own retry count is kept."""
    few = _compat_http._retry_settings_within(4.0, {})
    assert few["timeout"] == 4 and few["max_retries"] == 1  # 2 s + 1 s jitter fit, 4 s more not
    none = _compat_http._retry_settings_within(0.5, {"backoff_factor": 2})
    assert none == {"max_retries": 0, "timeout": 1}
    many = _compat_http._retry_settings_within(1000.0, {"timeout": 10})
    assert many["timeout"] == 10 and many["max_retries"] >= 5
    assert "max_retries" not in _compat_http._retry_settings_within(5.0, {"max_retries": 3})
