"""pyspark's tuning internals: no per-map fit starts after another map of the round failed.

Version-guarded like the rest of ``_compat``: a pyspark without ``_parallelFitTasks`` keeps its
plain behaviour.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from legacy_mllib_tracking._patching import PatchSet

__all__ = ["AbandonedParamMap", "guard_tasks", "install_fit_guard"]

_logger = logging.getLogger(__name__)


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
