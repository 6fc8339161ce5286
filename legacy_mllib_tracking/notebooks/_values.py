"""The values the finder follows through names (a tuner, its estimator, grid and evaluator, a
``Pipeline``, a list of stages) and the notebook state that carries them from cell to cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class _Estimator:
    cls: str


def _estimator(cls: str) -> _Estimator:
    """``_Estimator(cls)``, for every assigned ``SomeClass(...)`` call: the frozen dataclass's
    __init__ goes through object.__setattr__, three times dearer than filling __dict__ (as
    ``new_cell`` does; tests/unit/test_notebooks_finder.py compares the two)."""
    estimator = object.__new__(_Estimator)
    estimator.__dict__["cls"] = cls
    return estimator


@dataclass(frozen=True)
class _Evaluator:
    cls: str
    metric: str | None


@dataclass(frozen=True)
class _Grid:
    params: tuple[tuple[str | None, str], ...]  # (stage class or None, param name)


@dataclass(frozen=True)
class _List:
    items: tuple[Any, ...]

    def tuner(self) -> _Tuner | None:
        for item in self.items:
            if isinstance(item, _Tuner):
                return item
            if isinstance(item, _Pipeline) and item.tuner() is not None:
                return item.tuner()
        return None


@dataclass(frozen=True)
class _Pipeline:
    stages: _List

    def tuner(self) -> _Tuner | None:
        return self.stages.tuner()


@dataclass(frozen=True)
class _Tuner:
    cls: str
    estimator: Any = None
    grid: _Grid | None = None
    evaluator: _Evaluator | None = None


@dataclass(frozen=True)
class _Function:
    fit_params: frozenset[str]  # parameters whose .fit() the body calls
    with_run: bool  # the fit is inside `with mlflow.start_run()` in the body


@dataclass
class _State:
    """What the notebook has bound so far, carried from cell to cell."""

    names: dict[str, Any] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=lambda: {"mlflow": "mlflow"})
    consts: dict[str, str] = field(default_factory=dict)
    functions: dict[str, _Function] = field(default_factory=dict)
    tuner_names: set[str] = field(default_factory=set)  # names whose value holds a tuner
    bound: set[str] = field(default_factory=set)  # names bound to a value the finder follows
    library: set[str] = field(default_factory=set)  # names bound to this library or configure
    active_run: bool = False

    def set(self, name: str, value: Any) -> None:
        """Bind ``name``, keeping ``tuner_names`` and ``bound`` in step."""
        self.names[name] = value
        if value is None:  # the common case: a name the finder does not follow
            self.tuner_names.discard(name)
            if name not in self.consts:
                self.bound.discard(name)
            return
        if _holds_tuner(value):
            self.tuner_names.add(name)
        else:
            self.tuner_names.discard(name)
        self.bound.add(name)


def _holds_tuner(value: Any) -> bool:
    if isinstance(value, _Tuner):
        return True
    if isinstance(value, (_Pipeline, _List)):
        return value.tuner() is not None
    return False
