"""The calls of Python code that the finder reports: tuning fits, flag sets and reads, runs,
autolog, ``configure()``, notebook calls and installs.
"""

from __future__ import annotations

import ast

from legacy_mllib_tracking.notebooks._cursor import _Cursor
from legacy_mllib_tracking.notebooks._model import Kind
from legacy_mllib_tracking.notebooks._resolve import _dotted, _kwarg, _literal, _Resolver
from legacy_mllib_tracking.notebooks._values import _Estimator, _List, _Pipeline, _State, _Tuner
from legacy_mllib_tracking.notebooks._vocabulary import (
    _AUTOLOG_APIS,
    _BUILTINS,
    _FLAG_TEXT,
    _FLAGS,
    _PACKAGE,
    TUNERS,
)


class _Calls(_Resolver):
    """Reports the calls of one Python cell; knows where the walk is (``with`` blocks,
    functions, loops)."""

    def __init__(self, state: _State, cursor: _Cursor) -> None:
        # _Resolver.__init__ sets only this; a super() call costs more than it (once per cell).
        self.state = state
        self.cursor = cursor
        self.with_depth = 0
        self.function_depth = 0  # > 0 inside a def: that code runs when called
        self.loop_lines: list[int] = []
        self.reported_loops: set[int] = set()

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
