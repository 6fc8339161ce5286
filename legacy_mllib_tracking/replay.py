"""Replay spooled layouts: log what a fit could not log, later, exactly once.

A spool file (``_spool``: one JSON per fit, written when logging finally failed) holds the
unlogged part of a fit's run layout. :func:`replay` logs it into the same parent run when that run
exists. When the fit never got its parent, it is looked up by the fit's id (tag
``legacy_mllib_tracking.created_for``): a parent the server created but whose answer was lost is
completed and its empty copies deleted; only when there is none is a new parent created, named
like a live one, in the fit's experiment. Every child that already exists is skipped (each child
carries the ``legacy_mllib_tracking.child_key`` tag ``<fit_id>:<map index>``; copies of one are
deleted, ``_duplicates``), and the file moves to a ``replayed/`` folder beside it. Running it
twice logs nothing twice.

Each file is replayed into the tracking store it records (``tracking_uri``), unless the caller
names another one; a store that does not exist (a missing sqlite file or file-store folder) or
does not answer its ``/health`` probe is not written to, and its files are kept. Only spool files
are touched: a ``*.json`` without a spool file's ``version``, ``fit_id`` and shape is left alone
and counted; a spool file of a version this library does not know is kept.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from legacy_mllib_tracking import _compat
from legacy_mllib_tracking._duplicates import dedupe_children, dedupe_parents
from legacy_mllib_tracking._limits import safe_key, write_batch
from legacy_mllib_tracking._safety import (
    error_text,
    recorded_uri,
    redact,
    store_missing,
    store_unreachable,
)
from legacy_mllib_tracking._spool import (
    NotSpoolFile,
    default_spool_dir,
    read_record,
    replay_command,
    rewrite_record,
)
from legacy_mllib_tracking._writer import FitContext
from legacy_mllib_tracking.errors import RunNotFound
from legacy_mllib_tracking.keys import (
    SPOOL_END_PARENT,
    TAG_CHILD_KEY,
    TAG_CREATED_FOR,
    TAG_PARENT_RUN_ID,
    TAG_RUN_NAME,
)

__all__ = ["ReplayResult", "replay", "replay_command"]

_logger = logging.getLogger(__name__)

#: Seconds to wait for a tracking server's ``/health`` before its files are kept.
_PROBE_TIMEOUT = 2.0


@dataclass
class ReplayResult:
    """What one spool file gave.

    Attributes:
        path: the spool file.
        parent_run_id: the parent run it was logged into (``None`` if it could not be).
        created_children: children created now.
        skipped_children: children that already existed (completed if they lacked data).
        error: why the file was kept, or ``None`` when it was fully replayed (or ignored).
        tracking_uri: the store it was replayed into (credentials hidden), ``None`` if ignored.
        uri_source: where that URI came from: "recorded in the file" or "given".
        ignored: why the file was left alone because it is not a spool file, else ``None``.
    """

    path: Path
    parent_run_id: str | None = None
    created_children: int = 0
    skipped_children: int = 0
    params_suffixed: list[str] = field(default_factory=list)
    error: str | None = None
    note: str | None = None
    tracking_uri: str | None = None
    uri_source: str | None = None
    ignored: str | None = None


#: The lock file of a spool folder (not ``*.json``: never listed as a spool file).
_LOCK_NAME = ".replay.lock"
_BUSY = (
    f"another replay is replaying this folder right now (it holds {_LOCK_NAME}): left to that "
    "one, so that no child run is created twice"
)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[bool]:
    """Hold the spool folder's replay lock while its files are replayed; yield whether this
    process holds it (``False``: another replay does).

    Two replays of one folder at once (two terminals, overlapping scheduled runs) would each
    create the children the store lacks. The lock is ``folder/.replay.lock``, created once and
    never deleted (deleting a lock file races with the next replay opening it), opened for
    writing (NFS emulates ``flock`` with write locks). Where it cannot be created or locked (a
    read-only folder, a file system without locks, Windows), replay goes on unlocked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield True
        return
    try:
        descriptor = os.open(folder / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        _logger.debug("replaying %s unlocked: %s", folder, error)
        yield True
        return
    try:
        held = True
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held = False
        except OSError as error:
            _logger.debug("replaying %s unlocked: %s", folder, error)
        yield held
    finally:
        os.close(descriptor)  # releases the lock


def _now_ms() -> int:
    return int(time.time() * 1000)


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.glob("*.json") if p.is_file())
    raise FileNotFoundError(f"spool path {str(path)!r} does not exist")


def _context(client: Any, record: dict[str, Any], parent_id: str, experiment_id: str) -> FitContext:
    return FitContext(
        client=client,
        parent_run_id=parent_id,
        experiment_id=experiment_id,
        mode=str(record.get("mode") or ""),
        fit_id=str(record.get("fit_id") or ""),
    )


