"""MLflow's limits, and the library's writes within them.

- Names: :func:`safe_key` maps a param, tag or metric name MLflow refuses (a character it does
  not accept, more than :data:`MAX_ENTITY_KEY_LENGTH` characters) to one it accepts,
  deterministically.
- Values: params and tags longer than :data:`MAX_PARAM_VAL_LENGTH` / :data:`MAX_TAG_VAL_LENGTH`
  are truncated.
- Batches: :func:`write_batch` splits params and tags into batches of
  :data:`MAX_PARAMS_TAGS_PER_BATCH`.
- Connections: :func:`child_threads` logs child runs from at most :data:`MAX_CHILD_THREADS`
  threads, within mlflow's HTTP connection pool.

Every name or value changed to fit is listed in the writer's ``truncated``, which the fit reports
as one warning.
"""

from __future__ import annotations

import os
import posixpath
import re
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from legacy_mllib_tracking import _compat
from legacy_mllib_tracking.errors import InvalidOption
from legacy_mllib_tracking.keys import ENV_CHILD_THREADS

__all__ = [
    "MAX_CHILD_THREADS",
    "MAX_ENTITY_KEY_LENGTH",
    "MAX_PARAMS_TAGS_PER_BATCH",
    "MAX_PARAM_VAL_LENGTH",
    "MAX_TAG_VAL_LENGTH",
    "child_threads",
    "child_threads_override",
    "remote_store",
    "safe_key",
    "write_batch",
]

# MLflow's limits, as in mlflow.utils.validation (unchanged from mlflow 2.9 to 3.17).
MAX_ENTITY_KEY_LENGTH = 250
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_PARAMS_TAGS_PER_BATCH = 100

#: Most threads that log one fit's child runs. mlflow keeps 10 HTTP connections per host
#: (``MLFLOW_HTTP_POOL_MAXSIZE``, mlflow 2.17 to 3.17), so 8 threads never open throw-away
#: connections (16 would); the work is waiting on HTTP, so the count follows the server, not the
#: local cores. Measured against a local ``mlflow server`` at 100 maps: 8 threads 2.9x to 9x the
#: sequential floor (BENCHMARKS.md).
MAX_CHILD_THREADS = 8

#: URI schemes of tracking stores reached over HTTP(S), where children are logged in parallel.
#: Local stores (sqlite, file) stay sequential: mlflow's sqlite store serialises writes, and 8
#: threads were measured up to 1.7x slower there.
_HTTP_SCHEMES = frozenset({"http", "https", "databricks"})

_TRUNCATED = "...[truncated]"
_NAME_CHARACTERS = re.compile(r"[/\w.\- :]*")


class Writer(Protocol):
    """What :func:`write_batch` writes through (a ``_writer.FitContext``)."""

    #: The ``MlflowClient`` every write goes through.
    client: Any
    #: Where each name or value changed to fit is described, for the fit's warning.
    truncated: list[str]


def _key_hash(key: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, key).hex[:8]


def _name_is_accepted(key: str) -> bool:
    """Whether MLflow accepts ``key`` as a param, tag or metric name (as in
    ``mlflow.utils.validation``, unchanged from mlflow 2.9 to 3.17): only letters, digits, ``_``,
    ``-``, ``.``, space, ``/`` and ``:``, and a path that normalises to itself."""
    if not _NAME_CHARACTERS.fullmatch(key):
        return False
    norm = posixpath.normpath(key)
    return not (norm != key or norm == "." or norm.startswith("..") or norm.startswith("/"))


def safe_key(key: str) -> tuple[str, str | None]:
    """Return the name to log for ``key`` and, when it had to change, why.

    A name MLflow rejects has every character but letters, digits, ``_``, ``-``, ``.``, space and
    ``:`` replaced by ``_`` (``/`` too), and ``_<8 hex>`` of the original appended, so two
    different names do not map to one; a name over 250 characters is cut and gets the same
    suffix. Deterministic: the same key always maps to the same name.
    """
    name, why = key, None
    if not _name_is_accepted(name):
        name = re.sub(r"[^\w.\- :]", "_", name) + "_" + _key_hash(key)
        if name.startswith(".."):  # no "/" is left, so only a leading ".." can still be refused
            name = "_" + name
        why = f"name {key[:40]!r} is not accepted by MLflow, logged as {name[:60]!r}"
    if len(name) > MAX_ENTITY_KEY_LENGTH:
        name = name[: MAX_ENTITY_KEY_LENGTH - 9] + "_" + _key_hash(key)
        why = why or f"key {key[:40]!r}... shortened to {name!r}"
    return name, why


