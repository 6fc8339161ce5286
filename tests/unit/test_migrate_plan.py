"""Planning a migration (legacy_mllib_tracking.notebooks.plan_notebook) from hand-built
scans: where the ``configure(spark)`` cell goes, and when nothing may change."""

from __future__ import annotations

from typing import Any

import pytest

from legacy_mllib_tracking.notebooks import (
    Cell,
    FileMigration,
    Finding,
    Format,
    Kind,
    MigrationResult,
    Notebook,
    NotebookMigration,
    NotebookReport,
    Outcome,
    Verdict,
    plan_notebook,
)

MD, PY, PIP = "markdown", "python", "pip"
CONFIGURE_CELL = "from legacy_mllib_tracking import configure\nconfigure(spark)"


def _notebook(*cells: tuple[str, str], fmt: Format = Format.DATABRICKS_SOURCE) -> Notebook:
    built = tuple(
        Cell(i, language, source.split()[0] if source.startswith("%") else None, source, None)
        for i, (language, source) in enumerate(cells)
    )
    return Notebook("nb.py", "", fmt, "python", built)


def _finding(
    kind: Kind, cell: int | None, line: int = 1, *, executed: bool = True, **details: Any
) -> Finding:
    return Finding(kind, cell, line, None, "", executed, details)


def _fit(cell: int | None, line: int = 1) -> Finding:
    return _finding(Kind.TUNING_FIT, cell, line, tuner="CrossValidator", via="direct")


def _report(
    notebook: Notebook, *findings: Finding, verdict: Verdict = Verdict.MIGRATE
) -> NotebookReport:
    return NotebookReport(notebook, verdict, findings)


STANDARD = _notebook(
    (MD, "%md\n# Churn model"),
    (PY, "from pyspark.ml.tuning import CrossValidator"),
    (PY, "cv = CrossValidator()"),
    (PY, "with mlflow.start_run():\n    model = cv.fit(train)"),
)


# --- where the cell goes --------------------------------------------------------------------------

# (findings, expected cell)
# fmt: off
PLACES = [
    pytest.param([_fit(3)], 1, id="after-the-leading-markdown"),
    pytest.param([_fit(3), _fit(2)], 1, id="before-the-first-of-two-fits"),
    pytest.param([_fit(3), _finding(Kind.PIP_INSTALL, 1)], 2, id="after-a-pip-cell"),
    pytest.param([_fit(3), _finding(Kind.PIP_INSTALL, 0), _finding(Kind.FLAG_SET, 2,
                  flag="spark.databricks.mlflow.trackMLlib.enabled")], 3,
                 id="after-the-last-flag-cell"),
    pytest.param([_fit(3), _finding(Kind.FLAG_SET, 2, executed=False)], 1,
                 id="a-commented-out-flag-does-not-count"),
    pytest.param([_fit(0)], 0, id="fit-in-the-first-cell"),
]
# fmt: on


@pytest.mark.parametrize(("findings", "cell"), PLACES)
def test_configure_cell_placed(findings: list[Finding], cell: int) -> None:
    """The cell goes after the last pip / flag cell, before the first fit, below a title."""
    notebook = STANDARD
    if cell == 0 and findings[0].cell == 0:
        notebook = _notebook((PY, "model = cv.fit(train)"))
    plan = plan_notebook(_report(notebook, *findings))
    assert plan.outcome is Outcome.CHANGED
    assert plan.cell == cell
    assert not plan.pip


def test_flag_set_after_the_first_fit_changes_nothing() -> None:
    """A flag set after the first fit leaves no valid place: nothing changes, the reason names
    the cell, the flag and the fit."""
    flag = "spark.databricks.mlflow.trackMLlib.enabled"
    plan = plan_notebook(_report(STANDARD, _fit(2), _finding(Kind.FLAG_SET, 3, flag=flag)))
    assert plan.outcome is Outcome.MANUAL
    assert plan.cell is None
    assert f"cell 3 sets {flag}" in plan.reason
    assert "first tuning fit (cell 2)" in plan.reason