def _complete_child(
    ctx: FitContext, run: Any, child: dict[str, Any], record: dict[str, Any]
) -> None:
    """Finish a child that was created before logging failed: add what it lacks, end it."""
    params = {
        k: str(v)
        for k, v in (child.get("params") or {}).items()
        if safe_key(k)[0] not in run.data.params
    }
    metrics = {
        k: v
        for k, v in (child.get("metrics") or {}).items()
        if safe_key(k)[0] not in run.data.metrics
    }
    # tags the run lacks (an AUTOLOG fit stopped mid-way: the best child's tag was never set)
    tags = {k: v for k, v in (child.get("tags") or {}).items() if k not in run.data.tags}
    if params or metrics or tags:
        write_batch(
            ctx,
            run.info.run_id,
            params=params,
            metrics=metrics,
            tags=tags,
            timestamp_ms=record.get("start_ms") or 0,
        )
    if run.info.status != "FINISHED":
        _compat.finish_run(ctx.client, run.info.run_id, "FINISHED", _now_ms())


def _experiment(client: Any, record: dict[str, Any], result: ReplayResult) -> str:
    """Return the experiment a new parent goes to: the recorded name (created when missing),
    else the recorded id, else the default experiment '0' (said in ``result.note``)."""
    from mlflow.exceptions import MlflowException

    name = record.get("experiment_name")
    experiment_id = record.get("experiment_id")
    if isinstance(name, str) and name:
        found = client.get_experiment_by_name(name)
        if found is not None and found.lifecycle_stage == "active":
            return str(found.experiment_id)
        if found is None:
            result.note = f"experiment {name!r} created"
            return str(client.create_experiment(name))
        result.note = f"experiment {name!r} is deleted: replayed into experiment '0'"
        return "0"
    try:
        client.get_experiment(experiment_id or "0")
    except MlflowException:
        result.note = f"experiment {experiment_id!r} not found: replayed into experiment '0'"
        return "0"
    return str(experiment_id or "0")


def _parent(client: Any, path: Path, record: dict[str, Any], result: ReplayResult) -> Any:
    """Return the parent run to replay ``record`` into, after deleting its empty copies.

    The recorded parent; else the parent created for the fit whose answer was lost (found by its
    ``created_for`` tag); else a new one, named and tagged as the fit would have. A parent found
    or created here is written into the file with the status to end it with, so a replay that
    fails half-way continues in it.
    """
    from mlflow.exceptions import MlflowException

    fit_id = str(record["fit_id"])
    parent_id = record.get("parent_run_id")
    if not parent_id:
        # The fit did not get its parent: the store was down, or the create's answer was lost
        # (then the server has the run, tagged for the fit). Create it only when it is not there.
        experiment_id = _experiment(client, record, result)
        found = dedupe_parents(client, experiment_id, fit_id)
        if found is None:
            name = record.get("parent_run_name") or record.get("tuner") or "tuning fit"
            found = client.create_run(
                experiment_id,
                start_time=record.get("start_ms"),
                tags={TAG_RUN_NAME: str(name), TAG_CREATED_FOR: fit_id},
            )
        parent_id = found.info.run_id
        record["parent_run_id"] = parent_id
        record.setdefault(SPOOL_END_PARENT, "FINISHED")
        rewrite_record(path, record)
    try:
        parent = client.get_run(parent_id)
    except MlflowException:
        raise RunNotFound(
            f"spool file {str(path)!r}: parent run {parent_id!r} is not in tracking store "
            f"{redact(client.tracking_uri)!r}"
        ) from None
    # a retried create (the fit's, or the one above) can have left an empty copy
    dedupe_parents(client, parent.info.experiment_id, fit_id, keep=parent_id)
    return parent


def _replay_one(client: Any, path: Path, record: dict[str, Any]) -> ReplayResult:
    result = ReplayResult(path)
    parent = _parent(client, path, record, result)
    parent_id = parent.info.run_id
    experiment_id = parent.info.experiment_id
    present_params = dict(parent.data.params)
    result.parent_run_id = parent_id

    ctx = _context(client, record, parent_id, experiment_id)
    content = record.get("parent") or {}
    params = {}
    for key, value in (content.get("params") or {}).items():
        if key in present_params:
            if present_params[key] != str(value):
                suffixed = f"{key}_{record['fit_id']}"
                result.params_suffixed.append(suffixed)
                params[suffixed] = value
            continue  # already logged (same value): replay is idempotent
        params[key] = value
    tags = content.get("tags") or {}
    metrics = content.get("metrics") or {}
    if params or tags or metrics:
        write_batch(
            ctx,
            parent_id,
            params=params,
            tags=tags,
            metrics=metrics,
            timestamp_ms=record.get("start_ms") or 0,
        )

    existing, _ = dedupe_children(client, experiment_id, parent_id)
    for child in record.get("children") or []:
        child_tags = dict(child.get("tags") or {})
        key = child_tags.get(TAG_CHILD_KEY) or f"{record['fit_id']}:{child['index']}"
        if key in existing:
            _complete_child(ctx, existing[key], child, record)
            result.skipped_children += 1
            continue
        child_tags[TAG_PARENT_RUN_ID] = parent_id
        child_tags[TAG_CHILD_KEY] = key
        run = client.create_run(
            experiment_id,
            start_time=record.get("start_ms"),
            tags=child_tags,
            run_name=child.get("run_name"),
        )
        write_batch(
            ctx,
            run.info.run_id,
            params={k: str(v) for k, v in (child.get("params") or {}).items()},
            metrics=child.get("metrics") or {},
            timestamp_ms=record.get("start_ms") or 0,
        )
        _compat.finish_run(client, run.info.run_id, "FINISHED", _now_ms())
        existing[key] = run
        result.created_children += 1
    _end_parent(client, record, parent_id)
    return result