def _limit_key(writer: Writer, key: str) -> str:
    name, why = safe_key(key)
    if why is not None:
        writer.truncated.append(why)
    return name


def _limit_value(writer: Writer, key: str, value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    writer.truncated.append(f"{key!r} ({len(value)} characters, kept {limit})")
    return value[: limit - len(_TRUNCATED)] + _TRUNCATED


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def write_batch(
    writer: Writer,
    run_id: str,
    *,
    params: Mapping[str, str] = {},  # read only
    tags: Mapping[str, str] = {},  # read only
    metrics: Mapping[str, float] = {},  # read only
    timestamp_ms: int | None = None,
) -> None:
    """Log params, tags and metrics to ``run_id``, within MLflow's key, value and batch limits."""
    from mlflow.entities import Metric, Param, RunTag

    stamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    param_list = [
        Param(_limit_key(writer, k), _limit_value(writer, k, str(v), MAX_PARAM_VAL_LENGTH))
        for k, v in params.items()
    ]
    tag_list = [
        RunTag(_limit_key(writer, k), _limit_value(writer, k, str(v), MAX_TAG_VAL_LENGTH))
        for k, v in tags.items()
    ]
    metric_list = [Metric(_limit_key(writer, k), float(v), stamp, 0) for k, v in metrics.items()]
    entities: list[Any] = [*param_list, *tag_list]
    batches = list(_chunks(entities, MAX_PARAMS_TAGS_PER_BATCH)) or [[]]
    for number, batch in enumerate(batches):
        writer.client.log_batch(
            run_id,
            metrics=metric_list if number == 0 else [],
            params=[e for e in batch if isinstance(e, Param)],
            tags=[e for e in batch if isinstance(e, RunTag)],
        )


def child_threads_override(environ: Mapping[str, str] | None = None) -> int | None:
    """Return the thread count set by env ``LEGACY_MLLIB_TRACKING_CHILD_THREADS``, or ``None``.

    Args:
        environ: the environment (default ``os.environ``); unset or blank means ``None``.

    Raises:
        InvalidOption: the value is not an integer from 1 to :data:`MAX_CHILD_THREADS`.
    """
    text = (os.environ if environ is None else environ).get(ENV_CHILD_THREADS)
    if text is None or not text.strip():
        return None
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_CHILD_THREADS:
        raise InvalidOption(
            f"env {ENV_CHILD_THREADS} must be an integer from 1 to {MAX_CHILD_THREADS} "
            f"(threads that log child runs), got {text!r}"
        )
    return value


def child_threads(tracking_uri: str, maps: int, environ: Mapping[str, str] | None = None) -> int:
    """Return how many threads log ``maps`` child runs to the store at ``tracking_uri``.

    Env ``LEGACY_MLLIB_TRACKING_CHILD_THREADS`` (:func:`child_threads_override`) wins for every
    store. Otherwise: 1 for local stores (sqlite, file) and while mlflow's async logging is on
    (its queue is shared; ``_compat.async_logging_enabled``); for HTTP(S) and Databricks stores
    :data:`MAX_CHILD_THREADS`, fewer when mlflow pools fewer HTTP connections. Never more than
    ``maps``, never less than 1.

    Args:
        tracking_uri: the URI the children are logged to.
        maps: how many children are to be logged.
        environ: the environment (default ``os.environ``).

    Raises:
        InvalidOption: the env value is not an integer from 1 to :data:`MAX_CHILD_THREADS`.
    """
    forced = child_threads_override(environ)
    if forced is not None:
        wanted = forced
    elif remote_store(tracking_uri) and not _compat.async_logging_enabled():
        wanted = min(MAX_CHILD_THREADS, _compat.http_pool_size())
    else:
        wanted = 1
    return max(1, min(wanted, maps))


def remote_store(tracking_uri: str) -> bool:
    """Whether ``tracking_uri`` names a store reached over HTTP(S) (a server, Databricks), whose
    client retries writes (so a retried create can leave a copy) and serves threads in parallel."""
    uri = tracking_uri.strip().lower()
    return uri == "databricks" or urllib.parse.urlparse(uri).scheme in _HTTP_SCHEMES
