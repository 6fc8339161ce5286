"""Keeping tracking from breaking training: redaction, reachability and deadlines.

- :func:`redact` removes credentials (``user:token@`` in URIs, token-like env values) from any
  text the library shows or writes.
- :func:`store_unreachable` probes an HTTP tracking server's ``/health`` with a short timeout, so
  a fit against a dead server does not wait out mlflow's retries (minutes with mlflow 3.17's
  defaults: 7 retries, backoff factor 2, 120 s timeout).
- :func:`store_missing` says when a local store does not exist, for commands that must not
  create one; :func:`recorded_uri` is a tracking URI as a spool file records it.
- :func:`run_with_deadline` runs logging in a worker thread and stops waiting after a deadline;
  :func:`run_in_threads` shares work among threads and stops starting it once cancelled.

What could not be logged goes to the spool (``_spool``).
"""

from __future__ import annotations

import base64
import contextvars
import functools
import math
import os
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

__all__ = [
    "error_text",
    "local_store_path",
    "recorded_uri",
    "redact",
    "run_in_threads",
    "run_with_deadline",
    "store_missing",
    "store_unreachable",
]

_Item = TypeVar("_Item")

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


@functools.cache
def _sql_noise() -> re.Pattern[str]:
    return re.compile(
        r"\(raised as a result of [^)]*\)"  # SQLAlchemy's note on autoflush, before the cause
        r"|\[SQL: .*"  # the statement, its parameters and the link, to the end
        r"|\(Background on this error at: [^)]*\)",
        re.S,
    )


def error_text(error: BaseException, limit: int = 300, *, typed: bool = True) -> str:
    """Return ``Type: message`` of ``error`` (``message`` alone unless ``typed``) on one line,
    redacted and cut to ``limit``.

    A database error keeps the driver's reason (``(sqlite3.OperationalError) attempt to write a
    readonly database``) and drops what SQLAlchemy adds around it (mlflow passes its text on): the
    autoflush note, the SQL statement and the values of its parameters, which are run data.
    """
    text = " ".join(_sql_noise().sub(" ", str(error)).split())
    return redact(f"{type(error).__name__}: {text}" if typed else text)[:limit]


def _without_userinfo(uri: str) -> tuple[str, str | None, str | None]:
    """Return ``uri`` without ``user:password@`` and the user and password it held."""
    parts = urllib.parse.urlsplit(uri)
    if "@" not in parts.netloc:
        return uri, None, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, sep, password = userinfo.partition(":")
    clean = urllib.parse.urlunsplit(parts._replace(netloc=host))
    return (
        clean,
        urllib.parse.unquote(user),
        urllib.parse.unquote(password) if sep else None,
    )


def _auth_header(user: str | None, password: str | None) -> str | None:
    """The ``Authorization`` header mlflow would send: basic auth from the URI, else from env
    ``MLFLOW_TRACKING_USERNAME``/``PASSWORD``, else a bearer ``MLFLOW_TRACKING_TOKEN``
    (``mlflow.utils.rest_utils``, mlflow 2.x and 3.x)."""
    if user is None:
        user = os.environ.get("MLFLOW_TRACKING_USERNAME") or None
        password = os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user is not None:
        pair = f"{user}:{password or ''}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    return f"Bearer {token}" if token else None


def store_unreachable(uri: str, timeout: float) -> str | None:
    """Return why an HTTP tracking server cannot be used, or ``None`` (also for non-HTTP).

    The ``/health`` probe authenticates as mlflow does (:func:`_auth_header`); a server that
    answers 401 or 403 is there but refuses these credentials, and the reason says so.
    """
    if not uri.lower().startswith(("http://", "https://")):
        return None
    base, user, password = _without_userinfo(uri)
    url = base.rstrip("/") + "/health"
    request = urllib.request.Request(url)
    header = _auth_header(user, password)
    if header is not None:
        request.add_header("Authorization", header)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if response.status >= 500:
                return f"{redact(base)} answered HTTP {response.status} (GET /health)"
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            return (
                f"at {redact(base)} refused this process's credentials (HTTP {error.code} from "
                "/health): set them in the tracking URI, in MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD, or in MLFLOW_TRACKING_TOKEN"
            )
        if error.code >= 500:
            return f"{redact(base)} answered HTTP {error.code} (GET /health)"
        return None  # e.g. 404 from a proxy: the server is there; let mlflow handle it
    except (OSError, ValueError) as error:
        why = f"{type(error).__name__}: {redact(str(error))}"
        return f"{redact(base)} is not reachable (GET /health: {why})"
    return None


