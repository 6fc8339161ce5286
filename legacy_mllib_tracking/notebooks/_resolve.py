"""Resolving Python expressions to the values the finder follows (names, calls, setters, grids,
evaluators, the tuner a ``.fit`` receiver reaches), in the notebook's state.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from legacy_mllib_tracking.notebooks._values import (
    _Estimator,
    _estimator,
    _Evaluator,
    _Grid,
    _List,
    _Pipeline,
    _State,
    _Tuner,
)
from legacy_mllib_tracking.notebooks._vocabulary import _EVALUATOR_DEFAULTS, _FLAGS, TUNERS


def _dotted(node: ast.AST) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    if isinstance(node, ast.Call):
        inner = _dotted(node.func)
        if inner is not None:
            parts.append(inner + "()")
            return ".".join(reversed(parts))
    return None


def _kwarg(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _literal(node: ast.AST | None) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bool, int, float)):
        return node.value
    return None


class _Resolver:
    """Resolves expressions to the values the finder follows, in the notebook's state."""

    def __init__(self, state: _State) -> None:
        self.state = state

    def qualified(self, node: ast.AST) -> str | None:
        """The dotted name with its first part replaced by what it was imported as."""
        dotted = _dotted(node)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        full = self.state.aliases.get(head, head)
        return f"{full}.{rest}" if rest else full

    def is_class(self, node: ast.AST, names: Sequence[str]) -> str | None:
        name = self.qualified(node)
        if name is None:
            return None
        last = name.rsplit(".", 1)[-1]
        if last not in names:
            return None
        # A bare name nobody imported (e.g. from a %run notebook) counts; an import from
        # another package (sklearn's Pipeline) does not.
        if "." in name and not name.startswith("pyspark."):
            return None
        return last

    def flag_key(self, node: ast.AST | None) -> str | None:
        value = _literal(node)
        if isinstance(node, ast.Name):
            value = self.state.consts.get(node.id)
        if isinstance(value, str) and value.strip() in _FLAGS:
            return value.strip()
        return None

    # values -----------------------------------------------------------------------------------

    def value(self, node: ast.AST | None) -> Any:
        # ``type() is``, not isinstance (ast.parse makes no subclasses): runs for every value.
        if type(node) is ast.Name:
            return self.state.names.get(node.id)
        if type(node) is ast.Call:
            return self.call_value(node)
        if type(node) is ast.List or type(node) is ast.Tuple:
            return _List(tuple(self.value(item) for item in node.elts))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.value(node.left), self.value(node.right)
            if isinstance(left, _List) or isinstance(right, _List):
                items: list[Any] = []
                for side in (left, right):
                    items.extend(side.items if isinstance(side, _List) else [side])
                return _List(tuple(items))
            return None
        return None

    def call_value(self, call: ast.Call) -> Any:
        func = call.func
        last = (
            func.attr
            if type(func) is ast.Attribute
            else (func.id if type(func) is ast.Name else "")
        )
        tuner = self.is_class(func, TUNERS) if last in TUNERS else None
        if tuner is not None:
            return _Tuner(
                tuner,
                estimator=self.value(_kwarg(call, "estimator")),
                grid=self.grid(_kwarg(call, "estimatorParamMaps")),
                evaluator=self.evaluator(_kwarg(call, "evaluator")),
            )
        if last == "Pipeline" and self.is_class(func, ("Pipeline",)) is not None:
            stages = _kwarg(call, "stages") or (call.args[0] if call.args else None)
            value = self.value(stages)
            return _Pipeline(value if isinstance(value, _List) else _List(()))
        if type(func) is ast.Attribute:
            attr = func.attr
            if attr.startswith("set"):  # only a setter keeps its receiver's value
                receiver = self.value(func.value)
                if isinstance(receiver, _Tuner):
                    argument = call.args[0] if call.args else None
                    if attr == "setEstimator":
                        return replace(receiver, estimator=self.value(argument))
                    if attr == "setEstimatorParamMaps":
                        return replace(receiver, grid=self.grid(argument))
                    if attr == "setEvaluator":
                        return replace(receiver, evaluator=self.evaluator(argument))
                    return receiver
                if isinstance(receiver, _Pipeline) and attr == "setStages" and call.args:
                    value = self.value(call.args[0])
                    return _Pipeline(value if isinstance(value, _List) else _List(()))
                if isinstance(receiver, (_Estimator, _Evaluator)):
                    return receiver
            elif attr in ("addGrid", "baseOn", "build"):
                return self.grid(call)
        if last.endswith("Evaluator"):
            return self.evaluator(call)
        if last[:1].isupper() and last != "ParamGridBuilder":
            return _estimator(last)
        return None

    def evaluator(self, node: ast.AST | None) -> _Evaluator | None:
        value = self.value(node) if not isinstance(node, ast.Call) else None
        if isinstance(value, _Evaluator):
            return value
        if isinstance(node, ast.Call):
            name = _dotted(node.func) or ""
            cls = name.rsplit(".", 1)[-1]
            if cls.endswith("Evaluator"):
                metric = _literal(_kwarg(node, "metricName"))
                return _Evaluator(
                    cls, metric if isinstance(metric, str) else _EVALUATOR_DEFAULTS.get(cls)
                )
            if isinstance(node.func, ast.Attribute) and node.func.attr == "setMetricName":
                inner = self.evaluator(node.func.value)
                metric = _literal(node.args[0]) if node.args else None
                if inner is not None and isinstance(metric, str):
                    return _Evaluator(inner.cls, metric)
                return inner
        return None

    def grid(self, node: ast.AST | None) -> _Grid | None:
        if isinstance(node, ast.Name):
            value = self.state.names.get(node.id)
            return value if isinstance(value, _Grid) else None
        params: list[tuple[str | None, str]] = []
        if isinstance(node, (ast.List, ast.Tuple)):
            # A hand-written grid: [{dt.maxBins: 8}, {dt.maxBins: 16}]
            for item in node.elts:
                if isinstance(item, ast.Dict):
                    for key in item.keys:
                        params.extend(self.grid_param(key))
            return _Grid(tuple(dict.fromkeys(params)))
        found = False
        while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("addGrid", "baseOn", "build"):
                found = True
                if node.func.attr == "addGrid" and node.args:
                    params[:0] = self.grid_param(node.args[0])
            node = node.func.value
        return _Grid(tuple(dict.fromkeys(params))) if found else None

    def grid_param(self, node: ast.AST | None) -> list[tuple[str | None, str]]:
        if isinstance(node, ast.Attribute):
            stage = self.value(node.value)
            cls = stage.cls if isinstance(stage, _Estimator) else None
            return [(cls, node.attr)]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "getParam"
            and node.args
            and isinstance(_literal(node.args[0]), str)
        ):
            stage = self.value(node.func.value)
            cls = stage.cls if isinstance(stage, _Estimator) else None
            return [(cls, str(_literal(node.args[0])))]
        return []

    def fit_receiver(self, node: ast.AST) -> tuple[_Tuner, str] | None:
        """The tuner a ``.fit`` receiver reaches and how (direct, setter-chain, pipeline)."""
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and (node.func.attr.startswith("set") or node.func.attr == "copy")
        ):
            inner = self.fit_receiver(node.func.value)
            if inner is not None:
                tuner, via = inner
                return tuner, "setter-chain" if via == "direct" else via
        value = self.value(node)
        if isinstance(value, _Tuner):
            return value, "direct"
        if isinstance(value, _Pipeline):
            staged = value.tuner()
            if staged is not None:
                return staged, "pipeline"
        return None

    def is_mlflow(self, func: ast.AST, *names: str) -> bool:
        name = self.qualified(func)
        return name is not None and name.startswith("mlflow.") and name.rsplit(".", 1)[-1] in names
