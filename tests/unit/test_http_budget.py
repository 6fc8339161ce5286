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


@pytest.fixture
def slow_host() -> Iterator[str]:
    """A server that answers 200 after 1 s."""

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(1.0)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
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
    until mlflow's next retry would come after the deadline; then it raises TrackingStopped as
    out of time, and every later call of the fit at once."""
    port = _free_port()
    with _compat_http.http_budget(3.0, deadline=True) as budget:
        started = time.monotonic()
        with pytest.raises(_compat_http.TrackingStopped, match="did not answer within"):
            http_request(f"http://127.0.0.1:{port}")
        assert time.monotonic() - started < 4
        assert budget is not None and budget.stopped is not None
        started = time.monotonic()
        with pytest.raises(_compat_http.TrackingStopped):
            http_request(f"http://127.0.0.1:{port}")
        assert time.monotonic() - started < 0.5


def test_deadline_a_server_back_before_it_gets_the_write(http_request: Any) -> None:
    """A server that starts listening a second after the first attempt was refused gets the
    call on a later retry, within the deadline (as mlflow's own retries would carry it)."""

    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    port = _free_port()
    servers: list[http.server.ThreadingHTTPServer] = []

    def start_later() -> None:
        time.sleep(1.0)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Ok)
        servers.append(server)
        server.serve_forever()

    threading.Thread(target=start_later, daemon=True).start()
    try:
        with _compat_http.http_budget(20.0, deadline=True) as budget:
            assert http_request(f"http://127.0.0.1:{port}").status_code == 200
            assert budget is not None and budget.stopped is None
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def test_deadline_a_hung_server_gets_no_attempt_after_it(http_request: Any, hung_host: str) -> None:
    """A server that never answers: the call returns at the deadline, out of time, and its
    attempt ends within about a second after it (each attempt's timeout is cut to what is
    left), so nothing reaches the server later."""
    before = set(threading.enumerate())
    with _compat_http.http_budget(2.0, deadline=True):
        started = time.monotonic()
        with pytest.raises(_compat_http.TrackingStopped, match="did not answer within"):
            http_request(hung_host)
        assert time.monotonic() - started < 3
    ends = time.monotonic() + 5
    while _new_http_threads(before) and time.monotonic() < ends:
        time.sleep(0.05)
    assert _new_http_threads(before) == []


def test_deadline_a_failure_after_mlflows_retries_is_mlflows_error(http_request: Any) -> None:
    """Well before the deadline, a call that failed as often as mlflow retries (here once)
    raises mlflow's own error, and the other calls of the fit go on (nothing stopped)."""
    from mlflow.exceptions import MlflowException

    with _compat_http.http_budget(60.0, deadline=True) as budget:
        with pytest.raises(MlflowException):
            http_request(f"http://127.0.0.1:{_free_port()}", max_retries=1)
        assert budget is not None and budget.stopped is None


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
