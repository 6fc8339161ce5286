"""The spool: what a fit could not log, kept in JSON files that ``replay`` logs later.

One file per fit (and one per run end that did not reach the store) in :func:`default_spool_dir`:
env ``LEGACY_MLLIB_TRACKING_SPOOL_DIR``, default ``~/.cache/legacy-mllib-tracking/spool``.
:func:`spool_record` and :func:`end_record` build a record, :func:`write_spool` writes it (never
over another file, credentials redacted), :func:`read_record` reads one back and checks that it is
a spool file of a version this library reads, :func:`rewrite_record` updates one in place.
"""

from __future__ import annotations

import json
import os
import shlex
import threading
import time
from pathlib import Path
from typing import Any

from legacy_mllib_tracking import _compat
from legacy_mllib_tracking._safety import recorded_uri, redact
from legacy_mllib_tracking._tuning import TuningFit
from legacy_mllib_tracking._writer import (
    FitContext,
    best_metrics,
    best_params,
    child_tags,
    parent_content,
)
from legacy_mllib_tracking.keys import SPOOL_END_PARENT

__all__ = [
    "ENV_SPOOL_DIR",
    "READABLE_VERSIONS",
    "SPOOL_VERSION",
    "NotSpoolFile",
    "default_spool_dir",
    "end_record",
    "read_record",
    "replay_command",
    "replay_hint",
    "rewrite_record",
    "spool_end",
    "spool_record",
    "spool_unlogged",
    "write_spool",
]

#: Where spool files go; default ``~/.cache/legacy-mllib-tracking/spool``.
ENV_SPOOL_DIR = "LEGACY_MLLIB_TRACKING_SPOOL_DIR"
#: The spool file format. 1: the first release. 2: adds ``experiment_name``; the recorded
#: ``tracking_uri`` has no credentials and local paths are absolute. Optional in 2 (a reader
#: that does not know it names the parent itself): ``parent_run_name``.
SPOOL_VERSION = 2
#: The spool file versions :func:`read_record` reads.
READABLE_VERSIONS = frozenset(range(1, SPOOL_VERSION + 1))


class NotSpoolFile(Exception):
    """A file that is not a spool file (not JSON, or without a spool file's keys)."""


def default_spool_dir() -> Path:
    """Return the spool directory: env ``LEGACY_MLLIB_TRACKING_SPOOL_DIR`` or the user cache."""
    configured = os.environ.get(ENV_SPOOL_DIR)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "legacy-mllib-tracking" / "spool"


def spool_record(
    ctx: FitContext, fit: TuningFit, *, tracking_uri: str, reason: str
) -> dict[str, Any]:
    """Return the part of ``fit``'s layout that ``ctx`` did not log, as a JSON-ready dict."""
    parent: dict[str, Any] = {}
    if not ctx.parent_logged:
        params, tags = parent_content(ctx, fit)
        parent = {
            "params": {**params, **best_params(ctx, fit)},
            "tags": tags,
            "metrics": best_metrics(ctx, fit),
        }
    estimator_name = fit.settings.get("estimator", "")
    with ctx.lock:  # threads of a cancelled log_children may still be adding
        logged = set(ctx.logged_children)
    children = [
        {
            "index": info.index,
            "run_name": ctx.child_run_name(info.run_name),
            "params": dict(info.params),
            "metrics": dict(info.metrics),
            "tags": child_tags(ctx, fit, info, estimator_name),
        }
        for info in fit.maps
        if info.index not in logged
    ]
    return {
        "fit_id": ctx.fit_id,
        "reason": reason,
        "tracking_uri": tracking_uri,
        "parent_run_id": ctx.parent_run_id or None,
        "experiment_id": ctx.experiment_id or None,
        "tuner": fit.tuner_name,
        "mode": ctx.mode,
        "start_ms": ctx.start_ms,
        "parent": parent,
        "children": children,
    }


def end_record(ctx: FitContext, status: str, *, tracking_uri: str) -> dict[str, Any]:
    """Return the record of a run end that did not reach the store: ``replay`` ends the parent
    run with ``status`` if it is still RUNNING (its layout was logged or spooled already)."""
    return {
        "fit_id": ctx.fit_id,
        "reason": f"the end of run {ctx.parent_run_id} did not reach the store",
        "tracking_uri": tracking_uri,
        "parent_run_id": ctx.parent_run_id,
        "experiment_id": ctx.experiment_id,
        "mode": ctx.mode,
        "start_ms": ctx.start_ms,
        "parent": {},
        "children": [],
        SPOOL_END_PARENT: status,
    }


