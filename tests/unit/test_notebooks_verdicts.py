"""Verdicts and messages per target (legacy_mllib_tracking.notebooks.scan_notebook)."""

from __future__ import annotations

from pathlib import Path

import pytest

from legacy_mllib_tracking.errors import InvalidRuntimeVersion
from legacy_mllib_tracking.keys import CONF_AUTOLOG, CONF_TRACK
from legacy_mllib_tracking.notebooks import (
    NotebookReport,
    parse_target,
    read_notebooks,
    scan_notebook,
)

from .notebook_files import write_source
from .test_notebooks_finder import IMPORTS, TUNER

CONFIGURE = "from legacy_mllib_tracking import configure\nconfigure(spark)"

PIPELINE_TUNED = """\
dt = DecisionTreeClassifier()
grid = ParamGridBuilder().addGrid(dt.maxBins, [8, 16]).build()
cv = CrossValidator(estimator=Pipeline(stages=[VectorAssembler(), dt]), estimatorParamMaps=grid)"""

NOTEBOOKS = {
    "direct": [IMPORTS, TUNER, "model = cv.fit(train)"],
    "with": [IMPORTS, TUNER, "with mlflow.start_run():\n    model = cv.fit(train)"],
    "active-run": [IMPORTS, TUNER, "mlflow.start_run()", "model = cv.fit(train)"],
    "pipeline-tuned": [IMPORTS, PIPELINE_TUNED, "model = cv.fit(train)"],
    "tuner-in-pipeline": [IMPORTS, TUNER, "Pipeline(stages=[VectorAssembler(), cv]).fit(df)"],
    "track-flag": [IMPORTS, f'spark.conf.set("{CONF_TRACK}", "true")', TUNER, "cv.fit(train)"],
    "no-fit": [IMPORTS, "df = spark.range(3)\ndisplay(df)"],
    "manual-child": [
        IMPORTS,
        "for i, m in enumerate(model.avgMetrics):\n"
        "    with mlflow.start_run(nested=True):\n        mlflow.log_metric('m', m)",
    ],
    "flag-read": [f'spark.conf.get("{CONF_TRACK}")'],
    "call": [IMPORTS, TUNER, "from helpers import train\ntrain(cv, df)"],
    "dbutils-run": ['dbutils.notebook.run("./train", 0)'],
    "parse-error": ["def broken(:"],
    "own-autolog-pipeline": [
        IMPORTS,
        "mlflow.pyspark.ml.autolog()",
        PIPELINE_TUNED,
        "cv.fit(train)",
    ],
    "own-autolog-direct": [IMPORTS, "mlflow.pyspark.ml.autolog()", TUNER, "cv.fit(train)"],
    "scala-only": ["%scala\nval cv = new CrossValidator()\ncv.fit(train)"],
    "notes-only": [
        IMPORTS,
        "%pip install x",
        "%run ./setup",
        "mlflow.start_run()\nmlflow.spark.log_model(m, 'm')\nmlflow.end_run()",
        "%md\nparams.maxDepth",
        "# mlflow.autolog()\nmlflow.search_runs(filter_string=\"params.maxDepth = '5'\")",
    ],
    "pipeline-tuned-with": [
        IMPORTS,
        PIPELINE_TUNED,
        "with mlflow.start_run():\n    model = cv.fit(train)",
    ],
    "configured": [
        IMPORTS,
        CONFIGURE,
        TUNER,
        "with mlflow.start_run():\n    model = cv.fit(train)",
    ],
    "configured-legacy": [
        IMPORTS,
        "import legacy_mllib_tracking as lmt",
        TUNER,
        "lmt.configure(spark, mode='legacy')",
        "model = cv.fit(train)",
    ],
    "configured-off": [
        IMPORTS,
        "from legacy_mllib_tracking import configure\nconfigure(spark, mode='off')",
        TUNER,
        "model = cv.fit(train)",
    ],
    "configured-dynamic": [
        IMPORTS,
        "import legacy_mllib_tracking\nlegacy_mllib_tracking.configure(spark, mode=chosen)",
        TUNER,
        "model = cv.fit(train)",
    ],
    "configure-late": [
        IMPORTS,
        TUNER,
        "with mlflow.start_run():\n    model = cv.fit(train)",
        CONFIGURE,
    ],
    "configure-then-pip": [
        IMPORTS,
        CONFIGURE,
        "%pip install x",
        TUNER,
        "with mlflow.start_run():\n    model = cv.fit(train)",
    ],
    "configure-then-restart": [
        IMPORTS,
        CONFIGURE,
        "dbutils.library.restartPython()",
        TUNER,
        "with mlflow.start_run():\n    model = cv.fit(train)",
    ],
    "configure-then-flag": [
        IMPORTS,
        CONFIGURE,
        f'spark.conf.set("{CONF_TRACK}", "true")',
        TUNER,
        "model = cv.fit(train)",
    ],
    "pip-then-configure": [
        IMPORTS,
        "%pip install x",
        CONFIGURE,
        TUNER,
        "with mlflow.start_run():\n    model = cv.fit(train)",
    ],
    "other-configure": [
        IMPORTS,
        "from structlog import configure\nconfigure()",
        TUNER,
        "with mlflow.start_run():\n    model = cv.fit(train)",
    ],
}