def test_pip_in_the_fit_cell_changes_nothing() -> None:
    """A cell that restarts Python and fits cannot have configure() between the two."""
    plan = plan_notebook(_report(STANDARD, _fit(3), _finding(Kind.PIP_INSTALL, 3)))
    assert plan.outcome is Outcome.MANUAL
    assert "restarts Python" in plan.reason


def test_pip_option_adds_a_first_cell_once() -> None:
    """``pip=True`` asks for the %pip cell, unless the notebook already installs the package."""
    assert plan_notebook(_report(STANDARD, _fit(3)), pip=True).pip
    installed = _notebook(
        (PIP, "%pip install legacy-mllib-tracking==0.1.0"),
        *[(c.language, c.source) for c in STANDARD.cells],
    )
    plan = plan_notebook(_report(installed, _fit(4), _finding(Kind.PIP_INSTALL, 0)), pip=True)
    assert (plan.outcome, plan.cell, plan.pip) == (Outcome.CHANGED, 1, False)


# --- when nothing changes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verdict", "outcome"), [(Verdict.OK, Outcome.OK), (Verdict.REVIEW, Outcome.REVIEW)]
)
def test_ok_and_review_are_untouched(verdict: Verdict, outcome: Outcome) -> None:
    """Only verdict ``migrate`` changes a notebook: ``ok`` needs nothing, ``review`` a person."""
    plan = plan_notebook(_report(STANDARD, _fit(3), verdict=verdict))
    assert (plan.outcome, plan.cell) == (outcome, None)


def _configure(cell: int | None, line: int = 1, **details: Any) -> Finding:
    return _finding(
        Kind.LIBRARY_CONFIGURE,
        cell,
        line,
        **{"session": "spark", "mode": None, "runtime_version": None, "dynamic": False, **details},
    )


def test_already_configured_is_not_changed_again() -> None:
    """A notebook whose configure() call covers its fits scans ok: it is reported as configured
    and left alone (a second run changes nothing). Which calls count is the finder's job
    (test_notebooks_finder: every import form, and the lookalikes that do not count)."""
    notebook = _notebook((PY, CONFIGURE_CELL), (PY, "model = cv.fit(train)"))
    plan = plan_notebook(_report(notebook, _configure(0, 2), _fit(1), verdict=Verdict.OK))
    assert (plan.outcome, plan.cell) == (Outcome.CONFIGURED, None)
    assert "already calls configure()" in plan.reason


def test_configure_after_the_fit_needs_a_person() -> None:
    """configure() called only after the first fit: that fit is not tracked; nothing is added."""
    notebook = _notebook((PY, "model = cv.fit(train)"), (PY, CONFIGURE_CELL))
    fit = Finding(
        Kind.TUNING_FIT, 0, 1, None, "", True, {"tuner": "CrossValidator"}, Verdict.MIGRATE
    )
    plan = plan_notebook(_report(notebook, fit, _configure(1, 2)))
    assert plan.outcome is Outcome.MANUAL
    assert "configure() is called in cell 1, after the first tuning fit (cell 0)" in plan.reason


def test_configure_undone_by_a_pip_cell_needs_a_person() -> None:
    """configure() before a %pip cell that restarts Python: the reason says to move the call."""
    notebook = _notebook(
        (PY, CONFIGURE_CELL), (PIP, "%pip install x"), (PY, "model = cv.fit(train)")
    )
    fit = Finding(
        Kind.TUNING_FIT, 2, 1, None, "", True, {"tuner": "CrossValidator"}, Verdict.MIGRATE
    )
    plan = plan_notebook(
        _report(notebook, _configure(0, 2), _finding(Kind.PIP_INSTALL, 1, via="%pip"), fit)
    )
    assert plan.outcome is Outcome.MANUAL
    assert "configure() in cell 0 is undone by cell 1 (pip_install)" in plan.reason
    assert "move the call after cell 1" in plan.reason


