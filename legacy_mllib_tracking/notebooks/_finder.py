"""The finder: what a notebook does that the retired tracker cared about, as target-free findings.

Python cells are read with :mod:`ast` in notebook order; names are followed through assignments
across cells (a tuner built in cell 2 and fitted in cell 5, a ``Pipeline`` whose stages list got
the tuner through ``stages + [cv]`` or ``stages.append(cv)``). Comments, markdown and other
languages are read as text: comments and markdown are documentation (``executed=False``), never
code. Outputs are never read.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

from legacy_mllib_tracking.keys import CONF_AUTOLOG, CONF_TRACK
from legacy_mllib_tracking.notebooks._model import Cell, Finding, Kind, Notebook

__all__ = ["LEGACY_METRIC_NAMES", "TUNERS", "find"]

#: The pyspark tuning estimators whose fits the retired tracker logged.
TUNERS = ("CrossValidator", "TrainValidationSplit")
_FLAGS = (CONF_TRACK, CONF_AUTOLOG)
#: Evaluator metric names a legacy child run could carry (``avg_`` / ``std_`` prefixed for CV).
LEGACY_METRIC_NAMES = frozenset(
    {
        "areaUnderROC",
        "areaUnderPR",
        "f1",
        "accuracy",
        "weightedPrecision",
        "weightedRecall",
        "weightedTruePositiveRate",
        "weightedFalsePositiveRate",
        "weightedFMeasure",
        "logLoss",
        "hammingLoss",
        "rmse",
        "mse",
        "r2",
        "mae",
        "var",
        "silhouette",
    }
)
#: The default ``metricName`` of each pyspark evaluator.
_EVALUATOR_DEFAULTS = {
    "BinaryClassificationEvaluator": "areaUnderROC",
    "MulticlassClassificationEvaluator": "f1",
    "RegressionEvaluator": "rmse",
    "ClusteringEvaluator": "silhouette",
    "MultilabelClassificationEvaluator": "f1Measure",
    "RankingEvaluator": "meanAveragePrecision",
}
# "params.maxDepth", not "sklearn.metrics.f1", "client-params.s3" or a call "params.get(".
_LEGACY_REF = re.compile(r"(?<![\w.\-/])(params|metrics)\.(\w+)\b(?!\s*\()")
# Cells whose comments may hold something we report; only their lines are scanned for comments.
_COMMENT_HINT = re.compile(r"#.*(?:trackMLlib|autologging\.enabled|autolog|params\.|metrics\.)")
_LINE_MAGIC = re.compile(r"^[ \t]*[%!]", re.M)
_PIP_LINE = re.compile(r"^\s*(%pip|%conda|!\s*pip3?|%sh\s+pip3?)\b")
_FLAG_TEXT = re.compile(
    r"(?P<key>spark\.databricks\.mlflow\.(?:trackMLlib|autologging)\.enabled)"
    r"""(?:["']?\s*(?:,|=|->|\s)\s*["']?(?P<value>true|false)\b)?""",
    re.I,
)
#: This library's package: ``<package>.configure(...)`` is a ``library_configure`` finding.
_PACKAGE = "legacy_mllib_tracking"
#: The autolog calls that log pyspark.ml tuning fits (mlflow.autolog turns on every flavor).
_AUTOLOG_APIS = frozenset({"mlflow.autolog", "mlflow.pyspark.ml.autolog"})
# Functions that take a tuner without fitting it.
_BUILTINS = frozenset(dir(builtins)) | {"display", "displayHTML"}
# An expression without one of these words (or a name bound to a tuner) holds no call we report.
# Plain substring tests: several times faster than one regex alternation on long cells.
_CALL_WORDS = (
    ".fit",
    "autolog",
    "start_run",
    "end_run",
    "log_model",
    ".set",
    ".config",
    ".get",
    ".contains",
    ".append",
    "dbutils",
    ".sql",
    "configure",
)
# A cell without one of these (or a name the finder follows) gets the light pass only: imports,
# definitions and top-level assignments (estimators whose class a grid may name), no calls.
_CELL_WORDS = (
    *_CALL_WORDS,
    "Pipeline(",
    "CrossValidator",
    "TrainValidationSplit",
    "ParamGrid",
    "addGrid",
    "Evaluator",
    "stages",
)


def _has_any(text: str, words: Iterable[str]) -> bool:
    # A plain loop: any() over a generator costs a frame per word, this is the hot path.
    for word in words:  # noqa: SIM110
        if word in text:
            return True
    return False


_SCALA_TUNER = re.compile(r"\bnew\s+(CrossValidator|TrainValidationSplit)\b")


# --- values the finder follows through names ---------------------------------------------------


@dataclass(frozen=True)
class _Estimator:
    cls: str


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


# --- helpers -------------------------------------------------------------------------------------


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


#: Nodes that hold no call and no string: a walk does not enter them.
_LEAVES = frozenset(
    {ast.Name, ast.Load, ast.Store, ast.Del}
    | {
        cls
        for base in (ast.operator, ast.boolop, ast.unaryop, ast.cmpop)
        for cls in base.__subclasses__()
    }
)


def _children(node: ast.AST) -> list[ast.AST]:
    """``ast.iter_child_nodes`` as a list, without the nodes of :data:`_LEAVES` (names,
    contexts, operators: nothing below them to find). Several times cheaper than the
    generator on the hot path."""
    found: list[ast.AST] = []
    for name in node._fields:
        value = getattr(node, name, None)
        if type(value) is list:
            for item in value:
                if isinstance(item, ast.AST) and type(item) not in _LEAVES:
                    found.append(item)
        elif isinstance(value, ast.AST) and type(value) not in _LEAVES:
            found.append(value)
    return found


class _Cursor:
    """Locates lines of one cell and builds its findings."""

    def __init__(self, notebook: Notebook, cell: Cell) -> None:
        self.notebook = notebook
        self.cell = cell
        self._lines: list[str] | None = None
        self.findings: list[Finding] = []

    @property
    def lines(self) -> list[str]:
        """The cell's lines, split on first use (most cells never need them)."""
        if self._lines is None:
            self._lines = self.cell.source.split("\n")
        return self._lines

    def add(
        self, kind: Kind, line: int, details: Mapping[str, Any], *, executed: bool = True
    ) -> None:
        line = max(1, min(line, len(self.lines)))
        first = self.cell.first_file_line
        self.findings.append(
            Finding(
                kind=kind,
                cell=None if self.notebook.plain_script else self.cell.index,
                line=line,
                file_line=None if first is None else first + line - 1,
                text=self.lines[line - 1].strip(),
                executed=executed,
                details=dict(details),
            )
        )


# --- Python cells ------------------------------------------------------------------------------


class _PythonCell:
    """Walks one parsed Python cell in execution order, updating the notebook's state."""

    def __init__(self, state: _State, cursor: _Cursor) -> None:
        self.state = state
        self.cursor = cursor
        self.with_depth = 0
        self.function_depth = 0  # > 0 inside a def: that code runs when called
        self.loop_lines: list[int] = []
        self.reported_loops: set[int] = set()

    # resolution -----------------------------------------------------------------------------

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
        if isinstance(node, ast.Name):
            return self.state.names.get(node.id)
        if isinstance(node, ast.Call):
            return self.call_value(node)
        if isinstance(node, (ast.List, ast.Tuple)):
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
            if isinstance(func, ast.Attribute)
            else (func.id if isinstance(func, ast.Name) else "")
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
        if isinstance(func, ast.Attribute):
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
            return _Estimator(last)
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

    # statements -------------------------------------------------------------------------------

    def run(self, tree: ast.Module) -> None:
        self.body(tree.body)

    def light(self, tree: ast.Module) -> None:
        """The pass for a cell with nothing to report: bind what later cells may use."""
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self.statement(node)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                value = self.value(node.value) if isinstance(node.value, ast.Call) else None
                constant = _literal(node.value)
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    self.bind(target, value, constant)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                # Defined here, so a tuner passed to it later is no call into another file.
                self.state.functions[node.name] = _Function(frozenset(), False)

    def body(self, statements: Sequence[ast.stmt]) -> None:
        for statement in statements:
            self.statement(statement)

    def statement(self, node: ast.stmt) -> None:
        # The most frequent statements first.
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            value_node = node.value
            if value_node is None:
                return
            self.expression(value_node)
            value = self.value(value_node)
            constant = _literal(value_node)
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                self.bind(target, value, constant)
        elif isinstance(node, ast.Expr):
            self.expression(node.value)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.state.aliases[alias.asname] = alias.name
                else:
                    head = alias.name.split(".", 1)[0]
                    self.state.aliases[head] = head
                if alias.name.split(".", 1)[0] == _PACKAGE:
                    self.state.library.add(alias.asname or _PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            library = module.split(".", 1)[0] == _PACKAGE
            for alias in node.names:
                if alias.name != "*":
                    self.state.aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
                    if library:
                        # ``configure as setup``: later cells call it by a name with no hint
                        self.state.library.add(alias.asname or alias.name)
        elif isinstance(node, ast.AugAssign):
            self.expression(node.value)
            if isinstance(node.target, ast.Name) and isinstance(node.op, ast.Add):
                left = self.state.names.get(node.target.id)
                right = self.value(node.value)
                if isinstance(left, _List) and isinstance(right, _List):
                    self.state.set(node.target.id, _List(left.items + right.items))
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            runs = 0
            for item in node.items:
                call = item.context_expr
                if isinstance(call, ast.Call) and self.is_mlflow(call.func, "start_run"):
                    self.start_run(call, in_with=True)
                    runs += 1
                else:
                    self.expression(call)
            self.with_depth += runs
            self.body(node.body)
            self.with_depth -= runs
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            self.expression(node.iter if not isinstance(node, ast.While) else node.test)
            self.loop_lines.append(node.lineno)
            self.body(node.body)
            self.loop_lines.pop()
            self.body(node.orelse)
        elif isinstance(node, ast.If):
            self.expression(node.test)
            self.body(node.body)
            self.body(node.orelse)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            self.body(node.body)  # type: ignore[attr-defined]
            for handler in node.handlers:  # type: ignore[attr-defined]
                self.body(handler.body)
            self.body(node.orelse)  # type: ignore[attr-defined]
            self.body(node.finalbody)  # type: ignore[attr-defined]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.function(node)
        elif isinstance(node, ast.ClassDef):
            self.state.functions[node.name] = _Function(frozenset(), False)
            self.body(node.body)
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expression(child)

    def bind(self, target: ast.expr, value: Any, constant: Any) -> None:
        if isinstance(target, ast.Name):
            self.state.set(target.id, value)
            if isinstance(constant, str):
                self.state.consts[target.id] = constant
                self.state.bound.add(target.id)
            else:
                self.state.consts.pop(target.id, None)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.bind(element, None, None)

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        params = {a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)}
        fit_params: set[str] = set()
        with_run = False
        lines = self.cursor.lines[node.lineno - 1 : node.end_lineno or node.lineno]
        fits = any(".fit" in line for line in lines)
        for child in ast.walk(node) if fits else ():
            if isinstance(child, (ast.With, ast.AsyncWith)) and any(
                isinstance(item.context_expr, ast.Call)
                and self.is_mlflow(item.context_expr.func, "start_run")
                for item in child.items
            ):
                with_run = with_run or any(
                    isinstance(n, ast.Call)
                    and isinstance(n.func, ast.Attribute)
                    and n.func.attr == "fit"
                    for body in child.body
                    for n in ast.walk(body)
                )
            if (
                isinstance(child, ast.Call)
                and isinstance(child.func, ast.Attribute)
                and child.func.attr == "fit"
                and isinstance(child.func.value, ast.Name)
                and child.func.value.id in params
            ):
                fit_params.add(child.func.value.id)
        self.state.functions[node.name] = _Function(frozenset(fit_params), with_run)
        # Fits of notebook-level tuners inside the body are found where they are written.
        depth = self.with_depth
        self.function_depth += 1
        self.body(node.body)
        self.function_depth -= 1
        self.with_depth = depth

    # expressions ------------------------------------------------------------------------------

    def expression(self, node: ast.expr) -> None:
        kind = type(node)
        if kind is ast.Constant or kind in _LEAVES:
            return
        # Walking every expression is most of the cost: skip those whose text cannot hold a
        # call we report (no hint word, no name bound to a tuner).
        start, end = node.lineno, node.end_lineno or node.lineno
        lines = self.cursor.lines
        segment = lines[start - 1] if end == start else "\n".join(lines[start - 1 : end])
        state = self.state
        if (
            not _has_any(segment, _CALL_WORDS)
            and not (state.tuner_names and _has_any(segment, state.tuner_names))
            and not (state.library and _has_any(segment, state.library))
        ):
            return
        # Breadth first, in ast.walk's order (findings on one line keep their order).
        queue: list[ast.AST] = [node]
        for current in queue:  # the list grows while it is read
            if isinstance(current, ast.Call):
                self.call(current)
            queue.extend(_children(current))

    def is_mlflow(self, func: ast.AST, *names: str) -> bool:
        name = self.qualified(func)
        return name is not None and name.startswith("mlflow.") and name.rsplit(".", 1)[-1] in names

    def run_context(self) -> str:
        if self.with_depth:
            return "with"
        return "active-run" if self.state.active_run else "none"

    def call(self, call: ast.Call) -> None:
        func = call.func
        line = call.lineno
        add = self.cursor.add
        if isinstance(func, ast.Attribute) and func.attr == "fit":
            found = self.fit_receiver(func.value)
            if found is not None:
                self.tuning_fit(line, *found, self.run_context())
            return
        qualified = self.qualified(func) or ""
        last = qualified.rsplit(".", 1)[-1]
        if last == "configure" and qualified.startswith(_PACKAGE + "."):
            self.configure(call, line)
            return
        if qualified.startswith("mlflow."):
            if last == "start_run":
                self.start_run(call, in_with=False)
            elif last == "end_run":
                self.state.active_run = False
                add(Kind.END_RUN, line, {})
            elif qualified in _AUTOLOG_APIS:  # not mlflow.spark.autolog (datasource tracking)
                self.autolog(call, line, executed=True)
            elif last == "log_model":
                add(Kind.LOG_MODEL, line, {"api": qualified})
            return
        if isinstance(func, ast.Attribute):
            if func.attr == "sql" and call.args and isinstance(_literal(call.args[0]), str):
                # spark.sql("SET spark.databricks.mlflow.trackMLlib.enabled = true")
                for match in _FLAG_TEXT.finditer(str(_literal(call.args[0]))):
                    flag = next(f for f in _FLAGS if f.lower() == match["key"].lower())
                    if match["value"] is not None:
                        add(
                            Kind.FLAG_SET,
                            line,
                            {"flag": flag, "value": match["value"], "language": "sql"},
                        )
                    else:
                        add(Kind.FLAG_READ, line, {"flag": flag, "language": "sql"})
                return
            if func.attr in ("set", "config", "setConf") and call.args:
                key = self.flag_key(call.args[0])
                if key is not None:
                    value = _literal(call.args[1]) if len(call.args) > 1 else None
                    add(Kind.FLAG_SET, line, {"flag": key, "value": value, "language": "python"})
                    return
            pairs = call.args[0] if call.args else None
            if func.attr == "setAll" and isinstance(pairs, (ast.List, ast.Tuple)):
                for pair in pairs.elts:
                    if isinstance(pair, (ast.Tuple, ast.List)) and len(pair.elts) == 2:
                        key = self.flag_key(pair.elts[0])
                        if key is not None:
                            add(
                                Kind.FLAG_SET,
                                line,
                                {
                                    "flag": key,
                                    "value": _literal(pair.elts[1]),
                                    "language": "python",
                                },
                            )
                return
            if func.attr in ("get", "getOption", "contains", "getConf") and call.args:
                key = self.flag_key(call.args[0])
                if key is not None:
                    add(Kind.FLAG_READ, line, {"flag": key, "language": "python"})
                    return
            if func.attr == "append" and call.args and isinstance(func.value, ast.Name):
                current = self.state.names.get(func.value.id)
                if isinstance(current, _List):
                    self.state.set(func.value.id, _List((*current.items, self.value(call.args[0]))))
                return
        if qualified.startswith("dbutils.notebook.run"):
            target = _literal(call.args[0]) if call.args else _literal(_kwarg(call, "path"))
            add(Kind.NOTEBOOK_CALL, line, {"via": "dbutils.notebook.run", "target": target})
            return
        if qualified.startswith("dbutils.library.") and last in (
            "restartPython",
            "installPyPI",
            "install",
        ):
            add(Kind.PIP_INSTALL, line, {"via": f"dbutils.library.{last}"})
            return
        # A tuner handed to a function: fitted there (a def in this notebook), or somewhere
        # this scan cannot see (an import, a %run notebook): that one needs a person.
        if not call.args or qualified.startswith(("pyspark.", "dbutils.")):
            return
        tuners = [found for found in map(self.fit_receiver, call.args) if found is not None]
        if not tuners:
            return
        function = self.state.functions.get(func.id) if isinstance(func, ast.Name) else None
        if function is not None:
            if function.fit_params:
                context = "with" if function.with_run else self.run_context()
                for tuner, via in tuners:
                    self.tuning_fit(line, tuner, via, context)
        elif self.elsewhere(func):
            for tuner, _ in tuners:
                self.tuning_fit(line, tuner, "call", self.run_context())

    def elsewhere(self, func: ast.AST) -> bool:
        """Whether ``func`` is defined outside this notebook (an import, a %run notebook)."""
        if isinstance(func, ast.Name):
            return func.id not in _BUILTINS and self.is_class(func, (*TUNERS, "Pipeline")) is None
        root = func
        while isinstance(root, ast.Attribute):
            root = root.value
        # helpers.train(cv): a module (or object) imported from elsewhere.
        return (
            isinstance(root, ast.Name)
            and root.id in self.state.aliases
            and not (self.state.aliases[root.id].startswith(("pyspark", "mlflow")))
        )

    def start_run(self, call: ast.Call, *, in_with: bool) -> None:
        nested = _literal(_kwarg(call, "nested"))
        self.cursor.add(Kind.START_RUN, call.lineno, {"nested": nested is True, "with": in_with})
        if not in_with:
            self.state.active_run = True
        if nested is True and self.loop_lines and self.loop_lines[-1] not in self.reported_loops:
            loop = self.loop_lines[-1]
            self.reported_loops.add(loop)
            self.cursor.add(
                Kind.MANUAL_CHILD_RUNS,
                call.lineno,
                {"loop": self.cursor.lines[loop - 1].strip(), "loop_line": loop},
            )

    def configure(self, call: ast.Call, line: int) -> None:
        """``legacy_mllib_tracking.configure(spark, mode=..., runtime_version=...)``.

        ``mode`` and ``runtime_version`` are kept when written as literals; ``dynamic`` is
        true when either (or ``**options``) is an expression the scan cannot read.
        """
        mode = _kwarg(call, "mode")
        runtime = _kwarg(call, "runtime_version")
        dynamic = any(k.arg is None for k in call.keywords) or any(
            node is not None
            and not isinstance(_literal(node), str)
            and not (isinstance(node, ast.Constant) and node.value is None)
            for node in (mode, runtime)
        )
        session = _dotted(call.args[0]) if call.args else None
        self.cursor.add(
            Kind.LIBRARY_CONFIGURE,
            line,
            {
                "session": session,
                "mode": _literal(mode) if isinstance(_literal(mode), str) else None,
                "runtime_version": (
                    _literal(runtime) if isinstance(_literal(runtime), str) else None
                ),
                "dynamic": dynamic,
            },
        )

    def autolog(self, call: ast.Call, line: int, *, executed: bool) -> None:
        name = self.qualified(call.func) or ""
        api = "mlflow.pyspark.ml.autolog" if "pyspark" in name else "mlflow.autolog"
        self.cursor.add(
            Kind.AUTOLOG_CALL,
            line,
            {
                "api": api,
                "exclusive": _literal(_kwarg(call, "exclusive")),
                "disable": _literal(_kwarg(call, "disable")),
            },
            executed=executed,
        )

    def tuning_fit(self, line: int, tuner: _Tuner, via: str, context: str) -> None:
        estimator = tuner.estimator
        piped = isinstance(estimator, _Pipeline)
        estimator_name = (
            "Pipeline" if piped else estimator.cls if isinstance(estimator, _Estimator) else None
        )
        grid = tuner.grid.params if tuner.grid is not None else ()
        counts: dict[str, int] = {}
        for _, name in grid:
            counts[name] = counts.get(name, 0) + 1
        params = []
        for stage, name in grid:
            qualified = f"{stage or 'Stage'}.{name}"
            params.append(
                {
                    "name": name,
                    "stage": stage,
                    "legacy": qualified if counts[name] > 1 else name,
                    "autolog": qualified if piped else name,
                }
            )
        metric = tuner.evaluator.metric if tuner.evaluator is not None else None
        if metric is not None and tuner.cls == "CrossValidator":
            metric = "avg_" + metric
        self.cursor.add(
            Kind.TUNING_FIT,
            line,
            {
                "tuner": tuner.cls,
                "via": via,
                "run_context": context,
                "estimator": estimator_name,
                "params": params,
                "metric": metric,
                "in_function": self.function_depth > 0,
            },
        )


# --- comments, markdown and other languages ----------------------------------------------------


def _legacy_refs(cursor: _Cursor, line: int, text: str, *, executed: bool) -> None:
    for match in _LEGACY_REF.finditer(text):
        group, name = match.groups()
        if group == "metrics" and not (
            name.startswith(("avg_", "std_")) or name in LEGACY_METRIC_NAMES
        ):
            continue
        cursor.add(
            Kind.LEGACY_NAME_REF,
            line,
            {"name": f"{group}.{name}", "autolog_name": None, "documentation": not executed},
            executed=executed,
        )


def _comments(lines: Sequence[str]) -> Iterator[tuple[int, str]]:
    """(line, comment) for each line holding a comment with a hint word.

    A quote-aware scan of each line (cheaper than :mod:`tokenize`); a ``#`` inside a string
    that spans lines is taken as a comment, which can only add a documentation finding.
    """
    for number, line in enumerate(lines, start=1):
        if "#" not in line or not _COMMENT_HINT.search(line):
            continue
        quote = ""
        index = 0
        while index < len(line):
            char = line[index]
            if quote:
                if char == "\\":
                    index += 1
                elif line.startswith(quote, index):
                    index += len(quote) - 1
                    quote = ""
            elif char in "'\"":
                quote = line[index : index + 3] if line.startswith(char * 3, index) else char
                index += len(quote) - 1
            elif char == "#":
                yield number, line[index:]
                break
            index += 1


_AUTOLOG_TEXT = re.compile(r"\bmlflow(?P<ml>\.pyspark\.ml)?\.autolog\s*\(")


def _comment(cursor: _Cursor, line: int, comment: str) -> None:
    """Commented-out code: flag sets and autolog calls as not executed; legacy names as docs."""
    text = comment.lstrip("#").strip()
    _legacy_refs(cursor, line, text, executed=False)
    for match in _FLAG_TEXT.finditer(text):
        if match["value"] is not None:
            key = next(flag for flag in _FLAGS if flag.lower() == match["key"].lower())
            details = {"flag": key, "value": match["value"], "language": "python"}
            cursor.add(Kind.FLAG_SET, line, details, executed=False)
    for match in _AUTOLOG_TEXT.finditer(text):
        api = "mlflow.pyspark.ml.autolog" if match["ml"] else "mlflow.autolog"
        details = {"api": api, "exclusive": None, "disable": None}
        cursor.add(Kind.AUTOLOG_CALL, line, details, executed=False)


def _line_magics(cursor: _Cursor, code: list[str]) -> None:
    """Turn IPython line magics (``%pip``, ``!pip``, ``%run``...) into ``pass``, noting some;
    the lines a magic continues on (after a backslash) become blank."""
    continued = False
    for number, line in enumerate(code, start=1):
        stripped = line.lstrip()
        if continued:
            continued = line.rstrip().endswith("\\")
            code[number - 1] = ""
            continue
        if stripped[:1] in ("%", "!"):
            continued = line.rstrip().endswith("\\")
            pip = _PIP_LINE.match(line)
            if pip is not None:
                cursor.add(Kind.PIP_INSTALL, number, {"via": pip.group(1).replace(" ", "")})
            elif stripped.startswith("%run"):
                target = stripped[4:].strip() or None
                cursor.add(Kind.NOTEBOOK_CALL, number, {"via": "%run", "target": target})
            code[number - 1] = line[: len(line) - len(stripped)] + "pass"


def _strings_on(tree: ast.Module, hits: set[int]) -> Iterator[tuple[int, str, bool]]:
    """``(line, text, executed)`` of each string constant of ``tree`` that spans one of the
    lines ``hits``, in source order; ``executed`` is ``False`` for a bare string statement (a
    docstring: documentation, not a query).

    Only nodes whose lines hold a hit are entered (one pass; most of a long cell is skipped).
    """
    low, high = min(hits), max(hits)
    single = low == high
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                yield node.lineno, node.value, True
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            if isinstance(node.value.value, str):
                yield node.value.lineno, node.value.value, False
            continue
        children = []
        for child in _children(node):
            start = getattr(child, "lineno", None)
            if start is not None:
                end = getattr(child, "end_lineno", None) or start
                if end < low or start > high:
                    continue
                if not single and not any(start <= n <= end for n in hits):
                    continue
            children.append(child)
        stack.extend(reversed(children))


def _python_cell(notebook: Notebook, cell: Cell, state: _State) -> list[Finding]:
    source = cell.source
    cursor = _Cursor(notebook, cell)
    text = source
    if cell.magic is not None:  # "%python": the cell magic's own line is no Python
        code = list(cursor.lines)
        first = next(i for i, line in enumerate(code) if line.strip())
        code[first] = ""
        text = "\n".join(code)
    try:
        tree = ast.parse(text)
    except SyntaxError as error:
        # IPython line magics (an .ipynb's "!pip install", "%matplotlib inline") are no
        # Python: blank them and try again. Only then: a "%" that starts a continuation line
        # is Python's modulo operator, and a plain script has no magics at all.
        retried = None
        if not notebook.plain_script and _LINE_MAGIC.search(text):
            code = text.split("\n")
            _line_magics(cursor, code)
            text = "\n".join(code)
            try:
                retried = ast.parse(text)
            except SyntaxError:
                retried = None
        if retried is None:
            cursor.findings.clear()
            cursor.add(Kind.PARSE_ERROR, error.lineno or 1, {"error": error.msg})
            return cursor.findings
        tree = retried
    walker = _PythonCell(state, cursor)
    # Most cells of a real notebook (data preparation, plots) hold nothing the finder follows:
    # parsed (a syntax error is still reported) but not walked. A cell is walked when it holds
    # a hint word or a name already bound to something the finder follows.
    if (
        _has_any(text, _CELL_WORDS)
        or _has_any(text, state.bound)
        or (state.library and _has_any(text, state.library))
    ):
        walker.run(tree)
    else:
        walker.light(tree)
    if "params." in text or "metrics." in text:
        # Legacy names in code are string constants: walk only the statements on lines that
        # hold one (a filter string, an order_by, a column name).
        hits = {
            n
            for n, line in enumerate(cursor.lines, start=1)
            if ("params." in line or "metrics." in line) and _LEGACY_REF.search(line)
        }
        for first, string, executed in _strings_on(tree, hits) if hits else ():
            for offset, chunk in enumerate(string.split("\n")):
                if "params." in chunk or "metrics." in chunk:
                    _legacy_refs(cursor, first + offset, chunk, executed=executed)
    if "#" in text and _COMMENT_HINT.search(text):
        for number, comment in _comments(cursor.lines):
            _comment(cursor, number, comment)
    if len(cursor.findings) > 1:
        cursor.findings.sort(key=lambda finding: finding.line)
    return cursor.findings


def _text_cell(notebook: Notebook, cell: Cell) -> list[Finding]:
    """Markdown, Scala, SQL, R, shell, %run and %pip cells: read as text."""
    source = cell.source
    language = cell.language
    if language not in ("run", "pip") and not (
        "mlflow" in source.lower()
        or (language == "markdown" and ("params." in source or "metrics." in source))
        or (language == "scala" and any(tuner in source for tuner in TUNERS))
    ):
        return []  # nothing any rule below looks for
    cursor = _Cursor(notebook, cell)
    lines = cursor.lines
    if language == "markdown":
        for number, line in enumerate(lines, start=1):
            if "params." in line or "metrics." in line:
                _legacy_refs(cursor, number, line, executed=False)
        return cursor.findings
    if language == "run":
        target = cell.source.strip()[len("%run") :].strip().split(None, 1)
        cursor.add(
            Kind.NOTEBOOK_CALL,
            _first_code_line(lines),
            {"via": "%run", "target": target[0] if target else None},
        )
        return cursor.findings
    if language == "pip":
        cursor.add(Kind.PIP_INSTALL, _first_code_line(lines), {"via": cell.magic or "%pip"})
        return cursor.findings
    comment = {"scala": "//", "sql": "--", "r": "#"}.get(language, "#")
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        executed = not stripped.startswith(comment)
        for match in _FLAG_TEXT.finditer(line):
            key = next(flag for flag in _FLAGS if flag.lower() == match["key"].lower())
            if match["value"] is not None:
                details = {"flag": key, "value": match["value"], "language": language}
                cursor.add(Kind.FLAG_SET, number, details, executed=executed)
            elif executed:
                cursor.add(Kind.FLAG_READ, number, {"flag": key, "language": language})
        if language == "scala" and executed:
            for match in _SCALA_TUNER.finditer(line):
                cursor.add(
                    Kind.NOT_APPLICABLE, number, {"language": "scala", "tuner": match.group(1)}
                )
    return cursor.findings


def _first_code_line(lines: Sequence[str]) -> int:
    return next((n for n, line in enumerate(lines, start=1) if line.strip()), 1)


def _fill_autolog_names(findings: list[Finding]) -> list[Finding]:
    """Say what plain autolog calls each legacy name, from the fits this notebook makes."""
    renamed: dict[str, str] = {}
    for finding in findings:
        if finding.kind is Kind.TUNING_FIT:
            for param in finding.details["params"]:
                renamed.setdefault(param["legacy"], param["autolog"])
    for finding in findings:
        if finding.kind is Kind.LEGACY_NAME_REF:
            group, _, name = finding.details["name"].partition(".")
            new = name if group == "metrics" else renamed.get(name, name)
            # The details dict is the finder's own until find() returns: fill it in place.
            cast("dict[str, Any]", finding.details)["autolog_name"] = f"{group}.{new}"
    return findings


def find(notebook: Notebook) -> tuple[Finding, ...]:
    """Return every finding in ``notebook``, in notebook order; target-free (no verdicts).

    Python cells are parsed with :mod:`ast` (a cell that does not parse gives a ``parse_error``
    finding and the rest goes on); names are followed across cells in order.
    """
    state = _State()
    findings: list[Finding] = []
    for cell in notebook.cells:
        if cell.language == "python":
            findings.extend(_python_cell(notebook, cell, state))
        else:
            findings.extend(_text_cell(notebook, cell))
    return tuple(_fill_autolog_names(findings))
