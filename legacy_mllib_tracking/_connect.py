"""Spark Connect: telling a Connect session from a classic one, and what autolog cannot read there.

A Spark Connect client has no JVM of its own: ``spark.sparkContext`` raises
``[JVM_ATTRIBUTE_NOT_SUPPORTED]`` (pyspark 3.4 to 4.3). Nothing here touches ``sparkContext`` or
py4j; conf is read through ``spark.conf`` only, and importing this module imports neither pyspark
nor mlflow.

Seen with pyspark 4.3.0 and mlflow 3.17.2:

- ``mlflow.pyspark.ml.autolog()`` reads its model allowlist through ``sparkContext`` unless it is
  given ``log_model_allowlist=``, so on a Connect session it raises before patching anything;
- ``mlflow.spark.log_model`` of a classic ``pyspark.ml`` model copies the saved model to the local
  disk through the client's own JVM (``_HadoopFileSystem``); on a Connect client without one
  (a remote server: ``sc://host:port``, Databricks shared clusters, serverless) it fails with
  ``'NoneType' object has no attribute 'jvm'`` after the server already saved the model. A local
  Connect session (``remote("local[2]")``) runs its server in the client's process, so there it
  works.
"""

from __future__ import annotations

import logging
import sys
import warnings
from typing import Any

from legacy_mllib_tracking.errors import TrackingNotice

__all__ = [
    "CONF_LOG_MODEL_ALLOWLIST_FILE",
    "client_has_jvm",
    "is_connect_session",
    "log_model_allowlist",
    "remote_mode",
]

_logger = logging.getLogger(__name__)

#: mlflow's Spark conf naming a custom pyspark.ml model allowlist file (mlflow 1.x to 3.x).
CONF_LOG_MODEL_ALLOWLIST_FILE = "spark.mlflow.pysparkml.autolog.logModelAllowlistFile"
#: The allowlist mlflow packages next to ``mlflow.pyspark.ml`` (mlflow 1.x to 3.x).
_ALLOWLIST_PACKAGE = "mlflow.pyspark.ml"
_ALLOWLIST_RESOURCE = "log_model_allowlist.txt"


def is_connect_session(spark: Any) -> bool:
    """Return whether ``spark`` is a Spark Connect session (by its class, without importing).

    pyspark 3.4+ defines it as ``pyspark.sql.connect.session.SparkSession``.
    """
    return spark is not None and type(spark).__module__.startswith("pyspark.sql.connect")


def remote_mode() -> bool:
    """Return whether pyspark in this process runs in Spark Connect mode.

    ``pyspark.sql.utils.is_remote()`` (pyspark 3.4+); ``False`` when pyspark was never imported.
    """
    utils = sys.modules.get("pyspark.sql.utils")
    is_remote = getattr(utils, "is_remote", None)
    if is_remote is None:
        return False
    try:
        return bool(is_remote())
    except Exception:  # pragma: no cover - an internal that moved
        return False


def client_has_jvm() -> bool:
    """Return whether this process runs a py4j ``SparkContext`` (and so a JVM of its own).

    True on classic sessions and on a local Connect session (``remote("local[2]")``), whose server
    runs in this process; false on a client of a remote Connect server. Reads pyspark's class
    attribute ``SparkContext._active_spark_context`` (pyspark 2.x to 4.3); talks to no JVM.
    """
    pyspark = sys.modules.get("pyspark")
    context = getattr(pyspark, "SparkContext", None)
    return getattr(context, "_active_spark_context", None) is not None


def _conf(spark: Any, key: str) -> str | None:
    try:
        value = spark.conf.get(key, None)
    except Exception as error:  # a Connect server that refuses the key
        _logger.debug("Spark conf %r could not be read, counted as unset: %s", key, error)
        return None
    return None if value is None or not str(value).strip() else str(value)


def _read_allowlist_file(path: str) -> set[str]:
    """Read an allowlist file with mlflow's own reader (local paths and URIs), or by its rules."""
    try:
        from mlflow.pyspark.ml import _read_log_model_allowlist_from_file
    except ImportError:  # pragma: no cover - moved in a future mlflow
        with open(path, encoding="utf-8") as lines:
            stripped = (line.strip() for line in lines)
            return {line for line in stripped if line and not line.startswith("#")}
    return set(_read_log_model_allowlist_from_file(path))  # type: ignore[no-untyped-call]


def log_model_allowlist(spark: Any) -> list[str]:
    """Return the model allowlist ``mlflow.pyspark.ml.autolog()`` would read, without the JVM.

    What mlflow reads through ``sparkContext`` (mlflow 2.x, 3.x): the file named by Spark conf
    ``spark.mlflow.pysparkml.autolog.logModelAllowlistFile`` (here read through ``spark.conf``),
    else, or when that file cannot be read (one :class:`TrackingNotice` says so), the allowlist
    packaged with mlflow.
    """
    import importlib.resources

    custom = None if spark is None else _conf(spark, CONF_LOG_MODEL_ALLOWLIST_FILE)
    if custom is not None:
        try:
            return sorted(_read_allowlist_file(custom))
        except Exception as error:
            warnings.warn(
                f"legacy-mllib-tracking: Spark conf {CONF_LOG_MODEL_ALLOWLIST_FILE}={custom!r} "
                f"could not be read ({type(error).__name__}: {error}); using mlflow's packaged "
                "model allowlist",
                TrackingNotice,
                stacklevel=6,  # configure() -> _apply -> enable_autolog -> _connect_options
            )
    resource = importlib.resources.files(_ALLOWLIST_PACKAGE).joinpath(_ALLOWLIST_RESOURCE)
    with importlib.resources.as_file(resource) as path:
        return sorted(_read_allowlist_file(path.as_posix()))
