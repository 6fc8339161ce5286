"""``simulate_runtime()``: make ``configure()`` see a chosen Databricks runtime and conf flags.

What it changes, and restores on exit (also when the block raises):

- env ``DATABRICKS_RUNTIME_VERSION`` and ``MLR_PYTHONPATH``;
- the session's Spark conf ``spark.databricks.clusterUsageTags.sparkVersion`` and any keys passed as
  ``conf=`` (a key that was unset is unset again, not set to its old default).

Environment variables and Spark conf are process-wide, so a simulation is too: nested
simulations in one thread stack (the inner one wins, the outer one is back after it), and a
simulation started while another thread has one active raises :class:`RuntimeError` instead of
mixing two runtimes.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from legacy_mllib_tracking.keys import CONF_SPARK_VERSION, ENV_ML_PYTHONPATH, ENV_RUNTIME_VERSION
from legacy_mllib_tracking.runtime import parse_runtime_version

__all__ = ["NOT_DATABRICKS", "simulate_runtime"]

#: Pass as ``version`` to simulate open-source Spark (no Databricks runtime at all).
NOT_DATABRICKS = "oss"

_SIMULATED_ML_PATH = "/databricks/python3/simulated-by-legacy-mllib-tracking"
_MISSING = object()

_owner_lock = threading.Lock()
_owner: int | None = None
_depth = 0


def _spark_version_string(major: int, minor: int | None, ml: bool) -> str:
    minor_text = "x" if minor is None else str(minor)
    flavour = "cpu-ml-" if ml else ""
    return f"{major}.{minor_text}.x-{flavour}scala2.12"


def _plan(version: str | None, ml: bool | None) -> tuple[dict[str, str | None], str | None]:
    """Return (environment changes, sparkVersion conf value or None to unset)."""
    if version is None or version.strip().lower() in (NOT_DATABRICKS, "none", "oss-spark"):
        return {ENV_RUNTIME_VERSION: None, ENV_ML_PYTHONPATH: None}, None
    runtime = parse_runtime_version(version, source="simulate_runtime(version=...)")
    is_ml = runtime.ml if ml is None else ml
    env: dict[str, str | None] = {}
    if runtime.serverless:
        env[ENV_RUNTIME_VERSION] = version.strip()
        env[ENV_ML_PYTHONPATH] = None
        return env, None
    minor = "x" if runtime.minor is None else str(runtime.minor)
    env[ENV_RUNTIME_VERSION] = f"{runtime.major}.{minor}"
    env[ENV_ML_PYTHONPATH] = _SIMULATED_ML_PATH if is_ml else None
    spark_version = None
    if is_ml is not None:
        spark_version = _spark_version_string(runtime.major, runtime.minor, is_ml)
    return env, spark_version


def _session(spark: Any) -> Any:
    if spark is not None:
        return spark
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    return SparkSession.getActiveSession()


def _conf_get(spark: Any, key: str) -> Any:
    try:
        value = spark.conf.get(key, None)
    except Exception:
        return _MISSING
    return _MISSING if value is None else value


def _conf_set(spark: Any, key: str, value: Any) -> None:
    if value is _MISSING or value is None:
        # a Connect server that refuses the key: nothing was set
        with contextlib.suppress(Exception):
            spark.conf.unset(key)
    else:
        spark.conf.set(key, str(value))


@contextmanager
def simulate_runtime(
    version: str | None,
    *,
    conf: Mapping[str, str | bool | None] | None = None,
    ml: bool | None = None,
    spark: Any = None,
) -> Iterator[None]:
    """Make ``configure()`` see ``version`` and the ``conf`` flags while the block runs.

    Args:
        version: a runtime version in any shape ``configure()`` reads (``"9.1"``,
            ``"15.4 LTS ML"``, ``"13.3.x-scala2.12"``, ``"client.2"``), or ``"oss"`` / ``None``
            for open-source Spark.
        conf: Spark conf values to set, e.g.
            ``{"spark.databricks.mlflow.trackMLlib.enabled": "true"}``; ``None`` as a value
            unsets the key.
        ml: ``True`` ML runtime, ``False`` standard; default: what ``version`` says (unknown
            counts as ML).
        spark: the session whose conf to change; default: the active session, if any. Without
            a session only the environment is simulated, and ``conf`` must be empty.

    Raises:
        InvalidRuntimeVersion: ``version`` cannot be parsed.
        ValueError: ``conf`` is given, or a standard runtime is asked for, but there is no
            SparkSession.
        RuntimeError: another thread has a simulation active.
    """
    global _owner, _depth
    env_changes, spark_version = _plan(version, ml)
    session = _session(spark)
    conf_changes: dict[str, Any] = dict(conf or {})
    if session is not None:
        conf_changes.setdefault(CONF_SPARK_VERSION, spark_version)
    elif spark_version is not None and not spark_version.count("-ml-"):
        raise ValueError(
            f"simulate_runtime({version!r}) names a standard runtime, which needs a SparkSession: "
            f"the router tells standard from ML by {CONF_SPARK_VERSION}; pass spark= or start one"
        )
    elif conf_changes:
        raise ValueError(
            f"simulate_runtime(conf={dict(conf_changes)!r}) needs a SparkSession: pass spark= "
            "or start one first"
        )
    me = threading.get_ident()
    with _owner_lock:
        if _owner is not None and _owner != me:
            raise RuntimeError(
                "simulate_runtime() is process-wide (environment and Spark conf) and another "
                "thread has one active; run simulations one thread at a time"
            )
        _owner, _depth = me, _depth + 1

    saved_env = {key: os.environ.get(key) for key in env_changes}
    saved_conf = {key: _conf_get(session, key) for key in conf_changes} if session else {}
    try:
        for key, value in env_changes.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for key, value in conf_changes.items():
            if isinstance(value, bool):
                value = str(value).lower()
            _conf_set(session, key, value)
        yield
    finally:
        for key, value in saved_conf.items():
            _conf_set(session, key, value)
        for key, old in saved_env.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
        with _owner_lock:
            _depth -= 1
            if _depth == 0:
                _owner = None
