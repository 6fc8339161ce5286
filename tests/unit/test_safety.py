"""Redaction, the reachability probe and deadlines (no Spark, no MLflow store)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from legacy_mllib_tracking._safety import (
    error_text,
    recorded_uri,
    redact,
    run_with_deadline,
    store_missing,
    store_unreachable,
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
    """A sqlite URI is never probed; a closed loopback port is reported as unreachable, by the
    URI the user gave."""
    import socket

    assert store_unreachable("sqlite:///x.db", 0.5) is None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    why = store_unreachable(f"http://bob:pw123@127.0.0.1:{port}", 0.5)
    assert why is not None and "not reachable" in why and "pw123" not in why
    # it names the server the user gave, not the probe's URL
    assert why.startswith(f"http://127.0.0.1:{port} is not reachable (GET /health: "), why


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


@pytest.mark.parametrize(
    "timeout",
    [
        pytest.param(float("inf"), id="inf"),
        pytest.param(1e12, id="1e12"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(-5.0, id="negative"),
        pytest.param("30", id="a-string"),
    ],
)
def test_deadline_accepts_any_timeout_without_raising(timeout: object) -> None:
    """No timeout value makes the deadline code raise (OverflowError after the fit, before)."""
    ran = threading.Event()
    finished = run_with_deadline(lambda cancel: ran.set(), timeout)  # type: ignore[arg-type]
    assert ran.wait(5)
    assert finished in (True, False)


# (URI as the fit used it, as a spool file records it; None: the absolute form of a local path)
RECORDED = [
    pytest.param("http://alice:s3cret@127.0.0.1:5000", "http://127.0.0.1:5000", id="userinfo"),
    pytest.param("https://h/path", "https://h/path", id="https-unchanged"),
    pytest.param("http://***@127.0.0.1:5", "http://127.0.0.1:5", id="version-1-redacted"),
    pytest.param("databricks", "databricks", id="databricks"),
    pytest.param("sqlite:////abs/mlflow.db", "sqlite:////abs/mlflow.db", id="sqlite-absolute"),
    pytest.param(
        "sqlite:///file:/abs/m.db?mode=ro&uri=true",
        "sqlite:///file:/abs/m.db?mode=ro&uri=true",
        id="sqlite-uri-form",
    ),
    pytest.param("", "", id="empty"),
]


@pytest.mark.parametrize(("uri", "expected"), RECORDED)
def test_recorded_uri_has_no_credentials(uri: str, expected: str) -> None:
    """A spool file records the fit's URI without credentials (replay takes them from env)."""
    assert recorded_uri(uri) == expected


def test_recorded_uri_makes_local_paths_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative sqlite path or file store is recorded absolute, for replay from elsewhere."""
    monkeypatch.chdir(tmp_path)
    assert recorded_uri("sqlite:///mlflow.db") == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert recorded_uri("mlruns") == (tmp_path / "mlruns").as_uri()


def test_store_missing_names_a_missing_local_store_only(tmp_path: Path) -> None:
    """A missing sqlite file or file-store folder is named; existing and remote stores are not."""
    (tmp_path / "there.db").write_bytes(b"")
    assert store_missing(f"sqlite:///{tmp_path / 'there.db'}") is None
    assert store_missing(f"sqlite:///file:{tmp_path / 'there.db'}?mode=ro&uri=true") is None
    assert store_missing(tmp_path.as_uri()) is None
    assert store_missing("http://127.0.0.1:1") is None
    assert store_missing("databricks") is None
    for uri in (f"sqlite:///{tmp_path / 'typo' / 'x.db'}", (tmp_path / "nope").as_uri()):
        message = store_missing(uri)
        assert message is not None and "does not exist" in message and repr(uri) in message
    assert not (tmp_path / "typo").exists()


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


def test_store_missing_refuses_a_sqlite_uri_that_names_a_folder(tmp_path: Path) -> None:
    """sqlite:///<a folder> (a typo that dropped the file name) is refused at once, naming it."""
    why = store_missing(f"sqlite:///{tmp_path}")
    assert why is not None and "names a folder" in why and str(tmp_path) in why


def test_error_text_keeps_a_database_errors_reason_and_drops_its_sql_and_parameters() -> None:
    """A real SQLAlchemy error (what mlflow's sqlite store passes on): one line with the driver's
    reason; the statement, the values of its parameters and the link are gone; credentials too."""
    import sqlalchemy

    engine = sqlalchemy.create_engine("sqlite://")
    with pytest.raises(sqlalchemy.exc.OperationalError) as caught, engine.connect() as connection:
        connection.execute(
            sqlalchemy.text("INSERT INTO runs VALUES (:secret)"),
            {"secret": "run-data-value https://alice:pw@host/"},
        )
    assert "[SQL: INSERT" in str(caught.value) and "run-data-value" in str(caught.value)
    text = error_text(caught.value)
    assert text == "OperationalError: (sqlite3.OperationalError) no such table: runs", text
    assert error_text(caught.value, typed=False) == "(sqlite3.OperationalError) no such table: runs"


def test_error_text_is_one_redacted_line_cut_to_its_limit() -> None:
    error = ValueError("first line\n  second https://alice:pw@host/x  " + "z" * 500)
    text = error_text(error, limit=80)
    assert text.startswith("ValueError: first line second https://***@host/x z")
    assert len(text) == 80 and "\n" not in text and "pw" not in text
