"""Everything that depends on the pyspark or mlflow version or internals, in one place.

Supported: pyspark >= 3.4 and mlflow >= 2.9 (:data:`MIN_VERSIONS`, checked by ``configure()``).
CI tests two combinations (``ci/constraints.txt``, ``ci/constraints-old.txt``): pyspark 4.3.0 with
mlflow 3.17.2 on Python 3.11, and pyspark 3.5.0 with mlflow 2.17.2 on Python 3.10 (mlflow's last
release before 2.18 made the active run thread-local). Each internal read degrades to a safe answer
when it moved, so a new release breaks a feature, never a user's fit.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from packaging.version import InvalidVersion, Version

from legacy_mllib_tracking._patching import PatchSet
from legacy_mllib_tracking.errors import UnsupportedVersion

__all__ = [
    "MIN_VERSIONS",
    "HttpBudget",
    "TrackingStopped",
    "active_run_is_thread_local",
    "async_logging_enabled",
    "autolog_config",
    "autolog_disabled",
    "autolog_root_session",
    "autolog_session_active",
    "check_versions",
    "current_http_budget",
    "cv_std_metrics",
    "finish_run",
    "guard_tasks",
    "http_budget",
    "http_pool_size",
    "install_fit_guard",
    "install_http_budget",
    "install_requirements_capture",
    "installed_version",
    "spark_fallback_requirements",
    "tracking_uri_of",
    "unsupported_version_message",
    "warn_in_autolog",
]

_logger = logging.getLogger(__name__)

FLAVOR = "pyspark.ml"

#: The oldest release of each peer this library supports; ``pyproject.toml`` declares the same
#: bounds (``mlflow>=2.9``, extra ``pyspark>=3.4``) and a unit test keeps them equal.
#: pyspark 3.4 is Databricks Runtime 13.3 LTS; mlflow 2.9 is on 14.3 LTS ML.
MIN_VERSIONS: Mapping[str, tuple[int, ...]] = {"pyspark": (3, 4), "mlflow": (2, 9)}


def _release(version: str) -> tuple[int, ...] | None:
    """Return the release of a PEP 440 version string (``"3.5.0.dev0"`` -> ``(3, 5, 0)``).

    ``None`` when ``packaging`` cannot parse it (``"custom-build"``, ``"3.5.0-SNAPSHOT"``).
    """
    try:
        return Version(version).release
    except InvalidVersion:
        return None


def installed_version(package: str) -> tuple[str, str | None] | None:
    """Return ``(version, location)`` of the ``package`` this process imports, or ``None``.

    Reads the imported module's ``__version__`` (importing it if needed), not pip's metadata: a
    Databricks runtime puts its own pyspark on ``sys.path`` without pip metadata, and ``mlflow``
    may come from the ``mlflow-skinny`` distribution.
    """
    module = sys.modules.get(package)
    if module is None:
        try:
            module = importlib.import_module(package)
        except ImportError:
            return None
    version = getattr(module, "__version__", None)
    if not version:
        return None
    path = getattr(module, "__file__", None)
    return str(version), (os.path.dirname(path) if path else None)


def unsupported_version_message(
    package: str, version: str, location: str | None = None
) -> str | None:
    """Return why ``version`` of ``package`` is not supported, or ``None`` when it is.

    A version whose release number cannot be read (a custom build) is let through.
    """
    minimum = MIN_VERSIONS.get(package)
    release = _release(version)
    if minimum is None or release is None or release >= minimum:
        return None
    floor = ".".join(map(str, minimum))
    where = f" (imported from {location})" if location else ""
    return (
        f"legacy-mllib-tracking needs {package} >= {floor}, but {package} {version} is "
        f"installed{where}; upgrade it, e.g. pip install '{package}>={floor}'"
    )


def check_versions(installed: Mapping[str, str | None] | None = None) -> None:
    """Raise :class:`UnsupportedVersion` when pyspark or mlflow is older than :data:`MIN_VERSIONS`.

    Args:
        installed: package -> version to check instead of what this process imports (tests);
            ``None`` as a version means "not installed". A package that is not installed is not
            an error here (pyspark is optional until a fit is tracked).

    Raises:
        UnsupportedVersion: the first package below its minimum, naming the package, the version
            found and the supported range.
    """
    for package in MIN_VERSIONS:
        if installed is not None:
            version, location = installed.get(package), None
        else:
            found = installed_version(package)
            version, location = found if found else (None, None)
        if version is None:
            continue
        message = unsupported_version_message(package, version, location)
        if message is not None:
            raise UnsupportedVersion(message, name=package)


def autolog_config() -> dict[str, Any] | None:
    """Return the kwargs of the live ``mlflow.pyspark.ml.autolog()`` call, or ``None`` if off.

    mlflow keeps them in ``mlflow.utils.autologging_utils.AUTOLOGGING_INTEGRATIONS`` (2.x, 3.x).
    """
    try:
        from mlflow.utils.autologging_utils import AUTOLOGGING_INTEGRATIONS
    except ImportError:  # pragma: no cover - moved in a future mlflow
        return None
    config = AUTOLOGGING_INTEGRATIONS.get(FLAVOR)
    if not config or config.get("disable", False):
        return None
    return dict(config)


def autolog_disabled() -> bool:
    """Return whether pyspark.ml autologging is off (never enabled, or disabled)."""
    return autolog_config() is None


def autolog_session_active() -> bool:
    """Return whether an autologged pyspark.ml fit is in progress.

    Inside one, autolog logs nothing for nested fits (mlflow's ``_SparkTrainingSession`` with
    ``allow_children=False``; its stack is process-wide, not per thread, in mlflow 2.x and 3.x).
    """
    try:
        from mlflow.pyspark.ml import _SparkTrainingSession
    except ImportError:  # pragma: no cover
        return False
    try:
        return bool(_SparkTrainingSession.is_active())
    except Exception:  # pragma: no cover
        return False


def active_run_is_thread_local() -> bool:
    """Return whether each thread has its own MLflow active run (mlflow >= 2.18).

    Before mlflow 2.18 ``mlflow.tracking.fluent._active_run_stack`` is one list for the whole
    process: a run started in one thread is every thread's active run, so fits from several
    threads at once, each in its own run, are not possible there (nor with plain autolog).
    From 2.18 on it is a ``ThreadLocalVariable``.
    """
    from mlflow.tracking import fluent

    return not isinstance(getattr(fluent, "_active_run_stack", None), list)


def cv_std_metrics(model: Any) -> list[float] | None:
    """Return a ``CrossValidatorModel``'s per-map standard deviations, or ``None``.

    ``stdMetrics`` exists from pyspark 3.3 on (so in every supported pyspark); a custom build
    without it gets no ``std_<metric>`` child metrics rather than an error.
    """
    std = getattr(model, "stdMetrics", None)
    return [float(v) for v in std] if std else None


def tracking_uri_of(client: Any) -> str:
    """Return the tracking URI that ``client`` (an ``MlflowClient``) writes to.

    ``MlflowClient.tracking_uri`` is a property reading ``_tracking_client.tracking_uri`` in
    mlflow 2.17 and 3.17; a client with neither (a future mlflow) is taken to write to mlflow's
    current tracking URI.
    """
    for owner in (client, getattr(client, "_tracking_client", None)):
        uri = getattr(owner, "tracking_uri", None)
        if isinstance(uri, str) and uri:
            return uri
    import mlflow

    return str(mlflow.get_tracking_uri())


def http_pool_size() -> int:
    """Return how many HTTP connections mlflow keeps per host (``MLFLOW_HTTP_POOL_MAXSIZE``).

    10 by default in mlflow 2.17 and 3.17; an unreadable value counts as the default.
    """
    try:
        from mlflow import environment_variables

        setting: Any = environment_variables.MLFLOW_HTTP_POOL_MAXSIZE
        return max(1, int(setting.get()))
    except Exception:  # moved in a future mlflow, or not an integer
        return 10


def async_logging_enabled() -> bool:
    """Return whether ``MlflowClient.log_batch`` logs asynchronously by default.

    ``MLFLOW_ENABLE_ASYNC_LOGGING`` (mlflow >= 2.8; set by ``mlflow.config.enable_async_logging``)
    makes ``log_batch`` queue its data on a queue shared by the store's users, which
    ``set_terminated`` shuts down (mlflow 2.17 and 3.17): threads logging and ending runs at once
    would race on that queue.
    """
    try:
        from mlflow import environment_variables

        setting: Any = environment_variables.MLFLOW_ENABLE_ASYNC_LOGGING
        return bool(setting.get())
    except Exception:  # moved in a future mlflow, or unreadable: assume the safe answer
        return True


def finish_run(client: Any, run_id: str, status: str, end_time: int) -> None:
    """End ``run_id`` with ``status`` at ``end_time`` (ms) in one store call, printing nothing.

    ``MlflowClient.set_terminated`` (mlflow 2.17 and 3.17) shuts down the async logging queue,
    then ``TrackingServiceClient._log_url`` GETs the run again and, against a tracking server,
    writes "View run ... / View experiment ..." to stdout (mlflow 3.17; 2.17 logs it at INFO),
    then calls ``store.update_run_info(run_id, run_status, end_time, run_name)``. This keeps the
    first and last steps, with the store call exactly as ``set_terminated`` makes it (same
    signature in mlflow 2.17 and 3.17); a client without ``_tracking_client.store.update_run_info``
    gets ``set_terminated``.
    """
    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    update = getattr(store, "update_run_info", None)
    if not callable(update):
        client.set_terminated(run_id, status, end_time=end_time)
        return
    from mlflow.entities import RunStatus

    shut_down = getattr(store, "shut_down_async_logging", None)
    if callable(shut_down):  # a no-op unless async logging is on
        shut_down()
    update(run_id, run_status=RunStatus.from_string(status), end_time=end_time, run_name=None)


class AbandonedParamMap(Exception):
    """A param map not fitted because another map of the same tuning round had failed."""


def guard_tasks(tasks: Sequence[Callable[[], Any]]) -> list[Callable[[], Any]]:
    """Wrap one tuning round's per-map tasks so none starts after one of them has failed.

    The first task that raises (anything, ``KeyboardInterrupt`` included) sets a flag; a task
    that starts after that raises :class:`AbandonedParamMap` instead of fitting. Its result goes
    to the pool's iterator that pyspark has already stopped reading, so nobody sees it.
    """
    failed = threading.Event()

    def guarded(task: Callable[[], Any]) -> Callable[[], Any]:
        @functools.wraps(task)
        def run() -> Any:
            if failed.is_set():
                raise AbandonedParamMap("an earlier param map of this tuning round failed")
            try:
                return task()
            except BaseException:
                failed.set()
                raise

        return run

    return [guarded(task) for task in tasks]


def install_fit_guard(patches: PatchSet) -> None:
    """Stop the remaining param maps of a tuning fit once one of them failed.

    pyspark 3.4 to 4.3 (``CrossValidator._fit``, ``TrainValidationSplit._fit``) run a round's
    per-map fits as the tasks of ``pyspark.ml.tuning._parallelFitTasks`` in a ``ThreadPool`` that
    is never closed: when one map fails the fit raises, but the pool goes on fitting the other
    maps in the background. Under autolog (mlflow 2.17 and 3.17) each of those late fits is no
    longer inside the tuner's training session and logs a stray top-level run; before mlflow
    2.18 made the active run thread-local, that stray run is also the *user's* active run while
    it lasts, or the late fit logs its params into the user's own run. Patched here:
    ``_parallelFitTasks`` returns the same tasks wrapped by :func:`guard_tasks`.
    """
    try:
        import pyspark.ml.tuning as tuning
    except ImportError:  # pragma: no cover - no pyspark, nothing to fit
        return
    if not callable(getattr(tuning, "_parallelFitTasks", None)):  # pragma: no cover
        _logger.debug("pyspark.ml.tuning._parallelFitTasks is gone: no guard for failed fits")
        return

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def _parallelFitTasks(*args: Any, **kwargs: Any) -> list[Callable[[], Any]]:
            return guard_tasks(original(*args, **kwargs))

        return _parallelFitTasks

    owner: Any = tuning  # a module: PatchSet restores its attribute like a class's
    patches.patch(owner, "_parallelFitTasks", make)


# --- AUTOLOG mode under a dying server: one time budget for a fit's HTTP calls ------------------

#: mlflow's HTTP retry settings when their env values cannot be read (mlflow 3.17's defaults).
_HTTP_DEFAULTS = {"retries": 7, "backoff": 2.0, "jitter": 1.0, "timeout": 120.0}
#: urllib3's cap on one backoff sleep (``Retry.DEFAULT_BACKOFF_MAX``, urllib3 1.26 to 2.x).
_BACKOFF_MAX = 120.0


class TrackingStopped(Exception):
    """A tracking call refused because the fit's :class:`HttpBudget` ran out or a call failed."""


