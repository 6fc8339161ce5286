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
from typing import Any

from legacy_mllib_tracking._patching import PatchSet

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


class TrackingStopped(Exception):
    """A tracking call refused because the fit's :class:`HttpBudget` ran out or a call failed."""


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
        from concurrent.futures import Future

        if self.stopped is not None:
            raise TrackingStopped(f"tracking stopped for this fit: {self.stopped}")
        left = self.remaining()
        if left <= 0:
            self.stop(f"its tracking calls used up tracking_timeout ({self.seconds:g} s)")
            raise TrackingStopped(f"tracking stopped for this fit: {self.stopped}")
        kwargs = {**kwargs, **_retry_settings_within(left, kwargs)}
        done: Future[Any] = Future()

        def target() -> None:
            try:
                done.set_result(original(*args, **kwargs))
            except BaseException as error:  # re-raised in the fit's thread
                done.set_exception(error)

        # the call runs in its own daemon thread so the fit waits no longer than the budget; a
        # call still in flight then ends by itself (its timeout and retries were cut to ``left``)
        worker = threading.Thread(
            target=contextvars.copy_context().run,
            args=(target,),
            name="legacy-mllib-tracking-http",
            daemon=True,
        )
        self._enter()
        try:
            worker.start()
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
            text = " ".join(str(error).split())
            self.stop(f"a tracking call failed ({type(error).__name__}: {text[:300]})")
            raise


class Deadline(HttpBudget):
    """LEGACY mode's budget: a wall-clock deadline for the library's own logging of one fit.

    Until the deadline a call is retried as mlflow retries it (its number of retries and
    backoff, from the same settings), one attempt at a time with mlflow's retries off, each
    attempt's timeout cut to what is left; a call that fails after all of them raises mlflow's
    error and stops nothing (one child's failed write does not stop the others). No attempt
    starts after the deadline and none outlasts it by more than a second, so nothing of the fit
    reaches the server later, when it is back and ``replay`` may be running. The first call that
    runs out of time stops the fit's logging: it and every later call raise
    :class:`TrackingStopped`.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self._ends = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self._ends - time.monotonic())

    def _out_of_time(self) -> TrackingStopped:
        self.stop(
            f"the tracking server did not answer within tracking_timeout ({self.seconds:g} s)"
        )
        return TrackingStopped(f"tracking stopped for this fit: {self.stopped}")

    def call(
        self, original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Make one mlflow HTTP call, retried as mlflow would, within the deadline."""
        import random
        from concurrent.futures import Future

        retries = kwargs.get("max_retries")
        if retries is None:
            retries = int(
                _http_setting("MLFLOW_HTTP_REQUEST_MAX_RETRIES", _HTTP_DEFAULTS["retries"])
            )
        factor = kwargs.get("backoff_factor")
        if factor is None:
            factor = _http_setting("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", _HTTP_DEFAULTS["backoff"])
        jitter = kwargs.get("backoff_jitter")
        if jitter is None:
            jitter = _http_setting("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", _HTTP_DEFAULTS["jitter"])
        timeout = kwargs.get("timeout")
        if timeout is None:
            timeout = _http_setting("MLFLOW_HTTP_REQUEST_TIMEOUT", _HTTP_DEFAULTS["timeout"])
        errors = 0
        while True:
            if self.stopped is not None:
                raise TrackingStopped(f"tracking stopped for this fit: {self.stopped}")
            left = self.remaining()
            if left <= 0:
                raise self._out_of_time()
            attempt = {
                **kwargs,
                "max_retries": 0,
                "timeout": max(1, min(float(timeout), math.ceil(left))),
            }
            done: Future[Any] = Future()

            def target(attempt: dict[str, Any] = attempt, done: Future[Any] = done) -> None:
                try:
                    done.set_result(original(*args, **attempt))
                except BaseException as failure:  # re-raised in the caller's thread
                    done.set_exception(failure)

            worker = threading.Thread(
                target=contextvars.copy_context().run,
                args=(target,),
                name="legacy-mllib-tracking-http",
                daemon=True,
            )
            worker.start()
            worker.join(left)
            if not done.done():
                raise self._out_of_time()
            error = done.exception()
            if error is None:
                return done.result()
            if not isinstance(error, Exception):
                raise error
            errors += 1
            if errors > retries:
                raise error  # mlflow would have given up too: a failure of its own
            # urllib3's backoff: none before the first retry, then factor * 2^(n-1), plus jitter
            pause = 0.0 if errors <= 1 else min(float(factor) * 2 ** (errors - 1), _BACKOFF_MAX)
            pause += random.uniform(0, float(jitter)) if jitter else 0.0
            if pause >= self.remaining():
                raise self._out_of_time() from error
            time.sleep(pause)


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
