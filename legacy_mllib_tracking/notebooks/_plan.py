"""Planning a migration (pure): where the ``configure(spark)`` cell goes in a notebook, or the
lines in a plain script, or why no safe change exists.
"""

from __future__ import annotations

import ast

from legacy_mllib_tracking.notebooks._migration import (
    _PIP_SELF,
    NotebookMigration,
    Outcome,
)
from legacy_mllib_tracking.notebooks._model import (
    Finding,
    Format,
    Kind,
    Notebook,
    NotebookReport,
    Verdict,
)
from legacy_mllib_tracking.notebooks._verdict import coverage
from legacy_mllib_tracking.notebooks._verdict import where as _place

__all__ = ["plan_notebook"]


def _executed(report: NotebookReport, *kinds: Kind) -> list[Finding]:
    return [f for f in report.findings if f.kind in kinds and f.executed]


def _uncovered(report: NotebookReport) -> str:
    """Why the notebook's own configure() call leaves its first migrate fit untracked."""
    findings = report.findings
    for finding, cover in zip(findings, coverage(findings), strict=True):
        if cover is None or finding.verdict is not Verdict.MIGRATE:
            continue
        fit = _place(finding)
        if cover.later is not None:
            return (
                f"configure() is called in {_place(cover.later)}, after the first tuning fit "
                f"({fit}): move that call before it"
            )
        if cover.configure is not None and cover.undone_by is not None:
            return (
                f"configure() in {_place(cover.configure)} is undone by "
                f"{_place(cover.undone_by)} ({cover.undone_by.kind}) before the tuning fit in "
                f"{fit}: move the call after {_place(cover.undone_by)}"
            )
        if cover.configure is not None:
            return (
                f"configure() in {_place(cover.configure)} does not track the tuning fit in "
                f"{fit} on the target: call {report.configure_call()} instead"
            )
    return "calls configure(), yet a finding still needs migrating: `scan` says why"


def plan_notebook(report: NotebookReport, *, pip: bool = False) -> NotebookMigration:
    """Decide what ``migrate`` does with one scanned notebook (pure: reads no file).

    Args:
        report: the scan of the notebook (its verdict and findings for the target).
        pip: also add ``%pip install legacy-mllib-tracking`` as the first cell (notebooks only).

    Returns:
        The plan: :attr:`Outcome.CHANGED` with the cell (or script line) to insert at, or
        another outcome with the reason nothing changes.
    """
    notebook = report.notebook
    location = notebook.location
    fit_cells = sorted({f.cell or 0 for f in _executed(report, Kind.TUNING_FIT)})
    configured = bool(_executed(report, Kind.LIBRARY_CONFIGURE))
    if report.verdict is Verdict.OK:
        if configured:
            return NotebookMigration(
                location,
                report.verdict,
                Outcome.CONFIGURED,
                "already calls configure() from legacy_mllib_tracking before its tuning fits",
            )
        return NotebookMigration(location, report.verdict, Outcome.OK, "nothing to migrate")
    if report.verdict is Verdict.REVIEW:
        reviews = [f for f in report.findings if f.verdict is Verdict.REVIEW]
        where = ", ".join(
            f"{f.kind} ({'line ' + str(f.line) if f.cell is None else f'cell {f.cell}'})"
            for f in reviews[:3]
        ) + (", ..." if len(reviews) > 3 else "")
        return NotebookMigration(
            location,
            report.verdict,
            Outcome.REVIEW,
            f"a person must look first: {where}; `scan` says why; not changed",
        )
    if configured:
        return NotebookMigration(location, report.verdict, Outcome.MANUAL, _uncovered(report))
    if notebook.format is Format.DATABRICKS_HTML:
        return NotebookMigration(
            location,
            report.verdict,
            Outcome.MANUAL,
            "HTML exports are scan only: migrate the notebook's source export or the notebook",
        )
    if not fit_cells:
        return NotebookMigration(
            location,
            report.verdict,
            Outcome.MANUAL,
            "no tuning fit in this notebook to configure tracking for: "
            "update its legacy names by hand",
        )
    manual_runs = _executed(report, Kind.MANUAL_CHILD_RUNS)
    if manual_runs:
        first = manual_runs[0]
        where = f"line {first.line}" if notebook.plain_script else f"cell {first.cell}"
        return NotebookMigration(
            location,
            report.verdict,
            Outcome.MANUAL,
            f"child runs written by hand ({where}): "
            "with configure(spark) each fit would log two trees; drop that loop, then migrate",
        )
    if notebook.plain_script:
        return _plan_script(report)
    return _plan_cells(report, fit_cells[0], pip=pip)


#: What must run before configure(spark), and how a reason names it.
_BARRIERS = {
    Kind.PIP_INSTALL: "restarts Python (%pip / restartPython)",
    Kind.FLAG_SET: "sets {flag}",
    Kind.AUTOLOG_CALL: "calls mlflow autolog (configure() must run after it)",
}


