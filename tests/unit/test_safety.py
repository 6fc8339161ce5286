"""Redaction, the reachability probe, deadlines and spool files (no Spark, no MLflow store)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from legacy_mllib_tracking._safety import (
    redact,
    run_with_deadline,
    store_unreachable,
    write_spool,
)

from .fresh import run_python


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        pytest.param("https://alice:t0ken-123@host/path", "t0ken-123", id="userinfo"),
        pytest.param("http://tok3n@10.0.0.1:5000", "tok3n", id="token-only"),
        pytest.param("https://h/api?token=abc123&x=1", "abc123", id="query-token"),
        pytest.param("error at https://u:pw-secret@h: 503", "pw-secret", id="in-a-message"),
    ],
)
def test_redact_hides_uri_credentials(text: str, secret: str) -> None:
    """Credentials in URIs and secret query values never survive redaction."""
    out = redact(text)
    assert secret not in out
    assert "***" in out


def test_redact_hides_secret_env_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """The value of MLFLOW_TRACKING_TOKEN is replaced wherever it appears."""
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "dapi-very-secret")
    assert redact("header Bearer dapi-very-secret failed") == "header Bearer *** failed"


def test_probe_ignores_non_http_and_reports_closed_ports() -> None:
    """A sqlite URI is never probed; a closed loopback port is reported as unreachable."""
    import socket

    assert store_unreachable("sqlite:///x.db", 0.5) is None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    why = store_unreachable(f"http://bob:pw123@127.0.0.1:{port}", 0.5)
    assert why is not None and "not reachable" in why and "pw123" not in why


def test_deadline_returns_false_and_cancels() -> None:
    """Work that outlives the deadline is abandoned: the caller gets False and cancel is set."""
    seen: list[bool] = []

    def slow(cancel: threading.Event) -> None:
        cancel.wait(5)
        seen.append(cancel.is_set())

    started = time.monotonic()
    assert run_with_deadline(slow, 0.05) is False
    assert time.monotonic() - started < 4
    for _ in range(100):
        if seen:
            break
        time.sleep(0.01)
    assert seen == [True]


def test_deadline_reraises_work_errors_and_none_waits() -> None:
    """An error inside the work reaches the caller; timeout None runs inline."""

    def boom(cancel: threading.Event) -> None:
        raise ValueError("bad value")

    with pytest.raises(ValueError, match="bad value"):
        run_with_deadline(boom, 5)
    ran: list[int] = []
    assert run_with_deadline(lambda cancel: ran.append(1), None) is True
    assert ran == [1]


def test_spool_file_is_json_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spool record is written atomically as JSON, with secrets redacted."""
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-abcdef")
    path = write_spool(
        {"fit_id": "f" * 32, "tracking_uri": "https://u:dapi-abcdef@h", "children": []},
        tmp_path,
    )
    text = path.read_text()
    assert "dapi-abcdef" not in text
    record = json.loads(text)
    assert record["version"] == 1 and record["fit_id"] == "f" * 32
    assert not list(tmp_path.glob("*.tmp"))


def test_redaction_patterns_are_compiled_on_first_use(tmp_path: Path) -> None:
    """Importing _safety compiles neither redaction pattern; the first redact() compiles both."""
    code = (
        "import re, sys\n"
        "compiled = []\n"
        "original = re.compile\n"
        "def spy(pattern, *args):\n"
        "    compiled.append(str(pattern))\n"
        "    return original(pattern, *args)\n"
        "re.compile = spy\n"
        "from legacy_mllib_tracking import _safety\n"
        "def redaction(): return [p for p in compiled if '://' in p or 'token' in p]\n"
        "print(len(redaction()))\n"
        "assert _safety.redact('https://u:p4ss@h/?token=s3cret') == 'https://***@h/?token=***'\n"
        "_safety.redact('again')\n"
        "print(len(redaction()))\n"
    )
    result = run_python("-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "2"]