def _store_problem(uri: str, timeout: float) -> str | None:
    """Why the store at ``uri`` must not be replayed into now, or ``None``."""
    missing = store_missing(uri)
    if missing is not None:
        return missing
    why = store_unreachable(uri, timeout)
    return None if why is None else f"tracking store {why}"


def _end_parent(client: Any, record: dict[str, Any], parent_id: str) -> None:
    """End the parent with the spooled status when the fit could not end it (still RUNNING)."""
    status = record.get(SPOOL_END_PARENT)
    if status and client.get_run(parent_id).info.status == "RUNNING":
        _compat.finish_run(client, parent_id, str(status), _now_ms())


def replay(
    path: str | os.PathLike[str] | None = None, *, tracking_uri: str | None = None
) -> list[ReplayResult]:
    """Log every spool file under ``path`` (a file or a folder; default: the spool folder).

    Args:
        path: a spool file or a folder of them; default: the spool folder.
        tracking_uri: the store to replay into; default: the one each file records (the store
            its fit was meant for). Credentials come from the URI or, as for mlflow, from
            ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD``/``MLFLOW_TRACKING_TOKEN``.

    A fully replayed file moves to ``<folder>/replayed/``. A file stays, and its
    :class:`ReplayResult` says why, when its parent run is missing, its store refused a write,
    its store does not exist (never created here) or does not answer (probed first, 2 s), or its
    version is unknown. A file that is not a spool file is left alone (``ignored``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    folder = Path(path) if path is not None else default_spool_dir()
    if path is None and not folder.exists():
        return []
    _files(folder)  # a path that does not exist: FileNotFoundError before anything else
    with _folder_lock(folder if folder.is_dir() else folder.parent) as held:
        if not held:
            return [ReplayResult(file, error=_BUSY) for file in _files(folder)]
        # listed under the lock: a file another replay moved to replayed/ is not seen
        return _replay_files(_files(folder), tracking_uri)


def _replay_files(files: list[Path], tracking_uri: str | None) -> list[ReplayResult]:
    """Replay ``files`` (see :func:`replay`), under the folder's lock."""
    from mlflow.tracking import MlflowClient

    clients: dict[str, Any] = {}
    problems: dict[str, str | None] = {}
    results = []
    for file in files:
        try:
            record = read_record(file)
        except NotSpoolFile as why:
            results.append(ReplayResult(file, ignored=f"not a spool file: {why}"))
            continue
        except ValueError as error:
            results.append(ReplayResult(file, error=str(error)))
            continue
        if tracking_uri is not None:
            uri, source = tracking_uri, "given"
        else:
            # version 1 recorded the URI with its credentials replaced by '***': drop them
            uri = recorded_uri(str(record.get("tracking_uri") or ""))
            source = "recorded in the file"
        shown = redact(uri)
        if not uri:
            results.append(
                ReplayResult(
                    file,
                    error="the file records no tracking URI: pass --tracking-uri",
                )
            )
            continue
        if uri not in problems:
            problems[uri] = _store_problem(uri, _PROBE_TIMEOUT)
        if problems[uri] is not None:
            results.append(
                ReplayResult(
                    file,
                    error=str(problems[uri]),
                    tracking_uri=shown,
                    uri_source=source,
                )
            )
            continue
        client = clients.get(uri) or clients.setdefault(uri, MlflowClient(tracking_uri=uri))
        try:
            result = _replay_one(client, file, record)
        except Exception as error:
            # one line: a store error's text can carry the SQL statement and its parameters
            result = ReplayResult(file, error=error_text(error))
        else:
            done = file.parent / "replayed"
            done.mkdir(exist_ok=True)
            os.replace(file, done / file.name)
        result.tracking_uri, result.uri_source = shown, source
        results.append(result)
    return results
