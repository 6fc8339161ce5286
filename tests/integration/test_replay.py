"""Replay and the read-only commands against real stores: the right store, only spool files, the
fit's experiment, a store that is down, credentials, and the CLI's edges (child runs, pipes)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from legacy_mllib_tracking import TrackingWarning, configure
from legacy_mllib_tracking.cli import main
from legacy_mllib_tracking.keys import (
    TAG_CHILD_KEY,
    TAG_CREATED_FOR,
    TAG_PARENT_RUN_ID,
)

from ..unit.fresh import run_python
from .builders import tuner
from .helpers import assert_contract
from .servers import AuthProxy, free_port

ROOT = Path(__file__).resolve().parents[2]
USER, PASSWORD = "alice", "s3cr3t-pw"


def _store(path: Path) -> str:
    """Create a real sqlite MLflow store at ``path``; return its URI."""
    uri = f"sqlite:///{path}"
    MlflowClient(tracking_uri=uri).search_experiments()
    return uri


def _spool(
    folder: Path,
    *,
    version: int,
    uri: str,
    experiment_id: str | None = None,
    experiment_name: str | None = None,
    children: int = 3,
) -> tuple[Path, str]:
    """Write a spool file of ``version`` as a fit whose store was down from the start writes it
    (no parent run yet); return its path and fit id. Version 1 has no ``experiment_name``."""
    fit_id = uuid.uuid4().hex
    record: dict[str, Any] = {
        "version": version,
        "written_at": time.time(),
        "fit_id": fit_id,
        "reason": "is not reachable",
        "tracking_uri": uri,
        "parent_run_id": None,
        "experiment_id": experiment_id,
        "tuner": "CrossValidator",
        "mode": "legacy",
        "start_ms": int(time.time() * 1000),
        "parent": {
            "params": {"estimator": "LogisticRegression", "numFolds": "2"},
            "tags": {"estimator_name": "CrossValidator"},
            "metrics": {"best_avg_areaUnderROC": 0.9},
        },
        "children": [
            {
                "index": i,
                "run_name": f"regParam={i}",
                "params": {"regParam": str(i)},
                "metrics": {"avg_areaUnderROC": 0.5 + i / 10},
                "tags": {
                    TAG_CHILD_KEY: f"{fit_id}:{i}",
                },
            }
            for i in range(children)
        ],
    }
    if version >= 2:
        record["experiment_name"] = experiment_name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"20260101T000000-{fit_id}.json"
    path.write_text(json.dumps(record, indent=2))
    return path, fit_id


def _tree(uri: str, fit_id: str) -> tuple[Any, list[Any]]:
    """Return (parent run, child runs) of the fit ``fit_id`` in the store at ``uri``."""
    client = MlflowClient(tracking_uri=uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    children = client.search_runs(experiments, f"tags.`{TAG_CHILD_KEY}` LIKE '{fit_id}:%'")
    parents = {c.data.tags[TAG_PARENT_RUN_ID] for c in children}
    assert len(parents) == 1, parents
    return client.get_run(parents.pop()), children


# --- which store -------------------------------------------------------------------------------


def test_replay_logs_into_the_store_the_file_records_not_the_environments(
    tracking_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --tracking-uri each file goes to the store it records, and the output says which."""
    recorded = _store(tmp_path / "fit-store.db")
    experiment = MlflowClient(tracking_uri=recorded).create_experiment("the-fits")
    folder = tmp_path / "spool"
    _, fit_id = _spool(
        folder, version=2, uri=recorded, experiment_id=experiment, experiment_name="the-fits"
    )
    assert os.environ["MLFLOW_TRACKING_URI"] == tracking_uri  # the environment names another
    assert main(["replay", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"at {recorded} (recorded in the file)" in out, out
    parent, children = _tree(recorded, fit_id)
    assert parent.info.experiment_id == experiment and len(children) == 3
    env_client = MlflowClient(tracking_uri=tracking_uri)
    ids = [e.experiment_id for e in env_client.search_experiments()]
    assert not env_client.search_runs(ids, f"tags.`{TAG_CHILD_KEY}` LIKE '{fit_id}:%'")
    assert not list(folder.glob("*.json")) and len(list((folder / "replayed").glob("*"))) == 1


def test_replay_with_tracking_uri_uses_the_given_store_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--tracking-uri wins over the recorded URI, and the output names it as given."""
    recorded = _store(tmp_path / "recorded.db")
    given = _store(tmp_path / "given.db")
    folder = tmp_path / "spool"
    _, fit_id = _spool(folder, version=2, uri=recorded, experiment_name="moved")
    assert main(["replay", str(folder), "--tracking-uri", given]) == 0
    assert f"at {given} (given)" in capsys.readouterr().out
    parent, children = _tree(given, fit_id)
    assert len(children) == 3
    assert MlflowClient(tracking_uri=given).get_experiment(parent.info.experiment_id).name == (
        "moved"
    )


def test_replay_never_creates_a_recorded_store_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file recording a sqlite store that is gone is kept; the store is not created."""
    gone = tmp_path / "gone" / "mlflow.db"
    folder = tmp_path / "spool"
    path, _ = _spool(folder, version=2, uri=f"sqlite:///{gone}")
    assert main(["replay", str(folder)]) == 1
    out, err = capsys.readouterr()
    assert "does not exist" in err and str(gone) in err and out == ""
    assert path.exists() and not gone.parent.exists()


# --- which files -------------------------------------------------------------------------------


def test_replay_touches_only_spool_files_and_keeps_unknown_versions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Other JSON files are left alone and counted; a spool file of an unknown version is kept."""
    uri = _store(tmp_path / "mlflow.db")
    folder = tmp_path / "spool"
    good, fit_id = _spool(folder, version=2, uri=uri, experiment_name="good")
    future, _ = _spool(folder, version=99, uri=uri)
    others = {
        "package.json": json.dumps({"name": "web", "version": "1.0.0"}),
        "list.json": "[1, 2]",
        "broken.json": "{not json",
    }
    for name, text in others.items():
        (folder / name).write_text(text)
    assert main(["replay", str(folder)]) == 1  # the unknown version was kept
    out, err = capsys.readouterr()
    assert "left alone 3 file(s) that are not spool files" in err, err
    assert "version 99" in err and str(future) in err
    assert out.startswith("replayed "), out  # the results on stdout, what was not done on stderr
    for name, text in others.items():
        assert (folder / name).read_text() == text
    assert future.exists() and not good.exists()
    assert sorted(p.name for p in (folder / "replayed").iterdir()) == [good.name]
    _, children = _tree(uri, fit_id)
    assert len(children) == 3
    # the experiment count shows no empty run was made of package.json
    client = MlflowClient(tracking_uri=uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    assert len(client.search_runs(ids)) == 4


# --- which experiment --------------------------------------------------------------------------


def test_replay_creates_the_fits_experiment_by_name_when_the_parent_was_never_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file naming its experiment is replayed into it, created by name when missing."""
    uri = _store(tmp_path / "mlflow.db")
    client = MlflowClient(tracking_uri=uri)
    existing = client.create_experiment("already-there")
    folder = tmp_path / "spool"
    _, new_fit = _spool(folder, version=2, uri=uri, experiment_name="from-env-name")
    _, old_fit = _spool(
        folder, version=2, uri=uri, experiment_id="987654", experiment_name="already-there"
    )
    assert main(["replay", str(folder)]) == 0
    assert "experiment 'from-env-name' created" in capsys.readouterr().out
    created = client.get_experiment_by_name("from-env-name")
    assert created is not None
    assert _tree(uri, new_fit)[0].info.experiment_id == created.experiment_id
    assert _tree(uri, old_fit)[0].info.experiment_id == existing


def test_replay_reads_version_1_files_of_the_previous_release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A version 1 file (no experiment name, credentials as '***@') replays into its id."""
    uri = _store(tmp_path / "mlflow.db")
    experiment = MlflowClient(tracking_uri=uri).create_experiment("v1")
    folder = tmp_path / "spool"
    _, fit_id = _spool(folder, version=1, uri=uri, experiment_id=experiment)
    assert main(["replay", str(folder)]) == 0
    assert "recorded in the file" in capsys.readouterr().out
    parent, children = _tree(uri, fit_id)
    assert parent.info.experiment_id == experiment and len(children) == 3


def test_replay_completes_the_parent_the_fit_got_no_answer_for_and_deletes_its_copies(
    tmp_path: Path,
) -> None:
    """A file without a parent run whose fit's parent exists anyway (tagged for the fit: the
    create's answer was lost, and a retry made a copy) is replayed into the first of them, which
    ends FINISHED; the other, empty one is deleted; no parent is created."""
    uri = _store(tmp_path / "mlflow.db")
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("lost-answer")
    folder = tmp_path / "spool"
    _, fit_id = _spool(folder, version=2, uri=uri, experiment_id=experiment)
    name = "CrossValidator(LogisticRegression)"
    first, copy = (
        client.create_run(
            experiment, start_time=start, tags={TAG_CREATED_FOR: fit_id}, run_name=name
        )
        for start in (1000, 2000)
    )
    other_fit = client.create_run(experiment, tags={TAG_CREATED_FOR: uuid.uuid4().hex})
    assert main(["replay", str(folder)]) == 0
    parent, children = _tree(uri, fit_id)
    assert parent.info.run_id == first.info.run_id and parent.info.status == "FINISHED"
    assert parent.info.run_name == name and len(children) == 3
    assert parent.data.params["numFolds"] == "2"
    assert client.get_run(copy.info.run_id).info.lifecycle_stage == "deleted"
    assert client.get_run(other_fit.info.run_id).info.lifecycle_stage == "active"
    assert len(client.search_runs([experiment])) == 1 + 3 + 1


def test_replay_names_a_parent_it_creates_like_a_live_one(tmp_path: Path) -> None:
    """A parent replay has to create is named as the fit would have named it, tagged for the fit,
    and ended FINISHED."""
    uri = _store(tmp_path / "mlflow.db")
    experiment = MlflowClient(tracking_uri=uri).create_experiment("named")
    folder = tmp_path / "spool"
    path, fit_id = _spool(folder, version=2, uri=uri, experiment_id=experiment)
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "parent_run_name": "CrossValidator(LinearSVC)"}))
    assert main(["replay", str(folder)]) == 0
    parent, _ = _tree(uri, fit_id)
    assert parent.info.run_name == "CrossValidator(LinearSVC)"
    assert parent.data.tags[TAG_CREATED_FOR] == fit_id and parent.info.status == "FINISHED"


# --- a store that is down ----------------------------------------------------------------------


def test_replay_against_a_server_that_is_down_exits_1_at_once_and_keeps_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Replay probes the recorded server first: one line, exit 1, files kept, no retry wait."""
    uri = f"http://127.0.0.1:{free_port()}"
    folder = tmp_path / "spool"
    paths = [_spool(folder, version=2, uri=uri)[0] for _ in range(2)]
    started = time.monotonic()
    assert main(["replay", str(folder)]) == 1
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 1 and "not reachable" in lines[0] and "2 spool files" in lines[0], err
    assert out == ""
    assert all(p.exists() for p in paths)
    # Not a speed assert: without the probe this waited out mlflow's retries (minutes).
    assert elapsed < 60, elapsed


def _make_read_only(store: Path) -> None:
    """Make the sqlite database at ``store`` read-only for every user, root included: a write
    version above 2 in its header (byte 18) makes SQLite open it read-only."""
    with store.open("r+b") as file:
        file.seek(18)
        assert file.read(1) in (b"\x01", b"\x02")
        file.seek(18)
        file.write(b"\x03")


def test_replay_into_a_read_only_store_says_why_in_one_line_without_sql_and_keeps_the_file(
    tmp_path: Path,
) -> None:
    """A store that refuses writes: exit 1, one line naming the database's reason, no SQL, no
    parameters, no traceback (mlflow logs all three before it raises), the file kept."""
    store = tmp_path / "mlflow.db"
    uri = _store(store)
    folder = tmp_path / "spool"
    path, _ = _spool(folder, version=2, uri=uri, experiment_name="read-only")
    _make_read_only(store)
    # a process of its own: mlflow's log lines reach the real stderr there
    result = run_python("-m", "legacy_mllib_tracking", "replay", str(folder), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert (
        lines[0].startswith(f"kept     {path}: ")
        and "attempt to write a readonly database" in lines[0]
    ), lines[0]
    for noise in ("INSERT", "[SQL", "parameters", "Traceback", "autoflush", "RUNNING"):
        assert noise not in result.stderr, noise
    assert path.exists() and not (folder / "replayed").exists()


def test_a_folder_another_replay_holds_is_left_to_it_and_replayed_once_free(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two replays of one folder at once (two terminals, overlapping scheduled runs): while the
    other one holds the folder's lock, its files are kept and nothing of them is created here;
    once the lock is free they replay, every child once. The parent is created by replay and
    the file rewritten with its id meanwhile (the case a lock on the file itself would lose)."""
    import fcntl

    uri = _store(tmp_path / "mlflow.db")
    folder = tmp_path / "spool"
    path, fit_id = _spool(folder, version=2, uri=uri, experiment_name="locked")
    other_path, other_fit = _spool(folder, version=2, uri=uri, experiment_name="locked")
    capsys.readouterr()  # mlflow's lines about the new store
    descriptor = os.open(folder / ".replay.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the other replay
        assert main(["replay", str(folder)]) == 1
        assert main(["replay", str(path)]) == 1  # a file of that folder named on its own too
    finally:
        os.close(descriptor)
    out, err = capsys.readouterr()
    assert out == "", out
    lines = err.splitlines()
    assert lines[0].startswith("kept     2 spool files: another replay is replaying this folder")
    assert lines[1].startswith(f"kept     {path}: another replay is replaying this folder")
    assert len(lines) == 2, err
    assert path.exists() and other_path.exists()
    assert MlflowClient(tracking_uri=uri).get_experiment_by_name("locked") is None
    assert main(["replay", str(folder)]) == 0
    for fit in (fit_id, other_fit):
        _, children = _tree(uri, fit)
        assert sorted(c.data.params["regParam"] for c in children) == ["0", "1", "2"]
    assert sorted(p.name for p in folder.glob("*.json")) == []
    assert (folder / ".replay.lock").exists()  # kept for the next replay: never deleted


# --- credentials -------------------------------------------------------------------------------


@pytest.fixture
def server_experiment_id(mlflow_server: Any, tracking_uri: str) -> Any:
    """A fresh experiment on the real server; the tracking URI is set back afterwards."""
    experiment = MlflowClient(tracking_uri=mlflow_server.uri).create_experiment(
        f"auth-{uuid.uuid4().hex[:12]}"
    )
    yield experiment
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(tracking_uri)


def _ours(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, TrackingWarning)]


def test_credentials_in_the_uri_reach_an_authenticating_server(
    spark: Any,
    data: Any,
    mlflow_server: Any,
    server_experiment_id: str,
    spool_dir: Path,
) -> None:
    """user:password@ in the URI passes the probe and the fit is tracked, nothing spooled."""
    with AuthProxy(mlflow_server.uri, user=USER, password=PASSWORD) as proxy:
        mlflow.set_tracking_uri(f"http://{USER}:{PASSWORD}@127.0.0.1:{proxy.port}")
        mlflow.set_experiment(experiment_id=server_experiment_id)
        configure(spark, mode="legacy")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with mlflow.start_run() as run:
                tuner("cv").fit(data)
        assert _ours(caught) == []
        assert not spool_dir.exists() or not list(spool_dir.glob("*.json"))
        assert_contract(run.info.run_id, kind="cv", mode="legacy")


def test_refused_credentials_warn_as_refused_and_replay_with_env_credentials(
    spark: Any,
    data: Any,
    mlflow_server: Any,
    server_experiment_id: str,
    spool_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A 401 from /health is named as refused credentials, the layout spooled without the
    password; replay with MLFLOW_TRACKING_USERNAME/PASSWORD logs it through the same server."""
    with AuthProxy(mlflow_server.uri, user=USER, password=PASSWORD) as proxy:
        mlflow.set_tracking_uri(mlflow_server.uri)
        mlflow.set_experiment(experiment_id=server_experiment_id)
        mlflow.set_tracking_uri(f"http://{USER}:wrong-pw-123@127.0.0.1:{proxy.port}")
        configure(spark, mode="legacy")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tuner("cv").fit(data)
        ours = _ours(caught)
        assert len(ours) == 1 and "refused this process's credentials (HTTP 401" in ours[0], ours
        assert "wrong-pw-123" not in ours[0]
        files = list(spool_dir.glob("*.json"))
        assert len(files) == 1 and "wrong-pw-123" not in files[0].read_text()
        assert json.loads(files[0].read_text())["tracking_uri"] == proxy.uri
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", USER)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
        capsys.readouterr()
        assert main(["replay", str(spool_dir)]) == 0
        out = capsys.readouterr().out
        assert f"at {proxy.uri} (recorded in the file)" in out and PASSWORD not in out
    fit_id = json.loads(next((spool_dir / "replayed").glob("*.json")).read_text())["fit_id"]
    _, children = _tree(mlflow_server.uri, fit_id)
    assert len(children) == 4


def test_the_warnings_replay_command_runs_as_printed_into_the_fits_store_and_experiment(
    spark: Any,
    data: Any,
    mlflow_server: Any,
    tracking_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fit against a server that is down prints a command; run by a shell once the server is
    back, it logs the tree into that server (not the environment's store) and into the
    experiment the fit took from MLFLOW_EXPERIMENT_NAME."""
    from mlflow.tracking import fluent

    spool = tmp_path / "my spool's dir"
    monkeypatch.setenv("LEGACY_MLLIB_TRACKING_SPOOL_DIR", str(spool))
    name = f"env-named-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", name)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.setattr(fluent, "_active_experiment_id", None)  # as in a fresh process
    port = free_port()
    mlflow.set_tracking_uri(f"http://{USER}:{PASSWORD}@127.0.0.1:{port}")
    try:
        configure(spark, mode="legacy")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tuner("cv").fit(data)
    finally:
        mlflow.set_tracking_uri(tracking_uri)
    ours = _ours(caught)
    assert len(ours) == 1 and PASSWORD not in ours[0], ours
    match = re.search(r"run `([^`]+)`", ours[0])
    assert match, ours[0]
    command = match.group(1)
    assert command.startswith("legacy-mllib-tracking replay ")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_EXPERIMENT")},
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "MLFLOW_TRACKING_URI": tracking_uri,  # another store: replay must not use it
        "MLFLOW_TRACKING_USERNAME": USER,
        "MLFLOW_TRACKING_PASSWORD": PASSWORD,
    }
    with AuthProxy(mlflow_server.uri, user=USER, password=PASSWORD, port=port):
        result = subprocess.run(
            command,
            shell=True,
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"at http://127.0.0.1:{port} (recorded in the file)" in result.stdout
    assert f"experiment {name!r} created" in result.stdout
    record = json.loads(next((spool / "replayed").glob("*.json")).read_text())
    parent, children = _tree(mlflow_server.uri, record["fit_id"])
    experiment = MlflowClient(tracking_uri=mlflow_server.uri).get_experiment_by_name(name)
    assert experiment is not None and parent.info.experiment_id == experiment.experiment_id
    assert len(children) == 4


# --- the CLI's edges ---------------------------------------------------------------------------


@pytest.fixture
def small_tree(experiment: str) -> tuple[str, str]:
    """A parent run with one child run in the session's store, plus 100 long parent params so
    that ``tree --json`` prints far more than a pipe holds; return (parent id, child id)."""
    return _small_tree(experiment)


def _small_tree(experiment: str) -> tuple[str, str]:
    client = MlflowClient()
    parent = client.create_run(experiment).info.run_id
    from mlflow.entities import Param

    client.log_batch(parent, params=[Param(f"p{i}", "x" * 5000) for i in range(100)])
    child = client.create_run(
        experiment, tags={TAG_PARENT_RUN_ID: parent, TAG_CHILD_KEY: f"{uuid.uuid4().hex}:0"}
    ).info.run_id
    client.set_terminated(child)
    client.set_terminated(parent)
    return parent, child


def test_tree_and_diff_of_a_child_run_name_its_parent(
    small_tree: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """tree CHILD and diff PARENT CHILD exit 2 saying it is a child run and naming its parent."""
    parent, child = small_tree
    for argv in (["tree", child], ["diff", parent, child]):
        assert main(argv) == 2
        out, err = capsys.readouterr()
        assert out == ""
        lines = err.splitlines()
        assert len(lines) == 1, err
        assert f"run {child} is a child run (param map 0) of parent run {parent}" in lines[0]
    # diff PARENT CHILD: the hint is not "diff PARENT PARENT" (a tree compared with itself)
    assert "the other run given: diff compares the trees of two fits" in lines[0], lines[0]
    assert f"diff {parent} {parent}" not in lines[0]


def test_tree_into_a_closed_pipe_ends_quietly(
    small_tree: tuple[str, str], tracking_uri: str, tmp_path: Path
) -> None:
    """`tree ID --json | head -2` over a real pipe (far more than a pipe holds, so the reader
    leaves while tree still writes): no word on stderr, exit 0 as when every line is read."""
    parent, _ = small_tree
    writer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "legacy_mllib_tracking",
            "tree",
            parent,
            "--json",
            "--tracking-uri",
            tracking_uri,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert writer.stdout is not None and writer.stderr is not None
    reader = subprocess.Popen(["head", "-2"], stdin=writer.stdout, stdout=subprocess.PIPE)
    writer.stdout.close()  # head holds the only read end: when it exits, the pipe is closed
    head, _ = reader.communicate(timeout=120)
    err = writer.stderr.read().decode()
    writer.wait(timeout=120)
    assert len(head.splitlines()) == 2
    assert writer.returncode == 0, err
    assert err == ""


@pytest.mark.parametrize("command", ["tree", "diff"])
def test_the_child_run_hint_keeps_the_tracking_uri_and_runs_as_printed(
    command: str, small_tree: tuple[str, str], experiment: str, tracking_uri: str, tmp_path: Path
) -> None:
    """Given a child run and ``--tracking-uri``, the command the error prints names the parent,
    keeps every option the user gave, and runs as printed (elsewhere, with no MLFLOW_* set)."""
    parent, child = small_tree
    other, _ = _small_tree(experiment)  # diff compares two fits: a second one like the first
    words = {"tree": ["tree", child], "diff": ["diff", child, other, "--scope", "full"]}[command]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    argv = [sys.executable, "-m", "legacy_mllib_tracking", *words, "--tracking-uri", tracking_uri]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    hint = line.split(f"{command} needs the parent run: ", 1)[1]
    assert "--tracking-uri" in hint and child not in hint, hint
    again = subprocess.run(
        shlex.split(hint), capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
    )
    assert again.returncode == 0, again.stderr
    expected = f"parent run {parent}" if command == "tree" else "same layout (full scope)"
    assert again.stdout.startswith(expected), again.stdout