class HttpBudget:
    """The seconds one AUTOLOG fit's HTTP tracking calls may wait in all, and whether they stopped.

    Time counts while at least one call of the fit is in flight (calls from several threads at
    once count once), so a fit that trains for an hour against a healthy server spends almost
    nothing of it. The first call that fails (mlflow gave up retrying) or is still waiting when
    the budget runs out *stops* the fit's tracking: every later call of the fit raises
    :class:`TrackingStopped` at once, without touching the network.
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
def http_budget(seconds: float | None) -> Iterator[HttpBudget | None]:
    """Give mlflow's HTTP calls made in this context (and in copies of it) ``seconds`` in all;
    ``None``: no budget, calls wait as mlflow's own retry settings say."""
    if seconds is None:
        yield None
        return
    budget = HttpBudget(seconds)
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


# --- pip-requirement inference of the models autolog logs (AUTOLOG mode) ------------------------


def install_requirements_capture(
    patches: PatchSet, make: Callable[[Callable[..., Any]], Callable[..., Any]]
) -> bool:
    """Route mlflow's module capture of pip-requirement inference through ``make(original)``.

    ``mlflow.spark.log_model`` / ``save_model`` (mlflow 2.17 and 3.17) call
    ``mlflow.models.infer_pip_requirements(dst_dir, "spark", fallback=...)``, which calls
    ``mlflow.utils.requirements_utils._infer_requirements``, which calls the module-level
    ``_capture_imported_modules(model_uri, flavor, record_full_module=False, extra_env_vars=None)``
    by name: it runs ``mlflow/utils/_capture_modules.py`` in a new Python process that starts a
    Spark session, loads the saved model and records the top-level modules imported (the
    expensive step, 11 s on 2 idle cores); ``_infer_requirements`` then maps them to installed
    packages and pins their versions, which is cheap and stays mlflow's. Any exception out of the
    capture makes ``infer_pip_requirements`` log a warning and return its ``fallback`` (unless
    ``MLFLOW_REQUIREMENTS_INFERENCE_RAISE_ERRORS`` is set).

    Returns:
        Whether the patch was installed; an mlflow without that function, or with another
        signature, keeps its plain behaviour (one DEBUG line says so).
    """
    try:
        from mlflow.utils import requirements_utils
    except ImportError:  # pragma: no cover - moved in a future mlflow
        _logger.debug("mlflow.utils.requirements_utils is gone: pip requirements inferred as usual")
        return False
    import inspect

    original = getattr(requirements_utils, "_capture_imported_modules", None)
    infer = getattr(requirements_utils, "_infer_requirements", None)
    try:
        names = list(inspect.signature(original).parameters) if callable(original) else []
    except (TypeError, ValueError):  # pragma: no cover
        names = []
    if not callable(infer) or names[:2] != ["model_uri", "flavor"]:
        _logger.debug(
            "mlflow.utils.requirements_utils._capture_imported_modules(model_uri, flavor, ...) is "
            "not there in mlflow %s: pip requirements of logged models inferred as usual",
            getattr(sys.modules.get("mlflow"), "__version__", "?"),
        )
        return False
    owner: Any = requirements_utils  # a module: PatchSet restores its attribute like a class's
    patches.patch(owner, "_capture_imported_modules", make)
    return True


