"""The pyspark and mlflow versions this library supports, and the reads of their internals.

Supported: pyspark >= 3.4 and mlflow >= 2.9 (:data:`MIN_VERSIONS`, checked by ``configure()``).
CI tests two combinations (``ci/constraints.txt``, ``ci/constraints-old.txt``): pyspark 4.3.0 with
mlflow 3.17.2 on Python 3.11, and pyspark 3.5.0 with mlflow 2.17.2 on Python 3.10 (mlflow's last
release before 2.18 made the active run thread-local). Each internal read degrades to a safe answer
when it moved, so a new release breaks a feature, never a user's fit.

The touches of mlflow and pyspark internals are split by idea over the ``_compat`` modules: this
one (versions, autolog's state, runs and clients), :mod:`._compat_tuning` (pyspark's tuning
thread pool), :mod:`._compat_http` (one HTTP time budget per AUTOLOG fit) and
:mod:`._compat_requirements` (pip-requirement inference of the models autolog logs).
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from packaging.version import InvalidVersion, Version

from legacy_mllib_tracking.errors import UnsupportedVersion

__all__ = [
    "MIN_VERSIONS",
    "active_run_is_thread_local",
    "active_spark_session",
    "async_logging_enabled",
    "autolog_config",
    "autolog_disabled",
    "autolog_session_active",
    "autologging_off",
    "check_versions",
    "cv_std_metrics",
    "finish_run",
    "http_pool_size",
    "installed_version",
    "pop_active_run",
    "renamed",
    "tracking_uri_of",
    "unsupported_version_message",
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


def autologging_off() -> contextlib.AbstractContextManager[Any]:
    """A context in which mlflow's autologging logs nothing (its own switch, 2.x and 3.x:
    ``mlflow.utils.autologging_utils.disable_autologging``); where it moved, a context that
    changes nothing (autolog then logs, and waits out its retries against a store that is down)."""
    try:
        from mlflow.utils.autologging_utils import disable_autologging
    except ImportError:  # pragma: no cover - moved in a future mlflow
        _logger.debug("mlflow's disable_autologging is gone: autolog is not paused")
        return contextlib.nullcontext()
    return disable_autologging()


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


def pop_active_run(mlflow: Any, run_id: str) -> None:
    """Remove ``run_id`` from this thread's fluent active-run stack without calling the store."""
    from mlflow.tracking import fluent

    # mlflow >= 2.18 keeps a ThreadLocalVariable holding the list; older ones a plain list.
    holder: Any = getattr(fluent, "_active_run_stack", None)
    stack = holder.get() if hasattr(holder, "get") else holder
    if isinstance(stack, list) and stack and stack[-1].info.run_id == run_id:
        stack.pop()
        return
    with contextlib.suppress(Exception):  # fall back: mlflow's own end_run
        mlflow.end_run()


def active_spark_session() -> Any:
    """Return the SparkSession mlflow's autolog would use (``_get_active_spark_session``, mlflow
    2.x and 3.17), or ``None`` when there is none or the function moved."""
    try:
        from mlflow.utils._spark_utils import _get_active_spark_session

        return _get_active_spark_session()  # type: ignore[no-untyped-call]
    except Exception:  # pragma: no cover - moved in a future mlflow
        return None


def renamed(entity: Any, key: str) -> Any:
    """Return a copy of an mlflow ``Param``, ``RunTag`` or ``Metric`` named ``key``.

    A copy keeps every other field (mlflow 3's ``Metric`` has model and dataset ids); ``_key``
    backs ``.key`` on all three from mlflow 2.9 to 3.17. Without ``_key`` (a future mlflow) the
    entity is rebuilt from its public fields.
    """
    if hasattr(entity, "_key"):
        out = copy.copy(entity)
        out._key = key
        return out
    from mlflow.entities import Metric, Param, RunTag  # pragma: no cover - a future mlflow

    if isinstance(entity, Metric):  # pragma: no cover
        return Metric(key, entity.value, entity.timestamp, entity.step)
    return (Param if isinstance(entity, Param) else RunTag)(key, entity.value)  # pragma: no cover


def offline_experiment() -> tuple[str | None, str | None]:
    """The experiment (id, name) a new run would go to, without asking the tracking server:
    ``mlflow.set_experiment()``'s id, else env ``MLFLOW_EXPERIMENT_NAME`` (which mlflow 2.x and
    3.x resolve, creating it, before ``MLFLOW_EXPERIMENT_ID``), else ``MLFLOW_EXPERIMENT_ID``."""
    import os

    from mlflow.tracking import fluent

    active = getattr(fluent, "_active_experiment_id", None)
    if active:
        return str(active), None
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or None
    return (None if name else os.environ.get("MLFLOW_EXPERIMENT_ID")), name
