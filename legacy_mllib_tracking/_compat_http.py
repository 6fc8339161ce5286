"""A dying server: one time budget for a fit's HTTP tracking calls.

autolog and ``MlflowClient`` (mlflow 2.17 and 3.17) make their tracking calls through
``mlflow.utils.rest_utils``'s ``http_request``, which retries each call for minutes by default.
Every tuning fit gets ``tracking_timeout`` seconds for them (:func:`http_budget`): in AUTOLOG
mode an :class:`HttpBudget` for autolog's calls, in LEGACY mode a :class:`Deadline` for the
library's own logging, so that no call of a fit outlives its deadline. :func:`install_http_budget`
routes mlflow's calls through it, passing bounded retry and timeout arguments per call (never
through the process-wide environment).
Internals of mlflow, version-guarded with plain fallbacks, like the rest of ``_compat``.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from legacy_mllib_tracking._patching import PatchSet
from legacy_mllib_tracking._safety import error_text

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = [
    "Deadline",
    "HttpBudget",
    "TrackingStopped",
    "current_http_budget",
    "http_budget",
    "install_http_budget",
]

_logger = logging.getLogger(__name__)

#: mlflow's HTTP retry settings when their env values cannot be read (mlflow 3.17's defaults).
_HTTP_DEFAULTS = {"retries": 7, "backoff": 2.0, "jitter": 1.0, "timeout": 120.0}
#: urllib3's cap on one backoff sleep (``Retry.DEFAULT_BACKOFF_MAX``, urllib3 1.26 to 2.x).
_BACKOFF_MAX = 120.0


def _start_call(
    original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Future[Any], threading.Thread]:
    """Start ``original(*args, **kwargs)`` in a daemon thread, in a copy of this thread's
    context; its result or error (re-raised by the waiting thread) lands in the future."""
    from concurrent.futures import Future  # not at import time: only fits against a server

    done: Future[Any] = Future()

    def target() -> None:
        try:
            done.set_result(original(*args, **kwargs))
        except BaseException as error:
            done.set_exception(error)

    worker = threading.Thread(
        target=contextvars.copy_context().run,
        args=(target,),
        name="legacy-mllib-tracking-http",
        daemon=True,
    )
    worker.start()
    return done, worker


class TrackingStopped(Exception):
    """A tracking call refused: the fit's :class:`HttpBudget` ran out or a call failed, or the
    call ran out of the fit's :class:`Deadline`."""


