"""Keeping tracking from breaking training: redaction, reachability, deadlines and the spool.

- :func:`redact` removes credentials (``user:token@`` in URIs, token-like env values) from any
  text the library shows or writes.
- :func:`store_unreachable` probes an HTTP tracking server's ``/health`` with a short timeout, so
  a fit against a dead server does not wait out mlflow's retries (minutes with mlflow 3.17's
  defaults: 7 retries, backoff factor 2, 120 s timeout).
- :func:`run_with_deadline` runs logging in a worker thread and stops waiting after a deadline.
- :func:`write_spool` keeps what could not be logged in a JSON file, one per fit, that
  ``legacy-mllib-tracking replay`` logs later.
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

__all__ = [
    "ENV_SPOOL_DIR",
    "SPOOL_VERSION",
    "default_spool_dir",
    "redact",
    "run_with_deadline",
    "store_unreachable",
    "write_spool",
]

#: Where spool files go; default ``~/.cache/legacy-mllib-tracking/spool``.
ENV_SPOOL_DIR = "LEGACY_MLLIB_TRACKING_SPOOL_DIR"
SPOOL_VERSION = 1

_SECRET_ENV = (
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_CLIENT_CERT_PATH",
    "DATABRICKS_TOKEN",
    "DATABRICKS_CLIENT_SECRET",
    "AWS_SECRET_ACCESS_KEY",
    "AZURE_STORAGE_ACCESS_KEY",
)


@functools.cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Return the patterns of URI userinfo and of secret query values, compiled on first use.

    Compiled at import they were most of the time ``configure()`` spent importing this module
    (30 of the 53 ms a profiled first ``configure()`` spent importing ``_tracker``; BENCHMARKS.md).
    """
    userinfo = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
    query_secret = re.compile(r"(?i)((?:token|password|secret|key|sig)=)[^&\s'\"]+")
    return userinfo, query_secret


def redact(text: str) -> str:
    """Return ``text`` with URI credentials, secret query values and secret env values hidden."""
    userinfo, query_secret = _patterns()
    text = userinfo.sub(r"\g<scheme>***@", text)
    text = query_secret.sub(r"\1***", text)
    for name in _SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text


def store_unreachable(uri: str, timeout: float) -> str | None:
    """Return why an HTTP tracking server cannot be reached, or ``None`` (also for non-HTTP)."""
    if not uri.lower().startswith(("http://", "https://")):
        return None
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            if response.status >= 500:
                return f"{redact(url)} answered HTTP {response.status}"
    except urllib.error.HTTPError as error:
        if error.code >= 500:
            return f"{redact(url)} answered HTTP {error.code}"
        return None  # e.g. 401/404 from a proxy: the server is there; let mlflow handle it
    except (OSError, ValueError) as error:
        return f"{redact(url)} is not reachable ({type(error).__name__}: {redact(str(error))})"
    return None


def run_with_deadline(work: Callable[[threading.Event], None], timeout: float | None) -> bool:
    """Run ``work(cancel)`` in a worker thread; return ``True`` if it finished within ``timeout``.

    On a timeout ``cancel`` is set so that ``work`` stops between calls; the call in flight is
    left to finish or fail in the background (a daemon thread: it never holds the process open).
    """
    cancel = threading.Event()
    if timeout is None:
        work(cancel)
        return True
    done: Future[None] = Future()

    def target() -> None:
        try:
            work(cancel)
        except BaseException as error:  # re-raised in the caller's thread
            done.set_exception(error)
        else:
            done.set_result(None)

    thread = threading.Thread(target=target, name="legacy-mllib-tracking-log", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        cancel.set()
        return False
    done.result()
    return True


def default_spool_dir() -> Path:
    """Return the spool directory: env ``LEGACY_MLLIB_TRACKING_SPOOL_DIR`` or the user cache."""
    configured = os.environ.get(ENV_SPOOL_DIR)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "legacy-mllib-tracking" / "spool"


def write_spool(record: dict[str, Any], directory: Path | None = None) -> Path:
    """Write one fit's unlogged layout as JSON; return the file's path (created atomically)."""
    folder = directory or default_spool_dir()
    folder.mkdir(parents=True, exist_ok=True)
    record = {"version": SPOOL_VERSION, "written_at": time.time(), **record}
    name = f"{time.strftime('%Y%m%dT%H%M%S')}-{record['fit_id']}.json"
    path = folder / name
    temp = path.with_suffix(".tmp")
    temp.write_text(redact(json.dumps(record, indent=2, sort_keys=True, default=str)))
    os.replace(temp, path)
    return path
