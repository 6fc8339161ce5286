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


def test_legacy_budget_a_call_cut_short_stops_as_out_of_time(http_request: Any) -> None:
    """LEGACY mode's budget (``stop_on_error=False``): a call whose retries were cut to the
    budget and still failed raises TrackingStopped and stops the fit's tracking as out of time
    (mlflow would still be retrying), so no write of the fit lands minutes later."""
    from mlflow.exceptions import MlflowException

    with _compat_http.http_budget(3.0, stop_on_error=False) as budget:
        with pytest.raises(_compat_http.TrackingStopped, match="did not answer within") as caught:
            http_request(f"http://127.0.0.1:{_free_port()}")
        assert isinstance(caught.value.__cause__, MlflowException)
        assert budget is not None and budget.stopped is not None
        assert budget.stopped.startswith("the tracking server did not answer within")
        started = time.monotonic()
        with pytest.raises(_compat_http.TrackingStopped):
            http_request(f"http://127.0.0.1:{_free_port()}")
        assert time.monotonic() - started < 1


def test_legacy_budget_a_failure_with_mlflows_own_retries_does_not_stop(
    http_request: Any,
) -> None:
    """LEGACY mode's budget: a call that had all of mlflow's retries (here: none asked for) and
    failed raises mlflow's own error, and the other calls of the fit go on."""
    from mlflow.exceptions import MlflowException

    with _compat_http.http_budget(60.0, stop_on_error=False) as budget:
        with pytest.raises(MlflowException):
            http_request(f"http://127.0.0.1:{_free_port()}", max_retries=0, timeout=5)
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