def test_configure_routing_off_names_the_call_to_make() -> None:
    """configure(spark) that covers the fit but routes OFF on the target: the reason names
    configure(spark, mode='legacy')."""
    notebook = _notebook((PY, CONFIGURE_CELL), (PY, "model = cv.fit(train)"))
    fit = Finding(
        Kind.TUNING_FIT, 1, 1, None, "", True, {"tuner": "CrossValidator"}, Verdict.MIGRATE
    )
    report = NotebookReport(notebook, Verdict.MIGRATE, (_configure(0, 2), fit), "legacy")
    plan = plan_notebook(report)
    assert plan.outcome is Outcome.MANUAL
    assert "call configure(spark, mode='legacy') instead" in plan.reason


def test_mode_legacy_is_inserted_where_the_report_asks_for_it() -> None:
    """A report whose target needs mode='legacy' gets that call in the new cell."""
    report = NotebookReport(STANDARD, Verdict.MIGRATE, (_fit(3),), "legacy")
    plan = plan_notebook(report)
    assert (plan.outcome, plan.mode, plan.call) == (
        Outcome.CHANGED,
        "legacy",
        "configure(spark, mode='legacy')",
    )
    assert plan.reason.startswith("configure(spark, mode='legacy') cell before cell 1")


def test_html_export_is_scan_only() -> None:
    """An HTML export is never rewritten; the reason says what to migrate instead."""
    notebook = _notebook(
        *[(c.language, c.source) for c in STANDARD.cells], fmt=Format.DATABRICKS_HTML
    )
    plan = plan_notebook(_report(notebook, _fit(3)))
    assert plan.outcome is Outcome.MANUAL
    assert "scan only" in plan.reason


def test_migrate_verdict_without_a_fit() -> None:
    """Legacy names read with no tuning fit in the notebook: nothing to configure here."""
    notebook = _notebook((PY, "mlflow.search_runs(filter_string=\"params.maxDepth = '5'\")"))
    finding = _finding(Kind.LEGACY_NAME_REF, 0, name="params.maxDepth")
    plan = plan_notebook(_report(notebook, finding))
    assert plan.outcome is Outcome.MANUAL
    assert "no tuning fit" in plan.reason


# --- plain scripts --------------------------------------------------------------------------------


def _script(source: str) -> Notebook:
    return Notebook(
        "train.py",
        "",
        Format.PYTHON,
        "python",
        (Cell(0, "python", None, source, 1),),
        plain_script=True,
    )


def _line(source: str, needle: str) -> int:
    return next(i for i, line in enumerate(source.split("\n"), 1) if needle in line)


# (source, expected session name, expected "after" line marker, expected indent)
# fmt: off
SCRIPTS = [
    pytest.param("from pyspark.sql import SparkSession\n"
                 "spark = SparkSession.builder.appName('x').getOrCreate()\n"
                 "model = cv.fit(df)\n", "spark", "getOrCreate", "", id="one-line"),
    pytest.param("session = (\n    SparkSession.builder\n    .master('local[2]')\n"
                 "    .getOrCreate()\n)  # end\nmodel = cv.fit(df)\n", "session", "# end", "",
                 id="multi-line-statement"),
    pytest.param("def train(spark):\n    return cv.fit(df)\n\nif __name__ == '__main__':\n"
                 "    spark = SparkSession.builder.getOrCreate()\n    train(spark)\n",
                 "spark", "getOrCreate", "    ", id="main-block-fit-in-a-function"),
    pytest.param("spark = SparkSession.builder.getOrCreate()\n"
                 "spark.conf.set('spark.databricks.mlflow.trackMLlib.enabled', 'true')\n"
                 "model = cv.fit(df)\n", "spark", "conf.set", "", id="after-a-later-flag-set"),
    pytest.param("spark: SparkSession = SparkSession.getActiveSession()\nmodel = cv.fit(df)\n",
                 "spark", "getActiveSession", "", id="active-session-annotated"),
]
# fmt: on


