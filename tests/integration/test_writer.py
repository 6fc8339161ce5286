"""Child-run logging (``_writer``): thread count, one-call ends, cancel, failures in map order,
copies of retried creates deleted (``_duplicates``).

No Spark. A real sqlite store in a temporary folder, and a real mlflow tracking server (mlflow's
own Flask app over that kind of store, served in this process on 127.0.0.1) where the HTTP path
matters: the requests it answers are recorded, and a test may slow one down or fail it.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from legacy_mllib_tracking import InvalidOption, configure, inspect_run_layout, is_configured
from legacy_mllib_tracking._compat import finish_run, tracking_uri_of
from legacy_mllib_tracking._duplicates import remove_duplicate_children
from legacy_mllib_tracking._limits import MAX_CHILD_THREADS, child_threads, child_threads_override
from legacy_mllib_tracking._tuning import MapInfo, TuningFit
from legacy_mllib_tracking._writer import FitContext, child_tags, log_children, open_fit
from legacy_mllib_tracking.keys import ENV_CHILD_THREADS, TAG_CHILD_KEY

CREATE = "/api/2.0/mlflow/runs/create"
LOG_BATCH = "/api/2.0/mlflow/runs/log-batch"
UPDATE = "/api/2.0/mlflow/runs/update"
GET = "/api/2.0/mlflow/runs/get"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No thread-count override or mlflow client setting of the host leaks into a test."""
    for name in (ENV_CHILD_THREADS, "MLFLOW_ENABLE_ASYNC_LOGGING", "MLFLOW_HTTP_POOL_MAXSIZE"):
        monkeypatch.delenv(name, raising=False)


def synthetic_fit(maps: int) -> TuningFit:
    """A CrossValidator-shaped fit over ``maps`` param maps, best map 0."""
    infos = [
        MapInfo(
            index,
            {"regParam": str(index / 10), "maxIter": "5"},
            {"avg_f1": 0.9 - index / 1000, "std_f1": 0.01},
            f"regParam={index / 10}",
        )
        for index in range(maps)
    ]
    return TuningFit(
        tuner_name="CrossValidator",
        tuner_class="pyspark.ml.tuning.CrossValidator",
        settings={"numFolds": "3", "estimator": "LogisticRegression", "metricName": "f1"},
        metric_key="avg_f1",
        larger_is_better=True,
        maps=tuple(infos),
        best_index=0,
    )


def new_context(client: Any, *, experiment: str | None = None) -> FitContext:
    """A fresh experiment and parent run on ``client``, and the fit context logging into it."""
    experiment_id = client.create_experiment(experiment or f"exp-{time.time_ns()}")
    return open_fit(client, client.create_run(experiment_id), "legacy")


# --- stores -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An ``MlflowClient`` on a sqlite store in a temporary folder (one per module)."""
    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.mktemp("sqlite-store")
    return MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")


#: What a test may do to a request before the server answers it: given the path and the JSON
#: body, sleep, set an event, or return (HTTP status, message) to fail it.
Hook = Callable[[str, dict[str, Any]], "tuple[int, str] | None"]