# (notebook, target, verdict): target None is the default, the newest ML runtime.
# fmt: off
VERDICTS = [
    ("direct", None, "ok"), ("direct", "15.4 ML", "ok"), ("direct", "15.4.x-scala2.12", "migrate"),
    ("direct", "client.2", "migrate"), ("direct", "oss", "migrate"), ("direct", "9.1", "ok"),
    ("direct", "10.1", "ok"), ("direct", "5.3", "migrate"),
    ("with", None, "migrate"), ("with", "10.4.x-cpu-ml-scala2.12", "migrate"),
    ("with", "oss", "migrate"), ("with", "9.1", "ok"),
    ("active-run", None, "migrate"), ("active-run", "9.1", "ok"),
    ("pipeline-tuned", None, "migrate"), ("pipeline-tuned", "9.1", "ok"),
    ("tuner-in-pipeline", None, "migrate"), ("tuner-in-pipeline", "9.1", "ok"),
    ("track-flag", "5.3", "ok"), ("track-flag", None, "review"), ("track-flag", "oss", "migrate"),
    ("no-fit", None, "ok"), ("no-fit", "oss", "ok"),
    ("manual-child", None, "review"), ("flag-read", None, "review"), ("call", "oss", "review"),
    ("dbutils-run", None, "review"), ("parse-error", None, "review"),
    ("own-autolog-pipeline", "oss", "review"), ("own-autolog-direct", "oss", "ok"),
    ("scala-only", None, "ok"), ("scala-only", "oss", "ok"), ("notes-only", None, "ok"),
    ("configured", None, "ok"), ("configured", "15.4 ML", "ok"), ("configured", "oss", "ok"),
    ("configured", "9.1", "ok"), ("configured", "15.4.x-scala2.12", "migrate"),
    ("configured", "client.2", "migrate"),
    ("configured-legacy", None, "ok"), ("configured-legacy", "15.4.x-scala2.12", "ok"),
    ("configured-legacy", "client.2", "ok"), ("configured-legacy", "oss", "ok"),
    ("configured-off", "15.4.x-scala2.12", "ok"), ("configured-off", None, "ok"),
    ("configured-dynamic", None, "review"),
    ("configure-late", None, "migrate"), ("configure-then-pip", None, "migrate"),
    ("configure-then-restart", None, "migrate"), ("configure-then-flag", "oss", "migrate"),
    ("pip-then-configure", None, "ok"), ("other-configure", None, "migrate"),
]
# fmt: on


def report_for(tmp_path: Path, name: str, target: str | None) -> NotebookReport:
    """Scan the notebook ``name`` of NOTEBOOKS for ``target``."""
    [notebook] = read_notebooks(write_source(tmp_path / f"{name}.py", NOTEBOOKS[name]))
    return scan_notebook(notebook, target)


@pytest.mark.parametrize(
    ("name", "target", "verdict"), [pytest.param(*row, id=f"{row[0]}-{row[1]}") for row in VERDICTS]
)
def test_verdict(tmp_path: Path, name: str, target: str | None, verdict: str) -> None:
    """Each notebook's verdict on each target, as the issue defines migrate / review / ok."""
    report = report_for(tmp_path, name, target)
    assert report.verdict == verdict
    assert all(f.message for f in report.findings)


def message_of(report: NotebookReport, kind: str) -> str:
    """The message of the only finding of ``kind``."""
    [finding] = [f for f in report.findings if f.kind == kind]
    return finding.message


def test_fit_inside_a_run_on_new_ml_runtime_says_exclusive_autologging(tmp_path: Path) -> None:
    """The message names Databricks Autologging's exclusive=True and what the library does."""
    message = message_of(report_for(tmp_path, "with", "15.4 ML"), "tuning_fit")
    assert "mlflow.autolog(exclusive=True) when the notebook attaches" in message
    assert "logs no params and no child runs" in message
    assert "with it: configure(spark) routes AUTOLOG" in message
    assert "params.regParam" in message and "metrics.avg_areaUnderROC" in message


