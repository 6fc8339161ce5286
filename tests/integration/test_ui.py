"""`legacy-mllib-tracking ui`: a real MLflow UI on 127.0.0.1, stopped whole by a real Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .servers import free_port, stop_process_group


def _processes() -> dict[int, tuple[int, int, str]]:
    """Every live process: pid -> (parent pid, session id, state), from /proc."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # ended meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()
        found[int(entry)] = (int(fields[1]), int(fields[3]), fields[0])
    return found


def _descendants(pid: int) -> set[int]:
    table = _processes()
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, _, _) in table.items():
            if ppid == parent and child not in found:
                found.add(child)
                todo.append(child)
    return found


def _listening(port: int) -> list[str]:
    """The local addresses (hex ``ADDR:PORT``, as in /proc/net/tcp*) listening on ``port``."""
    addresses = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                addresses.append(local)
    return addresses


def test_ui_serves_on_loopback_and_ctrl_c_leaves_no_process(tmp_path: Path) -> None:
    """The UI answers on 127.0.0.1 only; a Ctrl-C (SIGINT to the terminal's foreground process
    group) ends the command with status 0 and leaves none of its processes behind."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri).create_experiment("ui-test")
    port = free_port()
    log = open(tmp_path / "ui.log", "wb")  # noqa: SIM115 - closed below
    # Its own session stands in for a terminal: Ctrl-C signals the whole foreground group.
    command = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "legacy_mllib_tracking",
            "ui",
            "--tracking-uri",
            uri,
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert command.poll() is None, (tmp_path / "ui.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, "the UI did not answer within 120 s"
                time.sleep(0.5)
        assert _listening(port) and all(
            address.startswith("0100007F:") for address in _listening(port)
        ), _listening(port)
        started = _descendants(command.pid)
        assert started, "the UI command started no server process"
        sessions = {_processes()[pid][1] for pid in started if pid in _processes()}

        os.killpg(command.pid, signal.SIGINT)
        assert command.wait(timeout=60) == 0
    finally:
        stop_process_group(command, grace=5)
        log.close()
    time.sleep(0.5)  # let the kernel reap what the command's children reaped
    left = {
        pid: info
        for pid, info in _processes().items()
        if (pid in started or info[1] in sessions) and info[2] != "Z"
    }
    assert left == {}, (tmp_path / "ui.log").read_text()[-2000:]
    assert _listening(port) == []
    assert "MLflow UI stopped" in (tmp_path / "ui.log").read_text()
