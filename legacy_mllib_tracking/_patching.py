"""A reversible set of attribute patches; knows nothing of Spark or MLflow."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["PatchSet"]

_MISSING = object()


@dataclass(frozen=True)
class _Record:
    owner: type
    name: str
    previous: Any  # the owner's own attribute before patching, or _MISSING if inherited


class PatchSet:
    """Attribute patches that are recorded before they are applied and undone in reverse order.

    An attribute the owner inherited is restored by deleting the override, never by pinning a copy
    of the inherited value, so a later patch of the base class (mlflow's own) still shows through.
    """

    def __init__(self) -> None:
        self._records: list[_Record] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    def patch(self, owner: type, name: str, make: Callable[[Callable[..., Any]], Any]) -> None:
        """Replace ``owner.name`` by ``make(original)``.

        Args:
            owner: the class to patch.
            name: the attribute name.
            make: called with the attribute as currently resolved on ``owner`` (a function that
                looks the inherited one up at call time when the owner does not define it), returns
                the replacement.
        """
        with self._lock:
            previous = owner.__dict__.get(name, _MISSING)
            self._records.append(_Record(owner, name, previous))
            if previous is _MISSING:

                def original(self: Any, *args: Any, **kwargs: Any) -> Any:
                    # Resolve through the MRO at call time: a base-class patch made later (e.g.
                    # mlflow's safe_patch of Estimator.fit) is honoured.
                    return getattr(super(owner, self), name)(*args, **kwargs)

            else:
                original = previous
            setattr(owner, name, make(original))

    def undo(self) -> None:
        """Restore every patched attribute in reverse order; a second call is a no-op."""
        with self._lock:
            while self._records:
                record = self._records.pop()
                if record.previous is _MISSING:
                    if record.name in record.owner.__dict__:
                        delattr(record.owner, record.name)
                else:
                    setattr(record.owner, record.name, record.previous)
