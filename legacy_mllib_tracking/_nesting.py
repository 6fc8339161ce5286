"""Only the outermost tuning fit logs (SPEC 5.5): which tuning fit is a nested one.

Same-thread nesting is seen through a thread-local depth; tuners fitted in pyspark's tuning thread
pool (``parallelism`` > 1) are recognised by uid, which pyspark's ``copy()`` keeps.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from legacy_mllib_tracking._tuning import nested_tuner_uids

__all__ = ["nesting", "outermost"]

_local = threading.local()
_suppressed: Counter[str] = Counter()
_suppressed_lock = threading.Lock()


def outermost(tuner: Any) -> bool:
    """Whether a fit of ``tuner`` starting now is no tuning fit's nested fit."""
    if getattr(_local, "depth", 0) > 0:
        return False
    with _suppressed_lock:
        return _suppressed[tuner.uid] == 0


@contextmanager
def nesting(tuner: Any) -> Iterator[None]:
    """Mark the fits of ``tuner`` and of the tuners inside it as nested while the block runs."""
    try:
        inner = nested_tuner_uids(tuner)
    except Exception:  # a custom estimator tree we cannot walk: same-thread guard still holds
        inner = frozenset()
    with _suppressed_lock:
        _suppressed.update(inner)
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1
        with _suppressed_lock:
            _suppressed.subtract(inner)
            for uid in inner:
                if _suppressed[uid] <= 0:
                    del _suppressed[uid]