def _plan_cells(report: NotebookReport, first_fit: int, *, pip: bool) -> NotebookMigration:
    notebook = report.notebook
    barriers: dict[int, str] = {}
    for finding in _executed(report, *_BARRIERS):
        if finding.cell is None:
            continue
        barriers.setdefault(finding.cell, _BARRIERS[finding.kind].format(**finding.details))
    session = _notebook_session(notebook, first_fit)
    name = "spark"  # Databricks defines it before the first cell
    if session is not None:
        created, name = session
        if created >= first_fit:
            return NotebookMigration(
                notebook.location,
                report.verdict,
                Outcome.MANUAL,
                f"the SparkSession ({name}) is created in cell {created}, the cell of the first "
                f"tuning fit: configure({name}) must come between them; split the cell after "
                "the session is created, then migrate",
            )
        barriers.setdefault(created, f"creates the SparkSession ({name})")
    late = sorted(cell for cell in barriers if cell >= first_fit)
    if late:
        cell = late[-1]
        return NotebookMigration(
            notebook.location,
            report.verdict,
            Outcome.MANUAL,
            f"cell {cell} {barriers[cell]} at or after the first tuning fit (cell {first_fit}): "
            "configure(spark) must come after it and before the fit; split or move the cells",
        )
    at = max(barriers) + 1 if barriers else 0
    if not barriers:  # keep the notebook's title and introduction on top
        while at < first_fit and notebook.cells[at].language == "markdown":
            at += 1
    add_pip = pip and not any(_PIP_SELF.search(cell.source) for cell in notebook.cells)
    where = f"before cell {at}" + (
        f" (first tuning fit: cell {first_fit})" if at != first_fit else " (the first tuning fit)"
    )
    mode = report.configure_mode
    call = report.configure_call(name)
    return NotebookMigration(
        notebook.location,
        report.verdict,
        Outcome.CHANGED,
        f"{call} cell {where}"
        + (", %pip cell first" if add_pip else "")
        + ("" if mode is None else f"; configure({name}) alone routes OFF on the target"),
        cell=at,
        session=name,
        pip=add_pip,
        mode=mode,
    )


def _notebook_session(notebook: Notebook, last: int) -> tuple[int, str] | None:
    """The first cell up to ``last`` that creates a SparkSession (a Jupyter notebook does; on
    Databricks ``spark`` exists before the first cell), and the name it binds."""
    for cell in notebook.cells[: last + 1]:
        if cell.language != "python" or (
            "getOrCreate" not in cell.source and "Session" not in cell.source
        ):
            continue
        source = cell.source
        if cell.magic is not None:  # "%python": the magic's own line is no Python
            source = source.replace(cell.magic, "", 1)
        try:
            found = _session_statement(ast.parse(source))
        except (SyntaxError, ValueError):
            continue
        if found is not None:
            return cell.index, found[1]
    return None


# --- plain scripts --------------------------------------------------------------------------------

_SESSION_ROOTS = {"SparkSession", "DatabricksSession"}


def _creates_session(value: ast.expr | None) -> bool:
    """``value`` is ``SparkSession.builder....getOrCreate()`` (or ``getActiveSession()``)."""
    if not isinstance(value, ast.Call) or not isinstance(value.func, ast.Attribute):
        return False
    attrs: list[str] = []
    node: ast.expr = value.func
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        else:
            break
    root = node.id if isinstance(node, ast.Name) else ""
    last = value.func.attr
    if last == "getOrCreate":
        return "builder" in attrs or root in _SESSION_ROOTS
    return last in ("getActiveSession", "active") and root in _SESSION_ROOTS


def _session_statement(tree: ast.Module) -> tuple[ast.stmt, str, list[ast.stmt]] | None:
    """The first statement binding a name to a new SparkSession: (statement, name, its block)."""
    found: list[tuple[int, ast.stmt, str, list[ast.stmt]]] = []
    for parent in ast.walk(tree):
        for field in ("body", "orelse", "finalbody", "handlers"):
            block = getattr(parent, field, None)
            if not isinstance(block, list):
                continue
            for statement in block:
                target: ast.expr | None = None
                if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                    target = statement.targets[0]
                elif isinstance(statement, ast.AnnAssign):
                    target = statement.target
                if isinstance(target, ast.Name) and _creates_session(
                    getattr(statement, "value", None)
                ):
                    found.append((statement.lineno, statement, target.id, block))
    if not found:
        return None
    _, statement, name, block = min(found, key=lambda item: item[0])
    return statement, name, block


def _function_lines(tree: ast.Module) -> set[int]:
    """Lines inside function bodies (code there runs when called, not in file order)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def _plan_script(report: NotebookReport) -> NotebookMigration:
    notebook = report.notebook
    source = notebook.cells[0].source
    manual = Outcome.MANUAL
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as error:
        return NotebookMigration(
            notebook.location, report.verdict, manual, f"does not parse ({error}): not changed"
        )
    found = _session_statement(tree)
    if found is None:
        return NotebookMigration(
            notebook.location,
            report.verdict,
            manual,
            "no statement creates the SparkSession (name = SparkSession.builder...getOrCreate()):"
            " add configure(<session>) after it by hand",
        )
    statement, name, block = found
    line = source.split("\n")[statement.lineno - 1]
    indent = line[: len(line) - len(line.lstrip())]
    if len(indent) != statement.col_offset:
        return NotebookMigration(
            notebook.location,
            report.verdict,
            manual,
            f"the SparkSession is created on line {statement.lineno} inside a one-line block: "
            "add configure() after it by hand",
        )
    after = statement.end_lineno or statement.lineno
    for finding in _executed(report, *_BARRIERS):
        for later in block:
            if later.lineno > after and later.lineno <= finding.line <= (later.end_lineno or 0):
                after = later.end_lineno or later.lineno
    in_functions = _function_lines(tree)
    early = [
        f.line
        for f in _executed(report, Kind.TUNING_FIT)
        if f.line <= after and f.line not in in_functions
    ]
    if early:
        return NotebookMigration(
            notebook.location,
            report.verdict,
            manual,
            f"a tuning fit on line {early[0]} runs before line {after} (SparkSession created or "
            "flags set): add configure() by hand",
        )
    mode = report.configure_mode
    return NotebookMigration(
        notebook.location,
        report.verdict,
        Outcome.CHANGED,
        f"{report.configure_call(name)} after line {after}"
        + ("" if mode is None else f"; configure({name}) alone routes OFF on the target"),
        after_line=after,
        session=name,
        indent=indent,
        mode=mode,
    )