def recorded_uri(uri: str) -> str:
    """Return ``uri`` as a spool file records it: without credentials, local paths absolute.

    So that ``replay`` run from another directory, or by another shell that holds the
    credentials in ``MLFLOW_TRACKING_USERNAME``/``PASSWORD``, reaches the same store.
    """
    lowered = uri.lower()
    if not uri:
        return uri
    if lowered.startswith(("http://", "https://")):
        return _without_userinfo(uri)[0]
    if lowered.startswith("sqlite:///"):
        path = uri[len("sqlite:///") :]
        if path and not path.startswith(("/", "file:")) and path != ":memory:":
            return "sqlite:///" + os.path.abspath(path)
        return uri
    if local_store_path(uri) is not None and "://" not in uri:  # a plain path: a file store
        return Path(uri).resolve().as_uri()
    return uri


def local_store_path(uri: str) -> Path | None:
    """The file (sqlite) or folder (file store) a local tracking URI names, else ``None``."""
    parts = urllib.parse.urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme.startswith("sqlite"):
        path = uri.split(":///", 1)[1] if ":///" in uri else ""
        path = path.split("?", 1)[0]
        if path.startswith("file:"):  # SQLite's own URI form: sqlite:///file:/x.db?mode=ro&uri=true
            path = path[len("file:") :]
        return None if not path or path == ":memory:" else Path(path)
    if scheme == "file":
        return Path(urllib.request.url2pathname(parts.path))
    if uri.lower().startswith("databricks"):  # "databricks", "databricks://profile", -uc
        return None
    if scheme == "" or (len(scheme) == 1 and os.name == "nt"):  # a plain path: a file store
        return Path(uri)
    return None


def store_missing(uri: str) -> str | None:
    """Return why a local tracking store does not exist (a missing sqlite file or file-store
    folder), or ``None``: for commands that only read or complete a store and must not create
    one (mlflow creates both on first use)."""
    path = local_store_path(uri)
    if path is None:
        return None
    sqlite = uri.lower().startswith("sqlite")
    if sqlite and path.is_dir():  # a typo that dropped the file name: sqlite would retry ~100 s
        return (
            f"tracking store {redact(uri)!r} names a folder, not a sqlite file "
            f"({str(path)!r}); pass the store's URI, e.g. sqlite:///{path / 'mlflow.db'}"
        )
    if path.exists():
        return None
    kind = "sqlite file" if sqlite else "file store folder"
    return (
        f"tracking store {redact(uri)!r} does not exist (no {kind} {str(path)!r}); not creating one"
    )


def run_with_deadline(
    work: Callable[[threading.Event], None],
    timeout: float | None,
    name: str = "legacy-mllib-tracking-log",
) -> bool:
    """Run ``work(cancel)`` in a worker thread named ``name``; return ``True`` if it finished
    within ``timeout``.

    On a timeout ``cancel`` is set so that ``work`` stops between calls; the call in flight is
    left to finish or fail in the background (a daemon thread: it never holds the process open).
    """
    cancel = threading.Event()
    timeout = _bounded(timeout)
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

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        cancel.set()
        return False
    done.result()
    return True


def _bounded(timeout: object) -> float | None:
    """Return a timeout ``Thread.join`` accepts: ``None`` (no deadline) for ``None``, a
    non-number, NaN or infinity; values above ``threading.TIMEOUT_MAX`` are capped and negative
    ones count as 0, so that no value can raise (``OverflowError``) after the fit."""
    if timeout is None or isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        return None
    value = float(timeout)
    if not math.isfinite(value):
        return None
    return min(max(value, 0.0), threading.TIMEOUT_MAX)


def run_in_threads(
    items: Sequence[_Item],
    threads: int,
    one: Callable[[_Item], None],
    cancel: threading.Event | None,
) -> None:
    """Call ``one`` on each of ``items`` from ``threads`` threads (this one among them).

    No item starts once ``cancel`` is set or this thread is interrupted; items in flight finish.
    The extra threads are daemons, each in a copy of this thread's context variables: a call left
    in flight by a cancel never holds the process open.
    """
    todo = iter(items)
    take = threading.Lock()
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set() and not (cancel is not None and cancel.is_set()):
            with take:
                item = next(todo, None)
            if item is None:
                return
            one(item)

    helpers: list[threading.Thread] = []
    try:
        for number in range(1, threads):
            helper = threading.Thread(
                target=contextvars.copy_context().run,
                args=(work,),
                name=f"legacy-mllib-tracking-child-{number}",
                daemon=True,
            )
            try:
                helper.start()
            except RuntimeError:  # at the process's thread limit: fewer threads do the work
                break
            helpers.append(helper)
        work()
        for helper in helpers:
            helper.join()
    finally:
        stop.set()