@pytest.mark.parametrize(("source", "name", "marker", "indent"), SCRIPTS)
def test_script_configure_after_the_session(
    source: str, name: str, marker: str, indent: str
) -> None:
    """In a plain script the lines go after the statement that creates the session (or a later
    flag set in its block), with its indentation and its name."""
    flags = (
        [_finding(Kind.FLAG_SET, None, _line(source, "conf.set"))] if "conf.set" in source else []
    )
    plan = plan_notebook(_report(_script(source), _fit(None, _line(source, "cv.fit")), *flags))
    assert plan.outcome is Outcome.CHANGED, plan.reason
    assert (plan.session, plan.after_line, plan.indent) == (name, _line(source, marker), indent)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        pytest.param(
            "spark = get_spark()\nmodel = cv.fit(df)\n",
            "no statement creates",
            id="session-from-a-helper",
        ),
        pytest.param(
            "model = cv.fit(df)\nspark = SparkSession.builder.getOrCreate()\n",
            "runs before line 2",
            id="fit-before-the-session",
        ),
        pytest.param(
            "if True: spark = SparkSession.builder.getOrCreate()\nmodel = cv.fit(df)\n",
            "one-line block",
            id="one-line-block",
        ),
    ],
)
def test_script_without_a_safe_place(source: str, reason: str) -> None:
    """No session statement, a fit before it, or a one-line block: nothing changes, and why."""
    plan = plan_notebook(_report(_script(source), _fit(None, _line(source, "cv.fit"))))
    assert plan.outcome is Outcome.MANUAL
    assert reason in plan.reason


# --- exit status ----------------------------------------------------------------------------------


def _result(
    *,
    write: bool,
    changed: bool = False,
    manual: bool = False,
    review: bool = False,
    error: bool = False,
) -> MigrationResult:
    notebooks = [NotebookMigration("a.py", Verdict.MIGRATE, Outcome.CHANGED, "", cell=0)]
    if manual:
        notebooks.append(NotebookMigration("b.py", Verdict.MIGRATE, Outcome.MANUAL, "why"))
    if review:
        notebooks.append(NotebookMigration("c.py", Verdict.REVIEW, Outcome.REVIEW, "why"))
    files = [
        FileMigration(
            "a.py",
            Format.DATABRICKS_SOURCE,
            tuple(notebooks),
            diff="--- a.py\n" if changed else "",
            written=changed and write,
        )
    ]
    if error:
        files.append(FileMigration("d.dbc", Format.ERROR, error="d.dbc: not a zip"))
    return MigrationResult("15.4 ML", write, tuple(files))


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        pytest.param({"write": False}, 0, id="nothing-to-do"),
        pytest.param({"write": False, "changed": True}, 1, id="dry-run-would-change"),
        pytest.param({"write": True, "changed": True}, 0, id="written"),
        pytest.param({"write": True, "changed": True, "review": True}, 0, id="review-listed"),
        pytest.param({"write": True, "manual": True}, 1, id="manual-left"),
        pytest.param({"write": True, "changed": True, "error": True}, 2, id="a-file-error"),
    ],
)
def test_exit_status(kwargs: dict[str, bool], status: int) -> None:
    """0 nothing left, 1 a change pending or a manual migration, 2 a file error."""
    assert _result(**kwargs).exit_status == status


def test_autolog_call_is_a_barrier() -> None:
    """configure(spark) goes after the notebook's own autolog call (else that call would replace
    what configure() set up)."""
    autolog = _finding(Kind.AUTOLOG_CALL, 2, api="mlflow.autolog", disable=False)
    plan = plan_notebook(_report(STANDARD, _fit(3), autolog))
    assert (plan.outcome, plan.cell) == (Outcome.CHANGED, 3)


def test_manual_child_runs_block_the_change() -> None:
    """Hand-written child runs with a fit that needs migrating: adding configure() would log
    every fit twice, so nothing changes and the reason says why."""
    loop = _finding(Kind.MANUAL_CHILD_RUNS, 3, line=2)
    plan = plan_notebook(_report(STANDARD, _fit(3), loop))
    assert plan.outcome is Outcome.MANUAL
    assert "two trees" in plan.reason and "cell 3" in plan.reason


def test_review_reason_names_what_to_look_at() -> None:
    """A review notebook's reason names the findings a person must look at, and where."""
    read = Finding(Kind.FLAG_READ, 2, 1, None, "", True, {}, Verdict.REVIEW, "…")
    plan = plan_notebook(_report(STANDARD, _fit(3), read, verdict=Verdict.REVIEW))
    assert plan.outcome is Outcome.REVIEW
    assert "flag_read (cell 2)" in plan.reason
