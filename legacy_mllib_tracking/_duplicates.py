"""Copies of a fit's runs, found by their tags; all but one of each are deleted.

mlflow's HTTP client retries a write whose answer was an error or never came (mlflow 2.17 to
3.17 retry every method, POST too, on 429/5xx and on a dropped connection). A create that a
gateway answered 503 after the server had done it, or whose answer was lost mid-way, therefore
leaves two runs on the server: the one the client got, and an empty copy that stays RUNNING. A
child create answered just after the fit's deadline, or held by a hung server that resumes, can
land after ``replay`` created that child.
This module is the one place such copies are told apart and deleted (``delete_run``: they leave
searches and the UI):

- :func:`dedupe_children`: the children of one parent that share a child key
  (``<fit_id>:<map index>``, tag ``legacy_mllib_tracking.child_key``);
- :func:`dedupe_parents`: the parent runs created for one fit (tag
  ``legacy_mllib_tracking.created_for``, set when the library or ``replay`` creates a parent).

A fit calls them through :func:`remove_duplicate_children` once its children are logged, and
:func:`remove_late_copy` for a child created after its deadline; ``replay`` calls them directly.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any, Protocol

from legacy_mllib_tracking import _compat
from legacy_mllib_tracking._limits import remote_store
from legacy_mllib_tracking.keys import TAG_CHILD_KEY, TAG_CREATED_FOR, TAG_PARENT_RUN_ID

__all__ = ["dedupe_children", "dedupe_parents", "remove_duplicate_children", "remove_late_copy"]

_logger = logging.getLogger(__name__)


class Fit(Protocol):
    """The fit whose copies are removed (a ``_writer.FitContext``)."""

    client: Any
    experiment_id: str
    parent_run_id: str
    fit_id: str
    #: Whether this library created the parent run (tagged for the fit).
    parent_created: bool

    def fail(self, what: str, error: BaseException) -> str | None:
        """Record that ``what`` was not done because of ``error``."""


def dedupe_children(
    client: Any,
    experiment_id: str,
    parent_run_id: str,
    *,
    keys: Collection[str] | None = None,
    prefer: Collection[str] = (),
    defer: str | None = None,
) -> tuple[dict[str, Any], int]:
    """Delete all but one child run per child key under ``parent_run_id``.

    The run kept for a key is one named in ``prefer`` (the runs a fit used), else the one with
    the most data: FINISHED first, then most params and metrics, then the earliest start. The run
    ``defer`` (a create that landed late) is kept only when no other run has its key. Children
    without a child key are returned under ``""`` and never deleted.

    Args:
        client: the ``MlflowClient`` to search and delete with.
        experiment_id: the parent's experiment.
        parent_run_id: the parent whose children are looked at.
        keys: the child keys to look at (default every key; one key: only its runs are searched).
        prefer: run ids to keep over any other run of their key.
        defer: a run id to keep only when it is the only run of its key.

    Returns:
        The run kept per child key, and how many runs were deleted.

    Raises:
        Exception: whatever the client raises; runs deleted before it stay deleted.
    """
    from legacy_mllib_tracking.layout import search_all_runs

    wanted = None if keys is None else frozenset(keys)
    search = f"tags.`{TAG_PARENT_RUN_ID}` = '{parent_run_id}'"
    if wanted is not None and len(wanted) == 1:
        search += f" and tags.`{TAG_CHILD_KEY}` = '{next(iter(wanted))}'"
    by_key: dict[str, list[Any]] = {}
    for run in search_all_runs(client, experiment_id, search):
        key = run.data.tags.get(TAG_CHILD_KEY, "")
        if wanted is None or key in wanted:
            by_key.setdefault(key, []).append(run)

    def rank(run: Any) -> tuple[bool, bool, bool, int, int]:
        return (
            run.info.run_id in prefer,
            run.info.run_id != defer,
            run.info.status == "FINISHED",
            len(run.data.params) + len(run.data.metrics),
            -(run.info.start_time or 0),
        )

    kept: dict[str, Any] = {}
    deleted = 0
    for key, runs in by_key.items():
        runs.sort(key=rank, reverse=True)
        kept[key] = runs[0]
        if key:
            for copy in runs[1:]:
                client.delete_run(copy.info.run_id)
                deleted += 1
    return kept, deleted


def dedupe_parents(
    client: Any, experiment_id: str, fit_id: str, *, keep: str | None = None
) -> Any | None:
    """Delete the empty copies of the parent run created for the fit ``fit_id``.

    The parent kept is ``keep`` (the run the fit logged into), else the run tagged for the fit
    that started first. Another run tagged for the fit is deleted only when it holds no params
    and no metrics: a run something was logged into is never taken for a copy.

    Args:
        client: the ``MlflowClient`` to search and delete with.
        experiment_id: the experiment the parent was created in.
        fit_id: the fit's id (the ``legacy_mllib_tracking.created_for`` tag's value).
        keep: the id of the parent to keep, when the fit knows it.

    Returns:
        The parent run kept, or ``None`` when no run in the experiment is tagged for the fit
        (``keep`` included: a user's run carries no such tag).

    Raises:
        Exception: whatever the client raises.
    """
    from legacy_mllib_tracking.layout import search_all_runs

    runs = sorted(
        search_all_runs(client, experiment_id, f"tags.`{TAG_CREATED_FOR}` = '{fit_id}'"),
        key=lambda run: (run.info.start_time or 0, run.info.run_id),
    )
    kept_id = keep if keep is not None else (runs[0].info.run_id if runs else None)
    kept = None
    for run in runs:
        if run.info.run_id == kept_id:
            kept = run
        elif not run.data.params and not run.data.metrics:
            client.delete_run(run.info.run_id)
    return kept


def remove_duplicate_children(fit: Fit, kept: Mapping[int, str]) -> int:
    """Delete the copies of ``fit``'s runs on an HTTP store; return how many children were
    deleted.

    ``kept`` maps each map index to the child run the fit used; every other child of the parent
    with the fit's child key for a map in ``kept`` is a copy. Runs of a map without a kept run are
    left for ``replay`` to complete. When this library created the parent, its empty copies are
    deleted too. Local stores do not retry, so nothing is searched there. A failure is recorded
    with ``fit.fail``.
    """
    if not remote_store(_compat.tracking_uri_of(fit.client)):
        return 0
    deleted = 0
    try:
        if fit.parent_created:
            dedupe_parents(fit.client, fit.experiment_id, fit.fit_id, keep=fit.parent_run_id)
        if kept:
            _, deleted = dedupe_children(
                fit.client,
                fit.experiment_id,
                fit.parent_run_id,
                keys=[f"{fit.fit_id}:{index}" for index in kept],
                prefer=frozenset(kept.values()),
            )
    except Exception as error:
        fit.fail(f"the removal of duplicate runs (fit {fit.fit_id})", error)
    return deleted


def remove_late_copy(fit: Fit, key: str, run_id: str) -> bool:
    """For the child ``run_id`` whose create returned after the fit's deadline (its map is in the
    spool file): if another run has its child ``key`` (``replay`` logged that map), delete
    ``run_id`` and return True."""
    try:
        kept, _ = dedupe_children(
            fit.client, fit.experiment_id, fit.parent_run_id, keys=[key], defer=run_id
        )
    except Exception:  # the late copy stays; replay keeps the fuller of the two
        _logger.debug("could not check child %s for a replayed copy", key)
        return False
    return key in kept and kept[key].info.run_id != run_id