@dataclass
class Server:
    """mlflow's tracking server app on 127.0.0.1, recording the requests it answers."""

    app: Any
    uri: str = ""
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    most_in_flight: dict[str, int] = field(default_factory=dict)
    hook: Hook | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.most_in_flight.clear()
            self.hook = None

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for seen, _ in self.requests if seen == path)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ["PATH_INFO"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            payload = {}
        with self.lock:
            self.requests.append((path, payload))
            self.in_flight[path] = self.in_flight.get(path, 0) + 1
            self.most_in_flight[path] = max(self.most_in_flight.get(path, 0), self.in_flight[path])
        try:
            fault = self.hook(path, payload) if self.hook is not None else None
            if fault is not None:
                status, message = fault
                start_response(f"{status} FAULT", [("Content-Type", "application/json")])
                error = {"error_code": "INVALID_PARAMETER_VALUE", "message": message}
                return [json.dumps(error).encode()]
            return self.app(environ, start_response)
        finally:
            with self.lock:
                self.in_flight[path] -= 1


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """mlflow's own server app (``mlflow.server.app``) with a sqlite backend, in this process."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    root: Path = tmp_path_factory.mktemp("server-store")
    with pytest.MonkeyPatch.context() as patch:
        import mlflow.server
        from mlflow.server import handlers

        patch.setenv(mlflow.server.BACKEND_STORE_URI_ENV_VAR, f"sqlite:///{root / 'server.db'}")
        patch.setenv(mlflow.server.ARTIFACT_ROOT_ENV_VAR, (root / "artifacts").as_uri())
        # The app keeps its store in a module global from the first request on (2.17, 3.17).
        patch.setattr(handlers, "_tracking_store", None)
        observed = Server(mlflow.server.app)
        http = make_server("127.0.0.1", 0, observed, threaded=True, request_handler=Quiet)
        observed.uri = f"http://127.0.0.1:{http.server_port}"
        thread = threading.Thread(target=http.serve_forever, name="test-mlflow-server")
        thread.start()
        try:
            yield observed
        finally:
            http.shutdown()
            thread.join(10)


@pytest.fixture
def remote(server: Server) -> Iterator[tuple[Server, Any]]:
    """The server, its record cleared, and an ``MlflowClient`` talking to it."""
    from mlflow.tracking import MlflowClient

    server.reset()
    yield server, MlflowClient(tracking_uri=server.uri)
    server.reset()


# --- how many threads ---------------------------------------------------------------------------

# (tracking URI, maps, env LEGACY_MLLIB_TRACKING_CHILD_THREADS, other env, threads)
# fmt: off
THREADS_TABLE = [
    pytest.param("sqlite:////tmp/mlflow.db", 100, None, {}, 1, id="sqlite-sequential"),
    pytest.param("file:///tmp/mlruns", 100, None, {}, 1, id="file-uri-sequential"),
    pytest.param("/tmp/mlruns", 100, None, {}, 1, id="plain-path-sequential"),
    pytest.param("mlruns", 100, None, {}, 1, id="relative-path-sequential"),
    pytest.param("http://127.0.0.1:5000", 100, None, {}, MAX_CHILD_THREADS, id="http-pool"),
    pytest.param("HTTPS://mlflow.example.com", 100, None, {}, MAX_CHILD_THREADS,
                 id="https-any-case-pool"),
    pytest.param("databricks", 100, None, {}, MAX_CHILD_THREADS, id="databricks-pool"),
    pytest.param("databricks://profile", 100, None, {}, MAX_CHILD_THREADS,
                 id="databricks-profile-pool"),
    pytest.param("http://h", 3, None, {}, 3, id="http-no-more-than-maps"),
    pytest.param("http://h", 0, None, {}, 1, id="http-no-maps-one"),
    pytest.param("http://h", 100, None, {"MLFLOW_HTTP_POOL_MAXSIZE": "4"}, 4,
                 id="http-mlflow-pool-smaller"),
    pytest.param("http://h", 100, None, {"MLFLOW_HTTP_POOL_MAXSIZE": "50"}, MAX_CHILD_THREADS,
                 id="http-mlflow-pool-larger"),
    pytest.param("http://h", 100, None, {"MLFLOW_ENABLE_ASYNC_LOGGING": "true"}, 1,
                 id="http-async-logging-sequential"),
    pytest.param("sqlite:///x.db", 100, "4", {}, 4, id="env-forces-threads-on-sqlite"),
    pytest.param("http://h", 100, "1", {}, 1, id="env-forces-sequential-on-http"),
    pytest.param("http://h", 3, "8", {}, 3, id="env-no-more-than-maps"),
    pytest.param("http://h", 100, " 2 ", {}, 2, id="env-padded"),
    pytest.param("http://h", 100, "", {}, MAX_CHILD_THREADS, id="env-empty-is-unset"),
]
# fmt: on


@pytest.mark.parametrize(("uri", "maps", "forced", "env", "expected"), THREADS_TABLE)
def test_child_threads_follow_the_store(
    monkeypatch: pytest.MonkeyPatch,
    uri: str,
    maps: int,
    forced: str | None,
    env: dict[str, str],
    expected: int,
) -> None:
    """Local stores log one child at a time, HTTP(S) stores up to 8; the env var wins."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    environ = {} if forced is None else {ENV_CHILD_THREADS: forced}
    assert child_threads(uri, maps, environ) == expected


@pytest.mark.parametrize("value", ["0", "9", "-1", "two", "2.5", "1e1"])
def test_bad_thread_count_names_value_source_and_range(value: str) -> None:
    """An env value that is no integer from 1 to 8 is an InvalidOption saying so."""
    with pytest.raises(InvalidOption) as caught:
        child_threads_override({ENV_CHILD_THREADS: value})
    assert str(caught.value) == (
        f"env {ENV_CHILD_THREADS} must be an integer from 1 to {MAX_CHILD_THREADS} "
        f"(threads that log child runs), got {value!r}"
    )
    assert isinstance(caught.value, ValueError)


def test_configure_rejects_a_bad_thread_count_before_changing_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """configure() reads the env var first: a bad value raises and leaves nothing configured."""
    monkeypatch.setenv(ENV_CHILD_THREADS, "lots")
    with pytest.raises(InvalidOption, match=f"env {ENV_CHILD_THREADS} .* got 'lots'"):
        configure(None, mode="off")
    assert not is_configured()
    monkeypatch.setenv(ENV_CHILD_THREADS, "3")
    configure(None, mode="off")
    assert is_configured()


def test_tracking_uri_is_read_from_the_client(
    sqlite_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client's own URI decides; a client without one counts as mlflow's current URI."""
    assert tracking_uri_of(sqlite_client) == sqlite_client._tracking_client.tracking_uri
    assert tracking_uri_of(sqlite_client).startswith("sqlite:///")
    import mlflow

    previous = mlflow.get_tracking_uri()  # an earlier test may have set one: it wins over env
    mlflow.set_tracking_uri("http://tracking.example.com")
    try:
        assert tracking_uri_of(object()) == "http://tracking.example.com"
    finally:
        mlflow.set_tracking_uri(previous)


# --- on a sqlite store --------------------------------------------------------------------------


def test_children_end_finished_with_their_end_time_on_sqlite(
    sqlite_client: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    """Each child is logged with its params and metrics and ends FINISHED at one end time."""
    ctx = new_context(sqlite_client)
    fit = synthetic_fit(5)
    before = int(time.time() * 1000)
    log_children(ctx, fit)
    after = int(time.time() * 1000)

    layout = inspect_run_layout(ctx.parent_run_id, client=sqlite_client)
    assert [child.map_index for child in layout.children] == [0, 1, 2, 3, 4]
    assert {child.status for child in layout.children} == {"FINISHED"}
    (end,) = {child.end_time for child in layout.children}
    assert end is not None and before <= end <= after
    assert {child.start_time for child in layout.children} == {ctx.start_ms}
    assert layout.children[2].params == {"regParam": "0.2", "maxIter": "5"}
    assert layout.children[2].metrics == pytest.approx({"avg_f1": 0.898, "std_f1": 0.01})
    assert ctx.logged_children == {0, 1, 2, 3, 4}
    assert ctx.failures == []
    out, err = capfd.readouterr()
    assert "View run" not in out + err


@pytest.mark.parametrize("threads", ["1", "4"])
def test_no_child_starts_after_cancel(
    sqlite_client: Any, monkeypatch: pytest.MonkeyPatch, threads: str
) -> None:
    """With cancel already set, no child run is created, sequential or in threads."""
    monkeypatch.setenv(ENV_CHILD_THREADS, threads)
    ctx = new_context(sqlite_client)
    cancel = threading.Event()
    cancel.set()
    log_children(ctx, synthetic_fit(6), cancel=cancel)
    assert inspect_run_layout(ctx.parent_run_id, client=sqlite_client).children == ()
    assert ctx.logged_children == set()
    assert ctx.failures == []


def test_a_thread_count_broken_after_configure_logs_one_at_a_time(
    sqlite_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad env value met while logging is reported with the failures; every child is logged."""
    monkeypatch.setenv(ENV_CHILD_THREADS, "many")
    ctx = new_context(sqlite_client)
    log_children(ctx, synthetic_fit(3))
    assert ctx.logged_children == {0, 1, 2}
    assert ctx.failures == [
        f"env {ENV_CHILD_THREADS} must be an integer from 1 to {MAX_CHILD_THREADS} (threads "
        "that log child runs), got 'many'; child runs were logged one at a time"
    ]


def test_finish_run_falls_back_to_set_terminated(sqlite_client: Any) -> None:
    """A client without mlflow's private ``_tracking_client`` is ended through set_terminated."""

    class PublicOnly:
        """An MlflowClient as a future mlflow might have it: public methods only."""

        def set_terminated(self, run_id: str, status: str, end_time: int) -> None:
            sqlite_client.set_terminated(run_id, status, end_time=end_time)

    run = sqlite_client.create_run(sqlite_client.create_experiment(f"exp-{time.time_ns()}"))
    finish_run(PublicOnly(), run.info.run_id, "FAILED", 1_700_000_000_000)
    info = sqlite_client.get_run(run.info.run_id).info
    assert (info.status, info.end_time) == ("FAILED", 1_700_000_000_000)


def test_open_fit_fresh_does_not_read_the_run_back(sqlite_client: Any) -> None:
    """fresh=True takes the names from the run object as created, not from the store."""
    experiment_id = sqlite_client.create_experiment(f"exp-{time.time_ns()}")
    run = sqlite_client.create_run(experiment_id, tags={"team": "ml"})
    sqlite_client.log_param(run.info.run_id, "numFolds", "3")  # after the run object was made
    sqlite_client.log_metric(run.info.run_id, "best_f1", 0.9)

    read = open_fit(sqlite_client, run, "legacy")
    assert (read.taken_params, read.taken_metrics) == ({"numFolds"}, {"best_f1"})
    assert "team" in read.taken_tags

    fresh = open_fit(sqlite_client, run, "legacy", fresh=True)
    assert (fresh.taken_params, fresh.taken_metrics) == (frozenset(), frozenset())
    assert fresh.taken_tags == frozenset(run.data.tags) and "team" in fresh.taken_tags
    assert (fresh.parent_run_id, fresh.experiment_id) == (run.info.run_id, experiment_id)
    assert fresh.param_key("numFolds") == "numFolds"
    assert read.param_key("numFolds") == f"numFolds_{read.fit_id}"


# --- against a tracking server ------------------------------------------------------------------


def _slow_creates(seconds: float) -> Hook:
    def hook(path: str, payload: dict[str, Any]) -> None:
        if path == CREATE:
            time.sleep(seconds)

    return hook


def _map_index(payload: dict[str, Any]) -> int | None:
    for tag in payload.get("tags") or []:
        if tag.get("key") == TAG_CHILD_KEY:  # <fit_id>:<map index>
            return int(tag["value"].rpartition(":")[2])
    return None


@pytest.mark.parametrize(
    ("forced", "most_at_once"),
    [pytest.param("1", 1, id="sequential-by-env"), pytest.param(None, 2, id="threads-by-default")],
)
def test_children_over_http_take_three_requests_each(
    remote: tuple[Server, Any],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    forced: str | None,
    most_at_once: int,
) -> None:
    """Per child: create, log-batch, update; no GET, no "View run" line; threads by default."""
    server, client = remote
    if forced is not None:
        monkeypatch.setenv(ENV_CHILD_THREADS, forced)
    ctx = new_context(client)
    server.reset()
    server.hook = _slow_creates(0.1)
    log_children(ctx, synthetic_fit(12))

    counts = {path: server.count(path) for path in (CREATE, LOG_BATCH, UPDATE, GET)}
    assert counts == {CREATE: 12, LOG_BATCH: 12, UPDATE: 12, GET: 0}
    if forced == "1":
        assert server.most_in_flight[CREATE] == 1
    else:
        assert server.most_in_flight[CREATE] >= most_at_once
    out, err = capfd.readouterr()
    assert "View run" not in out + err
    layout = inspect_run_layout(ctx.parent_run_id, client=client)
    assert [child.map_index for child in layout.children] == list(range(12))
    assert {child.status for child in layout.children} == {"FINISHED"}
    assert all(child.end_time is not None for child in layout.children)
    assert ctx.logged_children == set(range(12)) and ctx.failures == []


def test_open_fit_fresh_sends_no_request_for_the_parent(remote: tuple[Server, Any]) -> None:
    """open_fit reads the parent with one GET; fresh=True with none."""
    server, client = remote
    run = client.create_run(client.create_experiment(f"exp-{time.time_ns()}"))
    server.reset()
    open_fit(client, run, "legacy", fresh=True)
    assert server.count(GET) == 0
    open_fit(client, run, "legacy")
    assert server.count(GET) == 1


@pytest.mark.parametrize(
    "forced", [pytest.param("1", id="sequential"), pytest.param(None, id="threads")]
)
def test_cancel_midway_stops_children_that_have_not_started(
    remote: tuple[Server, Any], monkeypatch: pytest.MonkeyPatch, forced: str | None
) -> None:
    """Once cancel is set no new child starts; children in flight end FINISHED and count."""
    server, client = remote
    if forced is not None:
        monkeypatch.setenv(ENV_CHILD_THREADS, forced)
    ctx = new_context(client)
    cancel = threading.Event()
    creates = 0

    def hook(path: str, payload: dict[str, Any]) -> None:
        nonlocal creates
        if path == CREATE:
            with server.lock:
                creates += 1
                if creates == 3:
                    cancel.set()
            time.sleep(0.02)

    server.reset()
    server.hook = hook
    maps = 24
    log_children(ctx, synthetic_fit(maps), cancel=cancel)

    layout = inspect_run_layout(ctx.parent_run_id, client=client)
    logged = {child.map_index for child in layout.children}
    if forced == "1":
        assert logged == {0, 1, 2}
    else:
        # at the third create, at most the other threads' children had started as well
        assert 3 <= len(logged) <= 2 + MAX_CHILD_THREADS < maps
    assert ctx.logged_children == logged
    assert {child.status for child in layout.children} == {"FINISHED"}
    assert ctx.failures == []
    assert not [t for t in threading.enumerate() if t.name.startswith("legacy-mllib-tracking")]


def test_failed_children_are_reported_each_in_map_order(
    remote: tuple[Server, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every failed child gives one failure; in map order even when map 0 fails last."""
    server, client = remote
    monkeypatch.setenv(ENV_CHILD_THREADS, "4")
    ctx = new_context(client)

    def hook(path: str, payload: dict[str, Any]) -> tuple[int, str] | None:
        index = _map_index(payload) if path == CREATE else None
        if index is None or index % 2:
            return None
        if index == 0:
            time.sleep(0.3)  # the other threads fail maps 2, 4, ... meanwhile
        return 400, f"no room for map {index}"

    server.reset()
    server.hook = hook
    log_children(ctx, synthetic_fit(10))

    assert ctx.logged_children == {1, 3, 5, 7, 9}
    assert len(ctx.failures) == 5
    for index, failure in zip([0, 2, 4, 6, 8], ctx.failures, strict=True):
        assert failure.startswith(f"child run for param map {index} (regParam=")
        assert f"no room for map {index}" in failure
    layout = inspect_run_layout(ctx.parent_run_id, client=client)
    assert [child.map_index for child in layout.children] == [1, 3, 5, 7, 9]


def test_duplicate_children_of_a_retried_create_are_deleted(remote: tuple[Server, Any]) -> None:
    """Copies of a child (same fit id and map index, not the run used) are deleted on a server;
    a map without a kept run keeps its only run, for replay to complete."""
    _, client = remote
    ctx = new_context(client)
    fit = synthetic_fit(3)
    log_children(ctx, fit)
    kept = dict(ctx.child_runs)
    assert sorted(kept) == [0, 1, 2]
    copy_of_1 = client.create_run(
        ctx.experiment_id, tags=child_tags(ctx, fit, fit.maps[1], "LogisticRegression")
    ).info.run_id
    orphan_of_2 = client.create_run(
        ctx.experiment_id, tags=child_tags(ctx, fit, fit.maps[2], "LogisticRegression")
    ).info.run_id

    assert remove_duplicate_children(ctx, {i: kept[i] for i in (0, 1)}) == 1
    assert client.get_run(copy_of_1).info.lifecycle_stage == "deleted"
    assert client.get_run(orphan_of_2).info.lifecycle_stage == "active"
    assert all(client.get_run(run).info.lifecycle_stage == "active" for run in kept.values())


def test_duplicates_are_not_searched_for_on_a_local_store(sqlite_client: Any) -> None:
    """sqlite does not retry: no search, nothing deleted, even with a copy present."""
    ctx = new_context(sqlite_client)
    fit = synthetic_fit(1)
    log_children(ctx, fit)
    copy = sqlite_client.create_run(
        ctx.experiment_id, tags=child_tags(ctx, fit, fit.maps[0], "LogisticRegression")
    ).info.run_id
    assert remove_duplicate_children(ctx, dict(ctx.child_runs)) == 0
    assert sqlite_client.get_run(copy).info.lifecycle_stage == "active"


def test_a_create_landing_after_the_deadline_defers_to_a_replayed_copy(
    remote: tuple[Server, Any],
) -> None:
    """A child whose create returns after the deadline, when replay already logged its map
    (same child key), deletes itself instead of making a second child."""
    server, client = remote
    ctx = new_context(client)
    fit = synthetic_fit(1)
    replayed = client.create_run(
        ctx.experiment_id, tags=child_tags(ctx, fit, fit.maps[0], "LogisticRegression")
    ).info.run_id
    deadline = threading.Event()

    def hook(path: str, payload: dict[str, Any]) -> None:
        if path == CREATE:
            deadline.set()  # the deadline passes while the create is in flight

    server.hook = hook
    log_children(ctx, fit, cancel=deadline)
    late = ctx.child_runs[0]
    assert late != replayed
    assert client.get_run(late).info.lifecycle_stage == "deleted"
    assert client.get_run(replayed).info.lifecycle_stage == "active"
    assert ctx.logged_children == set() and server.count(LOG_BATCH) == 0


def test_fit_number_counts_only_the_tuning_fits_this_library_logged() -> None:
    """Children of the n-th fit into one run are named "fit n: ..." (the first fit's plainly); the
    estimator_name tag autolog writes for an autologged Pipeline holding the tuner is no fit."""
    uuid = "ab" * 16
    fits = [
        (frozenset(), 1),
        (frozenset({"estimator_name", "estimator_class", "mlflow.runName"}), 1),
        (frozenset({"legacy_mllib_tracking.mode", "estimator_name"}), 2),
        (frozenset({"legacy_mllib_tracking.mode", f"legacy_mllib_tracking.mode_{uuid}"}), 3),
    ]
    for tags, number in fits:
        ctx = FitContext(
            client=None, parent_run_id="p", experiment_id="0", mode="legacy", taken_tags=tags
        )
        assert ctx.fit_number == number, tags
        expected = "maxDepth=5" if number == 1 else f"fit {number}: maxDepth=5"
        assert ctx.child_run_name("maxDepth=5") == expected