def test_a_fit_that_logs_nothing_is_not_also_said_to_be_logged(tmp_path: Path) -> None:
    """A Pipeline-tuned fit inside a run on a new ML runtime logs nothing: the message says so
    and does not go on about how autolog would name its params."""
    message = message_of(report_for(tmp_path, "pipeline-tuned-with", "15.4 ML"), "tuning_fit")
    assert "logs no params and no child runs" in message
    assert "autolog logs it" not in message and "DecisionTreeClassifier.maxBins" not in message


def test_pipeline_messages_name_the_prefixed_params_and_missing_children(tmp_path: Path) -> None:
    """A Pipeline-tuned estimator: Stage.maxBins; a tuner inside a Pipeline: no child runs."""
    tuned = message_of(report_for(tmp_path, "pipeline-tuned", None), "tuning_fit")
    assert "DecisionTreeClassifier.maxBins" in tuned
    staged = message_of(report_for(tmp_path, "tuner-in-pipeline", None), "tuning_fit")
    assert "a tuner inside a Pipeline gets no child runs" in staged


@pytest.mark.parametrize("target", ["13.3.x-scala2.12", "client.2"])
def test_where_configure_routes_off_the_message_names_mode_legacy(
    tmp_path: Path, target: str
) -> None:
    """On a standard runtime and on serverless nothing is logged and configure(spark) alone
    routes OFF: the message says so and names configure(spark, mode='legacy'), the call the
    report (and so migrate) gives for this target."""
    report = report_for(tmp_path, "direct", target)
    message = message_of(report, "tuning_fit")
    assert "nothing is logged" in message
    assert "configure(spark) alone routes OFF" in message
    assert "configure(spark, mode='legacy') routes LEGACY" in message
    assert report.configure_mode == "legacy"
    assert report.configure_call() == "configure(spark, mode='legacy')"
    flagged = report_for(tmp_path, "track-flag", target)
    assert "configure(spark) routes LEGACY" in message_of(flagged, "tuning_fit")
    assert flagged.configure_mode is None


@pytest.mark.parametrize("target", [None, "15.4 ML", "oss", "9.1"])
def test_where_configure_routes_on_the_call_is_plain(tmp_path: Path, target: str | None) -> None:
    """Where configure(spark) routes LEGACY or AUTOLOG by itself, no mode is forced."""
    report = report_for(tmp_path, "with", target)
    assert report.configure_mode is None
    assert report.configure_call("session") == "configure(session)"


def test_configured_fit_is_ok_and_says_which_call_covers_it(tmp_path: Path) -> None:
    """A fit after configure(spark): ok, the message names the cell of the call and the mode;
    the configure call has its own finding saying what it routes."""
    report = report_for(tmp_path, "configured", None)
    message = message_of(report, "tuning_fit")
    assert "with it: configure(spark) in cell 1 covers this fit: it routes AUTOLOG" in message
    assert "params.regParam" in message
    configure = message_of(report, "library_configure")
    assert configure.startswith("without the library: ")
    assert "with it: routes AUTOLOG on the newest ML runtime" in configure


def test_configure_routing_off_keeps_migrate_and_says_mode_legacy(tmp_path: Path) -> None:
    """configure(spark) on a standard runtime covers the fit but routes OFF: migrate, and the
    message says to pass mode='legacy'."""
    report = report_for(tmp_path, "configured", "15.4.x-scala2.12")
    message = message_of(report, "tuning_fit")
    assert "configure(spark) in cell 1 routes OFF here" in message
    assert "configure(spark, mode='legacy')" in message
    assert "routes OFF" in message_of(report, "library_configure")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("configure-late", "configure() in cell 3 runs after this fit: call it before"),
        ("configure-then-pip", "configure() in cell 1 is undone: cell 2 restarts Python"),
        ("configure-then-restart", "configure() in cell 1 is undone: cell 2 restarts Python"),
        ("configure-then-flag", f"configure() in cell 1 is undone: cell 2 sets {CONF_TRACK}"),
    ],
)
def test_configure_that_does_not_cover_the_fit_says_why(
    tmp_path: Path, name: str, why: str
) -> None:
    """configure() after the fit, or before what undoes it (%pip, restartPython(), a flag
    set): the fit keeps its migrate verdict and the message says why."""
    target = "oss" if name == "configure-then-flag" else None
    fit = next(f for f in report_for(tmp_path, name, target).findings if f.kind == "tuning_fit")
    assert fit.verdict == "migrate"
    assert why in fit.message