class HttpBudget:
    """The seconds one fit's HTTP tracking calls may wait in all, and whether they stopped.

    Time counts while at least one call of the fit is in flight (calls from several threads at
    once count once), so a fit that trains for an hour against a healthy server spends almost
    nothing of it. The first call that is still waiting when the budget runs out, or that fails
    (mlflow gave up retrying), *stops* the fit's tracking: every later call of the fit raises
    :class:`TrackingStopped` at once, without touching the network. AUTOLOG mode's budget;
    LEGACY mode's is :class:`Deadline`.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.stopped: str | None = None
        self._spent = 0.0
        self._in_flight = 0
        self._since = 0.0
        self._lock = threading.Lock()

    def remaining(self) -> float:
        """Return the seconds left (never below 0)."""
        with self._lock:
            spent = self._spent + (time.monotonic() - self._since if self._in_flight else 0.0)
        return max(0.0, self.seconds - spent)

    def stop(self, why: str) -> None:
        """Stop the fit's tracking calls; the first reason given is kept."""
        with self._lock:
            if self.stopped is None:
                self.stopped = why

    def _enter(self) -> None:
        with self._lock:
            if self._in_flight == 0:
                self._since = time.monotonic()
            self._in_flight += 1

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._spent += time.monotonic() - self._since

    def call(
        self, original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Make one mlflow HTTP call within the budget (see :func:`install_http_budget`)."""
        if self.stopped is not None:
            raise TrackingStopped(f"tracking stopped for this fit: {self.stopped}")
        left = self.remaining()
        if left <= 0:
            self.stop(f"its tracking calls used up tracking_timeout ({self.seconds:g} s)")
            raise TrackingStopped(f"tracking stopped for this fit: {self.stopped}")
        kwargs = {**kwargs, **_retry_settings_within(left, kwargs)}
        # the call runs in its own daemon thread so the fit waits no longer than the budget; a
        # call still in flight then ends by itself (its timeout and retries were cut to ``left``)
        self._enter()
        try:
            done, worker = _start_call(original, args, kwargs)
            worker.join(left)
        finally:
            self._leave()
        if not done.done():
            self.stop(
                f"the tracking server did not answer within tracking_timeout ({self.seconds:g} s)"
            )
            raise TrackingStopped(f"tracking stopped for this fit: {self.stopped}")
        try:
            return done.result()
        except Exception as error:
            self.stop(f"a tracking call failed ({error_text(error)})")
            raise


class Deadline(HttpBudget):
    """LEGACY mode's budget: a wall-clock deadline for the library's own logging of one fit.

    Until the deadline a call is retried as mlflow retries it, one attempt at a time with
    mlflow's retries off: the same number of retries and backoff (from the same settings and
    environment variables), on the same failures (a dropped or refused connection, a timeout, a
    status in mlflow's retry codes, honouring ``Retry-After`` as mlflow does); other errors, and
    a call that failed as often as mlflow would retry it, raise at once and stop nothing (one
    child's failed write does not stop the others). Each attempt's timeout is cut to what is
    left (``requests`` applies it to the connect and to each read), and no attempt starts after
    the deadline. A call whose next retry would come after the deadline, or that is still
    waiting at it, raises :class:`TrackingStopped` and sets :attr:`ran_out`; from the deadline
    on every call does. Calls through the Databricks SDK (``databricks`` URIs) are made once,
    with mlflow's retries cut to what is left; the SDK's own retries are not bounded.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self._ends = time.monotonic() + seconds
        #: Whether a call ran out of time (the fit then says it did not finish in time).
        self.ran_out = False

    def remaining(self) -> float:
        return max(0.0, self._ends - time.monotonic())

    def _out_of_time(self) -> TrackingStopped:
        self.ran_out = True
        why = f"the tracking server did not answer within tracking_timeout ({self.seconds:g} s)"
        if self.remaining() <= 0:
            self.stop(why)
        return TrackingStopped(f"tracking stopped for this call: {why}")

    def _attempt(
        self, original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """One attempt in a daemon thread, waited for until the deadline."""
        done, worker = _start_call(original, args, kwargs)
        worker.join(self.remaining())
        if not done.done():
            raise self._out_of_time()
        return done.result()

    def call(
        self, original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Make one mlflow HTTP call, retried as mlflow would, within the deadline."""
        if self.stopped is not None:
            raise TrackingStopped(f"tracking stopped for this fit: {self.stopped}")
        if self.remaining() <= 0:
            raise self._out_of_time()
        creds = args[0] if args else kwargs.get("host_creds")
        if getattr(creds, "use_databricks_sdk", False):
            bounded = {**kwargs, **_retry_settings_within(self.remaining(), kwargs)}
            return self._attempt(original, args, bounded)
        settings = _RetrySettings(kwargs)
        attempt_kwargs = {**kwargs, "max_retries": 0, "raise_on_status": False}
        errors = 0
        while True:
            left = self.remaining()
            if left <= 0:
                raise self._out_of_time()
            attempt_kwargs["timeout"] = max(1, min(settings.timeout, math.ceil(left)))
            retry_after = None
            try:
                response = self._attempt(original, args, attempt_kwargs)
            except TrackingStopped:
                raise
            except Exception as error:
                if not _transient(error):
                    raise
                errors += 1
                if errors > settings.retries:
                    raise  # mlflow would have given up too: a failure of its own
            else:
                status = getattr(response, "status_code", None)
                if status not in settings.codes:
                    return response
                errors += 1
                if errors > settings.retries:
                    if settings.raise_on_status:
                        raise _status_error(response, settings.retries)
                    return response
                if settings.retry_after and status in (413, 429, 503):
                    retry_after = _retry_after(response)
            pause = retry_after if retry_after is not None else settings.backoff(errors)
            if pause >= self.remaining():
                raise self._out_of_time()
            time.sleep(pause)


class _RetrySettings:
    """mlflow's retry settings for one ``http_request`` call: its arguments, else the env."""

    def __init__(self, kwargs: Mapping[str, Any]) -> None:
        retries = kwargs.get("max_retries")
        if retries is None:
            retries = _http_setting("MLFLOW_HTTP_REQUEST_MAX_RETRIES", _HTTP_DEFAULTS["retries"])
        self.retries = int(retries)
        factor = kwargs.get("backoff_factor")
        if factor is None:
            factor = _http_setting("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", _HTTP_DEFAULTS["backoff"])
        self.factor = float(factor)
        jitter = kwargs.get("backoff_jitter")
        if jitter is None:
            jitter = _http_setting("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", _HTTP_DEFAULTS["jitter"])
        self.jitter = float(jitter)
        timeout = kwargs.get("timeout")
        if timeout is None:
            timeout = _http_setting("MLFLOW_HTTP_REQUEST_TIMEOUT", _HTTP_DEFAULTS["timeout"])
        self.timeout = float(timeout)
        codes = kwargs.get("retry_codes")
        self.codes = frozenset(codes) if codes is not None else _retry_codes()
        self.raise_on_status = bool(kwargs.get("raise_on_status", True))
        after = kwargs.get("respect_retry_after_header")
        if after is None:
            after = _http_setting("MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER", 1.0)
        self.retry_after = bool(after)

    def backoff(self, errors: int) -> float:
        """urllib3's backoff after ``errors`` failures: none before the first retry, then
        ``factor * 2^(errors - 1)`` plus up to ``jitter``, at most 120 s."""
        import random

        if errors <= 1:
            return 0.0
        pause = self.factor * 2 ** (errors - 1) + random.random() * self.jitter
        return float(min(pause, _BACKOFF_MAX))


def _retry_codes() -> frozenset[int]:
    try:
        from mlflow.utils.request_utils import _TRANSIENT_FAILURE_RESPONSE_CODES

        return frozenset(_TRANSIENT_FAILURE_RESPONSE_CODES)
    except ImportError:  # moved in a future mlflow: its codes of 2.17 and 3.17
        return frozenset({408, 429, 500, 502, 503, 504})


def _transient(error: BaseException) -> bool:
    """Whether mlflow would retry the failure ``error`` of one attempt: a refused or dropped
    connection, or a timeout (``http_request`` wraps them in an ``MlflowException``)."""
    import requests

    cause = error.__cause__ or error.__context__
    return isinstance(
        cause, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)
    ) and not isinstance(cause, requests.exceptions.InvalidURL)


def _retry_after(response: Any) -> float | None:
    """The seconds of a ``Retry-After`` header given in seconds, else ``None``."""
    value: Any = getattr(response, "headers", {}).get("Retry-After")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _status_error(response: Any, retries: int) -> Exception:
    """The error mlflow raises when a status in its retry codes outlasted its retries."""
    from mlflow.exceptions import MlflowException

    return MlflowException(
        f"API request to {getattr(response, 'url', '')} failed with exception "
        f"{retries} retries ended with HTTP {getattr(response, 'status_code', '?')} "
        "(too many error responses)"
    )


def _http_setting(name: str, default: float) -> float:
    try:
        from mlflow import environment_variables

        value = getattr(environment_variables, name).get()
        return float(value) if value is not None else default
    except Exception:  # moved in a future mlflow, or not a number
        return default


def _retry_settings_within(seconds: float, given: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``http_request`` retry and timeout arguments that end a call within ``seconds``.

    ``http_request(max_retries=None, backoff_factor=None, timeout=None)`` (mlflow 2.17 and 3.17)
    reads ``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, ``_BACKOFF_FACTOR`` and ``_TIMEOUT`` per call when
    they are not given; process-wide env would change other threads' calls too, so the bounded
    values are passed as arguments of this one call instead. Retries are kept while their backoff
    sleeps (factor * 2^n, plus jitter) fit in ``seconds``; the timeout is cut to ``seconds``.
    Values the caller passed are kept, except a longer timeout.
    """
    out: dict[str, Any] = {}
    factor = given.get("backoff_factor")
    if factor is None:
        factor = _http_setting("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", _HTTP_DEFAULTS["backoff"])
    if given.get("max_retries") is None:
        wanted = int(_http_setting("MLFLOW_HTTP_REQUEST_MAX_RETRIES", _HTTP_DEFAULTS["retries"]))
        jitter = _http_setting("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", _HTTP_DEFAULTS["jitter"])
        retries, slept = 0, 0.0
        while retries < wanted:
            slept += min(float(factor) * 2**retries, _BACKOFF_MAX) + jitter
            if slept > seconds:
                break
            retries += 1
        out["max_retries"] = retries
    timeout = given.get("timeout")
    if timeout is None:
        timeout = _http_setting("MLFLOW_HTTP_REQUEST_TIMEOUT", _HTTP_DEFAULTS["timeout"])
    out["timeout"] = max(1, min(float(timeout), math.ceil(seconds)))
    return out


_http_budget: contextvars.ContextVar[HttpBudget | None] = contextvars.ContextVar(
    "legacy_mllib_tracking_http_budget", default=None
)


def current_http_budget() -> HttpBudget | None:
    """Return the budget of the fit this thread logs for (threads started with a copy of its
    context share it), or ``None``."""
    return _http_budget.get()


@contextlib.contextmanager
def http_budget(seconds: float | None, *, deadline: bool = False) -> Iterator[HttpBudget | None]:
    """Give mlflow's HTTP calls made in this context (and in copies of it) ``seconds`` in all
    (an :class:`HttpBudget`), or, with ``deadline``, until ``seconds`` from now (a
    :class:`Deadline`); ``None``: no budget, calls wait as mlflow's own retry settings say."""
    if seconds is None:
        yield None
        return
    budget = Deadline(seconds) if deadline else HttpBudget(seconds)
    token = _http_budget.set(budget)
    try:
        yield budget
    finally:
        _http_budget.reset(token)


def install_http_budget(patches: PatchSet) -> None:
    """Route mlflow's HTTP calls through the :func:`http_budget` of the fit that makes them.

    Patched: ``mlflow.utils.rest_utils.http_request``, which every REST tracking-store call goes
    through (``call_endpoint`` looks it up in that module; mlflow 2.17 and 3.17), and the name
    ``http_request`` that ``mlflow.store.artifact.http_artifact_repo`` imported from there (the
    server's proxied artifacts, ``mlflow-artifacts:``). Outside a budget the patch passes the call
    through unchanged. Writes that go straight to a cloud artifact store are not covered.
    """

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def http_request(*args: Any, **kwargs: Any) -> Any:
            budget = _http_budget.get()
            if budget is None:
                return original(*args, **kwargs)
            return budget.call(original, args, kwargs)

        return http_request

    for module_name in ("mlflow.utils.rest_utils", "mlflow.store.artifact.http_artifact_repo"):
        try:
            module: Any = importlib.import_module(module_name)
        except ImportError:  # pragma: no cover - moved in a future mlflow
            _logger.debug("%s is gone: its HTTP calls are not bounded per fit", module_name)
            continue
        if callable(getattr(module, "http_request", None)):
            patches.patch(module, "http_request", make)
