"""The walk of one parsed Python cell: statements in execution order, names bound as they go,
expressions entered only where they can hold a call the finder reports.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any

from legacy_mllib_tracking.notebooks._calls import _Calls
from legacy_mllib_tracking.notebooks._resolve import _literal
from legacy_mllib_tracking.notebooks._values import _Function, _List
from legacy_mllib_tracking.notebooks._vocabulary import _CALL_WORDS, _PACKAGE, _has_any

#: Nodes that hold no call and no string: a walk does not enter them.
_LEAVES = frozenset(
    {ast.Name, ast.Load, ast.Store, ast.Del}
    | {
        cls
        for base in (ast.operator, ast.boolop, ast.unaryop, ast.cmpop)
        for cls in base.__subclasses__()
    }
)


#: Per node class, the fields that can hold a child node: not names, operators or flags.
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}
_NO_CHILD_FIELDS = frozenset({"ctx", "id", "attr", "arg", "name", "op", "kind", "conversion"})


#: A function or class defined in the notebook that fits nothing (one shared frozen value).
_NO_FITS = _Function(frozenset(), False)


def _child_fields(kind: type) -> tuple[str, ...]:
    fields = tuple(f for f in kind._fields if f not in _NO_CHILD_FIELDS)  # type: ignore[attr-defined]
    _CHILD_FIELDS[kind] = fields
    return fields


def _children(node: ast.AST) -> list[ast.AST]:
    """``ast.iter_child_nodes`` as a list, without the nodes of :data:`_LEAVES` (names,
    contexts, operators: nothing below them to find). Several times cheaper than the
    generator on the hot path."""
    kind = type(node)
    fields = _CHILD_FIELDS.get(kind) or _child_fields(kind)
    found: list[ast.AST] = []
    for name in fields:
        value = getattr(node, name, None)
        if type(value) is list:
            for item in value:
                if isinstance(item, ast.AST) and type(item) not in _LEAVES:
                    found.append(item)
        elif isinstance(value, ast.AST) and type(value) not in _LEAVES:
            found.append(value)
    return found


class _PythonCell(_Calls):
    """Walks one parsed Python cell in execution order, updating the notebook's state."""

    def run(self, tree: ast.Module) -> None:
        self.body(tree.body)

    def light(self, tree: ast.Module) -> None:
        """The pass for a cell with nothing to report: bind what later cells may use."""
        # Assignments first and ``type() is``, as in statement(): this runs for most cells.
        for node in tree.body:
            kind = type(node)
            if kind is ast.Assign or kind is ast.AnnAssign:
                value_node = node.value  # type: ignore[attr-defined]
                if value_node is None:
                    continue
                value = self.value(value_node) if type(value_node) is ast.Call else None
                self.assign(node, value, value_node)
            elif kind is ast.Import or kind is ast.ImportFrom:
                self.statement(node)
            elif kind is ast.FunctionDef or kind is ast.AsyncFunctionDef or kind is ast.ClassDef:
                # Defined here, so a tuner passed to it later is no call into another file.
                self.state.functions[node.name] = _NO_FITS  # type: ignore[attr-defined]

    def body(self, statements: Sequence[ast.stmt]) -> None:
        for statement in statements:
            self.statement(statement)

    def statement(self, node: ast.stmt) -> None:
        # The most frequent statements first; ``type() is`` (ast.parse makes no subclasses).
        kind = type(node)
        if kind is ast.Assign or kind is ast.AnnAssign:
            value_node = node.value  # type: ignore[attr-defined]
            if value_node is None:
                return
            self.expression(value_node)
            self.assign(node, self.value(value_node), value_node)
        elif kind is ast.Expr:
            self.expression(node.value)  # type: ignore[attr-defined]
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
            self.state.functions[node.name] = _NO_FITS
            self.body(node.body)
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expression(child)

    def assign(self, node: ast.stmt, value: Any, value_node: ast.expr) -> None:
        """Bind the targets of the assignment ``node`` (``Assign`` or ``AnnAssign``) to
        ``value``, and to the string ``value_node`` is when it is a literal one."""
        constant = _literal(value_node) if type(value_node) is ast.Constant else None
        if type(node) is ast.Assign:
            for target in node.targets:
                self.bind(target, value, constant)
        else:
            self.bind(node.target, value, constant)  # type: ignore[attr-defined]

    def bind(self, target: ast.expr, value: Any, constant: Any) -> None:
        if type(target) is ast.Name:
            state = self.state
            name = target.id
            state.set(name, value)
            if type(constant) is str:
                state.consts[name] = constant
                state.bound.add(name)
            else:
                state.consts.pop(name, None)
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