def write_spool(record: dict[str, Any], directory: Path | None = None) -> Path:
    """Write one fit's unlogged layout as JSON; return the file's path (created atomically)."""
    folder = directory or default_spool_dir()
    folder.mkdir(parents=True, exist_ok=True)
    record = {"version": SPOOL_VERSION, "written_at": time.time(), **record}
    stem = f"{time.strftime('%Y%m%dT%H%M%S')}-{record['fit_id']}"
    text = redact(json.dumps(record, indent=2, sort_keys=True, default=str))
    temp = folder / f"{stem}.{os.getpid()}.{threading.get_ident()}.tmp"
    temp.write_text(text)
    # A second file of one fit in the same second (its layout, then its run's end) gets its
    # own name: os.link never replaces an existing file, so nothing spooled is overwritten.
    for number in range(1, 1000):
        path = folder / (f"{stem}.json" if number == 1 else f"{stem}-{number}.json")
        try:
            os.link(temp, path)
        except FileExistsError:
            continue
        except OSError:  # a filesystem without hard links: fall back to an exclusive create
            try:
                with open(path, "x", encoding="utf-8") as handle:
                    handle.write(text)
            except FileExistsError:
                continue
        temp.unlink(missing_ok=True)
        return path
    temp.unlink(missing_ok=True)
    raise FileExistsError(f"no free spool file name for {stem!r} in {str(folder)!r}")


def rewrite_record(path: Path, record: dict[str, Any]) -> None:
    """Replace the record in the spool file ``path`` with ``record`` (replay notes the parent run
    it logs into there), through a temporary file: a crash leaves the old record or the new."""
    temp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temp.write_text(redact(json.dumps(record, indent=2, sort_keys=True, default=str)))
    os.replace(temp, path)


def read_record(path: Path) -> dict[str, Any]:
    """Return the spool record in ``path``.

    Raises:
        NotSpoolFile: the file is not a spool file (not JSON, or without a spool file's keys).
        ValueError: a spool file of a version this library does not read.
    """
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise NotSpoolFile(f"not JSON ({type(error).__name__})") from None
    if not (
        isinstance(record, dict)
        and isinstance(record.get("fit_id"), str)
        and record["fit_id"]
        and isinstance(record.get("version"), int)
        and not isinstance(record["version"], bool)
    ):
        raise NotSpoolFile("no spool file version and fit_id")
    if record["version"] not in READABLE_VERSIONS:
        raise ValueError(
            f"spool file version {record['version']!r} is not one this legacy-mllib-tracking "
            f"reads ({', '.join(map(str, sorted(READABLE_VERSIONS)))}); replay it with the "
            f"release that wrote it, or a newer one"
        )
    if not (
        isinstance(record.get("children", []), list) and isinstance(record.get("parent", {}), dict)
    ):
        raise NotSpoolFile("its children/parent are not a spool file's")
    return record


def replay_command(path: str | os.PathLike[str]) -> str:
    """Return the shell command that replays the spool file ``path``, quoted to run as printed."""
    return f"legacy-mllib-tracking replay {shlex.quote(str(Path(path).resolve()))}"


def replay_hint(path: Any, uri: str) -> str:
    """The exact command that logs the spool file ``path``, as a TrackingWarning shows it."""
    hint = f"run `{replay_command(path)}`"
    if uri.lower().startswith(("http://", "https://")) and recorded_uri(uri) != uri:
        hint += " with the store's credentials in MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD"
    return hint


def spool_end(ctx: FitContext, status: str) -> None:
    """Spool the end of a run this library started that did not reach the store (the layout was
    logged or spooled already): ``replay`` ends the run with ``status`` if it is still RUNNING.

    Not when this fit's layout was spooled: that file already asks replay to end the run (and a
    second file of the same fit in the same second would take its name)."""
    if ctx.spool_path is not None:
        return
    try:
        uri = recorded_uri(_compat.tracking_uri_of(ctx.client))
        write_spool(end_record(ctx, status, tracking_uri=uri))
    except Exception as error:
        ctx.fail("the spool file of the run's end", error)


def spool_unlogged(
    ctx: FitContext, fit: TuningFit, reason: str, *, uri: str, managed: bool
) -> None:
    """Spool what ``ctx`` did not log of ``fit`` (LEGACY: what missed the deadline or failed;
    AUTOLOG: the whole layout once its tracking calls stopped, see ``_autolog.log_fit``). With
    ``managed`` (this library started the parent run) the record asks replay to end the parent
    FINISHED if it is still running: the end of the run may not reach the store either."""
    try:
        record = spool_record(ctx, fit, tracking_uri=recorded_uri(uri), reason=reason)
        if managed:
            record[SPOOL_END_PARENT] = "FINISHED"
        path = write_spool(record)
        ctx.spool_path = path
        ctx.failures.append(f"the unlogged part is saved to {path}; {replay_hint(path, uri)}")
    except Exception as error:
        ctx.fail("the spool file of the unlogged part", error)