def autolog_root_session() -> Any:
    """Return the outermost autologged pyspark.ml fit in progress (one object per fit), or ``None``.

    mlflow keeps a stack of ``_SparkTrainingSession`` objects, one per autologged ``fit`` in
    progress, in the class attribute ``_session_stack`` (mlflow 2.x and 3.17; process-wide).
    """
    try:
        from mlflow.pyspark.ml import _SparkTrainingSession
    except ImportError:  # pragma: no cover
        return None
    stack = getattr(_SparkTrainingSession, "_session_stack", None)
    return stack[0] if isinstance(stack, list) and stack else None


def warn_in_autolog(message: str, category: type[Warning]) -> None:
    """Emit a warning from code that autolog runs, as a warning (not an mlflow log line).

    While autolog's own code runs (``safe_patch``, mlflow 2.17 and 3.17), warnings from other
    packages raised in that thread are rerouted to mlflow's logger by
    ``logging_and_warnings._WARNINGS_CONTROLLER``. This lifts the rerouting for this thread while
    the warning is emitted (warnings autolog's ``silent=True`` disables stay disabled). Without
    that controller the warning is emitted as it is.
    """
    import warnings

    try:
        from mlflow.utils.autologging_utils.logging_and_warnings import _WARNINGS_CONTROLLER

        controller: Any = _WARNINGS_CONTROLLER
        rerouted = bool(controller.get_warnings_rerouting_state_for_current_thread())
        set_rerouted = controller.set_non_mlflow_warnings_rerouting_state_for_current_thread
    except Exception:  # moved in a future mlflow
        rerouted, set_rerouted = False, None
    set_rerouted = set_rerouted if callable(set_rerouted) else None
    if rerouted and set_rerouted is not None:
        set_rerouted(False)
    try:
        warnings.warn(message, category, stacklevel=1)
    finally:
        if rerouted and set_rerouted is not None:
            set_rerouted(True)


def spark_fallback_requirements() -> list[str]:
    """Return what ``mlflow.spark`` logs when inference fails (``get_default_pip_requirements``)."""
    try:
        import mlflow.spark

        return [str(r) for r in mlflow.spark.get_default_pip_requirements()]
    except Exception:  # pragma: no cover - a future mlflow
        return []