def test_configure_with_a_mode_from_a_variable_needs_a_person(tmp_path: Path) -> None:
    """configure(spark, mode=<variable>): the scan cannot tell the mode, so review."""
    message = message_of(report_for(tmp_path, "configured-dynamic", None), "tuning_fit")
    assert "cannot tell" in message


def test_notebook_level_autolog_flag_does_not_switch_autologging_off(tmp_path: Path) -> None:
    """Setting autologging.enabled=false from a notebook: review, and the message says why."""
    path = write_source(tmp_path / "nb.py", [f'spark.conf.set("{CONF_AUTOLOG}", "false")'])
    [notebook] = read_notebooks(path)
    report = scan_notebook(notebook, "15.4 ML")
    assert report.verdict == "review"
    message = message_of(report, "flag_set")
    assert "does not switch Databricks Autologging off" in message
    assert "both flags at cluster level" in message


def test_pip_message_says_python_restarts(tmp_path: Path) -> None:
    """%pip: anything configured before is lost."""
    [notebook] = read_notebooks(write_source(tmp_path / "nb.py", ["%pip install x"]))
    message = message_of(scan_notebook(notebook), "pip_install")
    assert "restart Python: anything configured before is lost" in message


def test_documentation_findings_never_change_the_verdict(tmp_path: Path) -> None:
    """A commented-out flag set and markdown legacy names leave an ok notebook ok."""
    cells = [f'# spark.conf.set("{CONF_AUTOLOG}", "false")', "%md\nparams.maxDepth"]
    [notebook] = read_notebooks(write_source(tmp_path / "nb.py", cells))
    report = scan_notebook(notebook, "oss")
    assert report.verdict == "ok"
    assert [f.executed for f in report.findings] == [False, False]
    assert all(f.verdict is None for f in report.findings)


@pytest.mark.parametrize(
    ("text", "label", "databricks"),
    [
        (None, "the newest ML runtime", True),
        ("oss", "open-source Spark", False),
        ("OSS", "open-source Spark", False),
        ("10.4 LTS ML", "DBR 10.4 ML", True),
        ("client.2", "serverless client.2", True),
    ],
)
def test_parse_target(text: str | None, label: str, databricks: bool) -> None:
    """Targets: the default, oss, and any runtime string configure() accepts."""
    target = parse_target(text)
    assert (target.label, target.databricks) == (label, databricks)


def test_bad_target_names_the_value_and_what_is_accepted() -> None:
    """An unreadable target is an InvalidRuntimeVersion naming it, 'oss' and the shapes."""
    with pytest.raises(InvalidRuntimeVersion, match=r"'ten'.*'oss'.*'10\.4 LTS ML'"):
        parse_target("ten")


def test_notebook_flag_on_open_source_spark_is_read_by_nothing_but_the_library(
    tmp_path: Path,
) -> None:
    """On open-source Spark no Databricks Autologging exists: only configure() reads the flag."""
    path = write_source(tmp_path / "nb.py", [f'spark.conf.set("{CONF_AUTOLOG}", "false")'])
    [notebook] = read_notebooks(path)
    message = message_of(scan_notebook(notebook, "oss"), "flag_set")
    assert message.startswith(
        f"without the library: nothing on open-source Spark reads {CONF_AUTOLOG}"
    )
    assert "routes OFF" in message and f"{CONF_TRACK}=true too" in message


@pytest.mark.parametrize("target", [None, "oss", "9.1", "13.3.x-scala2.12"])
def test_every_message_says_without_the_library_and_with_it(
    tmp_path: Path, target: str | None
) -> None:
    """Each finding's one-line message covers the target without the library and with it."""
    kinds = set()
    for name in NOTEBOOKS:
        for finding in report_for(tmp_path, name, target).findings:
            kinds.add(finding.kind.value)
            assert "\n" not in finding.message
            assert "without the library" in finding.message, (name, finding)
            assert "with it" in finding.message, (name, finding)
    assert len(kinds) == 14  # every kind of the issue, and library_configure


def test_fit_in_a_function_is_covered_by_a_configure_call_before_the_call(
    tmp_path: Path,
) -> None:
    """A fit written in a function defined before configure() runs when the function is called
    (after it): the fit is covered; with no configure() at all it is not."""
    define = IMPORTS + "\n" + TUNER + "\ndef train(df):\n    return cv.fit(df)"
    path = write_source(tmp_path / "nb.py", [define, CONFIGURE, "model = train(df)"])
    [notebook] = read_notebooks(path)
    report = scan_notebook(notebook, "oss")
    assert report.verdict == "ok"
    path = write_source(tmp_path / "bare.py", [define, "model = train(df)"])
    [notebook] = read_notebooks(path)
    assert scan_notebook(notebook, "oss").verdict == "migrate"
