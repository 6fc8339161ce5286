"""The finder (legacy_mllib_tracking.notebooks.find): every kind, every trap of the issue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from legacy_mllib_tracking.keys import CONF_AUTOLOG, CONF_TRACK
from legacy_mllib_tracking.notebooks import Finding, find, read_notebooks

from .notebook_files import notebook_v1, write_dbc, write_ipynb, write_source

IMPORTS = """\
import mlflow
from pyspark.ml import Pipeline
from pyspark.ml.classification import DecisionTreeClassifier, LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder, TrainValidationSplit"""

TUNER = """\
lr = LogisticRegression()
grid = ParamGridBuilder().addGrid(lr.regParam, [0.1, 0.01]).build()
cv = CrossValidator(estimator=lr, estimatorParamMaps=grid,
                    evaluator=BinaryClassificationEvaluator(), numFolds=3)"""


def scan_cells(tmp_path: Path, *cells: str, **options: Any) -> list[Finding]:
    """Write a Databricks source notebook with ``cells`` and return its findings."""
    path = write_source(tmp_path / "nb.py", list(cells), **options)
    [notebook] = read_notebooks(path)
    return list(find(notebook))


def of_kind(findings: list[Finding], kind: str) -> list[Finding]:
    """The findings of one kind."""
    return [f for f in findings if f.kind == kind]


# --- tuning_fit ----------------------------------------------------------------------------------


def test_direct_fit_is_found_through_names_across_cells(tmp_path: Path) -> None:
    """A tuner built in one cell and fitted two cells later is a direct tuning fit."""
    findings = scan_cells(tmp_path, IMPORTS, TUNER, "x = 1", "cvModel = cv.fit(train)")
    [fit] = of_kind(findings, "tuning_fit")
    assert (fit.cell, fit.line, fit.text) == (3, 1, "cvModel = cv.fit(train)")
    assert fit.details["tuner"] == "CrossValidator"
    assert fit.details["via"] == "direct"
    assert fit.details["run_context"] == "none"
    assert fit.details["estimator"] == "LogisticRegression"
    assert fit.details["params"] == [
        {
            "name": "regParam",
            "stage": "LogisticRegression",
            "legacy": "regParam",
            "autolog": "regParam",
        },
    ]
    assert fit.details["metric"] == "avg_areaUnderROC"
    assert fit.executed


@pytest.mark.parametrize(
    "code",
    [
        "model = cv.setParallelism(4).fit(train)",
        "model = cv.setParallelism(4).setNumFolds(2).fit(train)",
        "model = CrossValidator(estimator=lr, estimatorParamMaps=grid).setSeed(1).fit(train)",
    ],
)
def test_setter_chain_fit(tmp_path: Path, code: str) -> None:
    """A fit through one or more setters is a setter-chain tuning fit."""
    [fit] = of_kind(scan_cells(tmp_path, IMPORTS, TUNER, code), "tuning_fit")
    assert fit.details["via"] == "setter-chain"


def test_train_validation_split_metric_has_no_avg_prefix(tmp_path: Path) -> None:
    """A TrainValidationSplit fit is a tuning fit; its legacy metric is the bare metricName."""
    code = (
        "tvs = TrainValidationSplit(estimator=lr, estimatorParamMaps=grid,\n"
        "    evaluator=BinaryClassificationEvaluator(metricName='areaUnderPR'))\n"
        "tvs.fit(train)"
    )
    [fit] = of_kind(scan_cells(tmp_path, IMPORTS, TUNER, code), "tuning_fit")
    assert fit.details["tuner"] == "TrainValidationSplit"
    assert fit.details["metric"] == "areaUnderPR"
    assert fit.line == 3


@pytest.mark.parametrize(
    "code",
    [
        "Pipeline(stages=[assembler, cv]).fit(df)",
        "stages = [assembler]\npipe = Pipeline(stages=stages + [cv])\npipe.fit(df)",
        "stages = [assembler]\nstages.append(cv)\nPipeline(stages=stages).fit(df)",
        "pipe = Pipeline().setStages([assembler, cv])\npipe.fit(df)",
    ],
    ids=["list-literal", "stages-plus", "stages-append", "set-stages"],
)
def test_tuner_inside_a_pipeline(tmp_path: Path, code: str) -> None:
    """A Pipeline whose stages hold a tuner is a tuning fit via pipeline."""
    prefix = "assembler = VectorAssembler(inputCols=['a'], outputCol='features')"
    [fit] = of_kind(scan_cells(tmp_path, IMPORTS, TUNER, prefix, code), "tuning_fit")
    assert fit.details["via"] == "pipeline"
    assert fit.text.endswith(".fit(df)")


def test_pipeline_tuned_estimator_names_params_by_stage_for_autolog(tmp_path: Path) -> None:
    """Tuning a Pipeline: legacy child names are bare, plain autolog prefixes the stage."""
    code = (
        "dt = DecisionTreeClassifier()\n"
        "pipe = Pipeline(stages=[VectorAssembler(), dt])\n"
        "grid = ParamGridBuilder().addGrid(dt.maxBins, [8, 16]).addGrid(dt.maxDepth, [2]).build()\n"
        "cv = CrossValidator(estimator=pipe, estimatorParamMaps=grid)\n"
        "cv.fit(df)"
    )
    [fit] = of_kind(scan_cells(tmp_path, IMPORTS, code), "tuning_fit")
    assert fit.details["estimator"] == "Pipeline"
    assert [(p["legacy"], p["autolog"]) for p in fit.details["params"]] == [
        ("maxBins", "DecisionTreeClassifier.maxBins"),
        ("maxDepth", "DecisionTreeClassifier.maxDepth"),
    ]


def test_same_param_in_two_stages_is_qualified_in_legacy_names(tmp_path: Path) -> None:
    """Two stages tuning a param of the same name get Stage.name (SPEC 5.3)."""
    code = (
        "a = LogisticRegression()\nb = DecisionTreeClassifier()\n"
        "grid = ParamGridBuilder().addGrid(a.maxIter, [1]).addGrid(b.maxIter, [2]).build()\n"
        "cv = CrossValidator(estimator=Pipeline(stages=[a, b]), estimatorParamMaps=grid)\n"
        "cv.fit(df)"
    )
    [fit] = of_kind(scan_cells(tmp_path, IMPORTS, code), "tuning_fit")
    assert [p["legacy"] for p in fit.details["params"]] == [
        "LogisticRegression.maxIter",
        "DecisionTreeClassifier.maxIter",
    ]


@pytest.mark.parametrize(
    ("cells", "context"),
    [
        (["with mlflow.start_run():\n    cv.fit(train)"], "with"),
        (["with mlflow.start_run(run_name='x') as run:\n    model = cv.fit(train)"], "with"),
        (["run = mlflow.start_run()", "cv.fit(train)"], "active-run"),
        (["mlflow.start_run()", "mlflow.end_run()", "cv.fit(train)"], "none"),
        (["cv.fit(train)"], "none"),
    ],
    ids=["with", "with-as", "active-run", "ended-run", "none"],
)
def test_run_context(tmp_path: Path, cells: list[str], context: str) -> None:
    """with mlflow.start_run(), a run started earlier and not ended, or none."""
    [fit] = of_kind(scan_cells(tmp_path, IMPORTS, TUNER, *cells), "tuning_fit")
    assert fit.details["run_context"] == context


def test_fit_inside_a_local_function_called_with_the_tuner(tmp_path: Path) -> None:
    """A notebook-local function that fits its argument, called with a tuner, is a fit."""
    code = (
        "def train(estimator, data):\n    with mlflow.start_run():\n"
        "        return estimator.fit(data)\n"
        "train(cv, df)"
    )
    [fit] = of_kind(scan_cells(tmp_path, IMPORTS, TUNER, code), "tuning_fit")
    assert fit.details["via"] == "direct"
    assert fit.details["run_context"] == "with"
    assert fit.line == 4


def test_tuner_handed_to_code_in_another_file_is_a_call(tmp_path: Path) -> None:
    """A tuner passed to an imported function is a tuning fit via call (a person must look)."""
    code = "from helpers import train_model\ntrain_model(cv, df)\nprint(cv)\ndisplay(cv)"
    [fit] = of_kind(scan_cells(tmp_path, IMPORTS, TUNER, code), "tuning_fit")
    assert fit.details["via"] == "call"
    assert fit.line == 2


def test_traps_are_not_tuning_fits(tmp_path: Path) -> None:
    """Other estimators' fits, a model called cvModel, sklearn, comments and Scala are not fits."""
    findings = scan_cells(
        tmp_path,
        IMPORTS,
        TUNER,
        "cvModel = lr.fit(train)\npipelineModel = Pipeline(stages=[lr]).fit(df)\n"
        "best = cvModel.bestModel\nbest.transform(df)",
        "from sklearn.model_selection import GridSearchCV\nfrom sklearn import metrics\n"
        "gs = GridSearchCV(est, {'C': [1, 10]})\ngs.fit(X, y)\n"
        "print(metrics.accuracy_score(y, gs.predict(X)))\n"
        "# cv.fit(train)\n# with mlflow.start_run():\n#     cv.fit(train)",
        "%md\nWe used to call `cv.fit(train)` here.",
        "%scala\nimport org.apache.spark.ml.tuning.CrossValidator\n"
        "val cv = new CrossValidator()\nval model = cv.fit(train)",
    )
    assert of_kind(findings, "tuning_fit") == []
    assert of_kind(findings, "legacy_name_ref") == []
    [scala] = of_kind(findings, "not_applicable")
    assert (scala.cell, scala.line, scala.details["tuner"]) == (5, 3, "CrossValidator")


def test_sklearn_pipeline_and_foreign_crossvalidator_are_not_tuners(tmp_path: Path) -> None:
    """Names imported from another package (sklearn's Pipeline, a CrossValidator) do not count."""
    code = (
        "from sklearn.pipeline import Pipeline as SkPipeline\n"
        "from mylib import CrossValidator as CV\n"
        "CV(estimator=lr).fit(df)\nSkPipeline([('cv', cv)]).fit(X, y)"
    )
    assert of_kind(scan_cells(tmp_path, TUNER.replace("cv =", "cv2 ="), code), "tuning_fit") == []


# --- flags, autolog, runs ------------------------------------------------------------------------


def test_flag_set_every_way_with_value_as_written(tmp_path: Path) -> None:
    """spark.conf.set, builder.config, SparkConf().set (string or bool), commented out too."""
    findings = scan_cells(
        tmp_path,
        f'spark.conf.set("{CONF_TRACK}", "true")\n'
        f'SparkSession.builder.config("{CONF_AUTOLOG}", False).getOrCreate()\n'
        f'conf = SparkConf().set("{CONF_TRACK}", True)\n'
        f'KEY = "{CONF_AUTOLOG}"\nspark.conf.set(KEY, "false")\n'
        f'# spark.conf.set("{CONF_AUTOLOG}", "false")',
    )
    assert [
        (f.line, f.details["flag"], f.details["value"], f.executed)
        for f in of_kind(findings, "flag_set")
    ] == [
        (1, CONF_TRACK, "true", True),
        (2, CONF_AUTOLOG, False, True),
        (3, CONF_TRACK, True, True),
        (5, CONF_AUTOLOG, "false", True),
        (6, CONF_AUTOLOG, "false", False),
    ]


def test_flag_set_in_scala_and_sql_cells(tmp_path: Path) -> None:
    """A Scala cell and a SQL SET change the same session conf: flag_set in that language."""
    findings = scan_cells(
        tmp_path,
        f'%scala\nspark.conf.set("{CONF_TRACK}", "true")\n// spark.conf.set("{CONF_AUTOLOG}", "x")',
        f"%sql\nSET {CONF_AUTOLOG} = false",
        f"%sql\nSET {CONF_TRACK}",
    )
    sets = of_kind(findings, "flag_set")
    assert [(f.cell, f.details["language"], f.details["value"], f.executed) for f in sets] == [
        (0, "scala", "true", True),
        (1, "sql", "false", True),
    ]
    [read] = of_kind(findings, "flag_read")
    assert (read.cell, read.details["language"]) == (2, "sql")


def test_flag_read(tmp_path: Path) -> None:
    """spark.conf.get of either flag is a flag read."""
    findings = scan_cells(tmp_path, f'if spark.conf.get("{CONF_TRACK}") == "true":\n    pass')
    [read] = of_kind(findings, "flag_read")
    assert read.details["flag"] == CONF_TRACK


def test_autolog_calls(tmp_path: Path) -> None:
    """mlflow.autolog, mlflow.pyspark.ml.autolog (imported any way); commented ones not run."""
    findings = scan_cells(
        tmp_path,
        "import mlflow\nmlflow.autolog(exclusive=True)\n"
        "import mlflow.pyspark.ml\nmlflow.pyspark.ml.autolog(disable=True)\n"
        "from mlflow.pyspark.ml import autolog as ml_autolog\nml_autolog()\n"
        "# mlflow.pyspark.ml.autolog()",
    )
    assert [
        (f.line, f.details["api"], f.details["exclusive"], f.details["disable"], f.executed)
        for f in of_kind(findings, "autolog_call")
    ] == [
        (2, "mlflow.autolog", True, None, True),
        (4, "mlflow.pyspark.ml.autolog", None, True, True),
        (6, "mlflow.pyspark.ml.autolog", None, None, True),
        (7, "mlflow.pyspark.ml.autolog", None, None, False),
    ]


def test_runs_models_and_manual_child_runs(tmp_path: Path) -> None:
    """start_run / end_run / log_model, and nested runs written by hand in a loop."""
    findings = scan_cells(
        tmp_path,
        IMPORTS,
        TUNER,
        "with mlflow.start_run():\n"
        "    model = cv.fit(train)\n"
        "    for params, metric in zip(grid, model.avgMetrics):\n"
        "        with mlflow.start_run(nested=True):\n"
        "            mlflow.log_metric('auc', metric)\n"
        "    mlflow.spark.log_model(model.bestModel, 'model')\n"
        "mlflow.end_run()",
    )
    assert [(f.line, f.details["nested"]) for f in of_kind(findings, "start_run")] == [
        (1, False),
        (4, True),
    ]
    [manual] = of_kind(findings, "manual_child_runs")
    assert manual.line == 4
    assert manual.details["loop"].startswith("for params, metric in zip(")
    [model] = of_kind(findings, "log_model")
    assert model.details["api"] == "mlflow.spark.log_model"
    assert len(of_kind(findings, "end_run")) == 1


# --- legacy names ---------------------------------------------------------------------------------


def test_legacy_names_in_filters_order_by_columns_and_markdown(tmp_path: Path) -> None:
    """params.<name> / metrics.avg_<m> in code strings and markdown (documentation)."""
    findings = scan_cells(
        tmp_path,
        "runs = mlflow.search_runs(filter_string=\"params.maxDepth = '5'\",\n"
        "                          order_by=['metrics.avg_areaUnderROC DESC'])\n"
        "best = runs['params.regParam']\n"
        "from sklearn import metrics\nmetrics.f1_score(a, b)\n"
        "name = 'sklearn.metrics.f1'",
        "%md\nFilter on `params.maxDepth` in the UI.",
    )
    refs = of_kind(findings, "legacy_name_ref")
    assert [(f.cell, f.line, f.details["name"], f.executed) for f in refs] == [
        (0, 1, "params.maxDepth", True),
        (0, 2, "metrics.avg_areaUnderROC", True),
        (0, 3, "params.regParam", True),
        (1, 2, "params.maxDepth", False),
    ]
    assert refs[3].details["documentation"] is True


def test_legacy_name_gets_its_autolog_name_from_a_pipeline_fit(tmp_path: Path) -> None:
    """When this notebook tunes a Pipeline, params.maxBins is params.Stage.maxBins for autolog."""
    code = (
        "dt = DecisionTreeClassifier()\n"
        "grid = ParamGridBuilder().addGrid(dt.maxBins, [8]).build()\n"
        "cv = CrossValidator(estimator=Pipeline(stages=[dt]), estimatorParamMaps=grid)\n"
        "cv.fit(df)\nmlflow.search_runs(filter_string=\"params.maxBins = '8'\")"
    )
    [ref] = of_kind(scan_cells(tmp_path, IMPORTS, code), "legacy_name_ref")
    assert ref.details["autolog_name"] == "params.DecisionTreeClassifier.maxBins"


# --- notebooks, pip, parse errors, formats ------------------------------------------------------


def test_notebook_calls_and_pip_installs(tmp_path: Path) -> None:
    """%run and dbutils.notebook.run; %pip and restartPython."""
    findings = scan_cells(
        tmp_path,
        "%pip install scikit-learn==1.3.0",
        "dbutils.library.restartPython()",
        "%run ./setup",
        'dbutils.notebook.run("./train", 600, {"a": "1"})',
    )
    assert [(f.cell, f.details["via"]) for f in of_kind(findings, "pip_install")] == [
        (0, "%pip"),
        (1, "dbutils.library.restartPython"),
    ]
    assert [
        (f.cell, f.details["via"], f.details["target"]) for f in of_kind(findings, "notebook_call")
    ] == [(2, "%run", "./setup"), (3, "dbutils.notebook.run", "./train")]


def test_a_cell_that_does_not_parse_is_reported_and_the_rest_goes_on(tmp_path: Path) -> None:
    """A syntax error gives parse_error at its line; later cells are still scanned."""
    findings = scan_cells(tmp_path, IMPORTS, TUNER, "x = 1\ndef broken(:\n", "cv.fit(train)")
    [error] = of_kind(findings, "parse_error")
    assert (error.cell, error.line) == (2, 2)
    [fit] = of_kind(findings, "tuning_fit")
    assert fit.cell == 3


def test_a_cell_with_a_nul_byte_is_a_parse_error_on_every_python(tmp_path: Path) -> None:
    """A NUL byte in a cell is that cell's parse_error at its line (Python 3.10/3.11 raise
    ValueError there, not SyntaxError); later cells are still scanned."""
    findings = scan_cells(tmp_path, IMPORTS, TUNER, "x = 1\ny = 2\0\n", "cv.fit(train)")
    [error] = of_kind(findings, "parse_error")
    assert (error.cell, error.line) == (2, 2)
    [fit] = of_kind(findings, "tuning_fit")
    assert fit.cell == 3


def test_ipynb_line_magics_and_outputs(tmp_path: Path) -> None:
    """!pip inside a code cell is a pip install; outputs that mention MLflow are never read."""
    path = write_ipynb(
        tmp_path / "nb.ipynb",
        [
            ("code", ["!pip install legacy-mllib-tracking\n", "%matplotlib inline\n", IMPORTS]),
            ("code", TUNER),
            ("code", "model = cv.fit(train)"),
        ],
        outputs=[
            {
                "output_type": "stream",
                "name": "stdout",
                "text": [f'mlflow.start_run()\nspark.conf.set("{CONF_TRACK}", "true")\n'],
            }
        ],
    )
    [notebook] = read_notebooks(path)
    findings = list(find(notebook))
    assert [(f.kind.value, f.cell, f.line) for f in findings] == [
        ("pip_install", 0, 1),
        ("tuning_fit", 2, 1),
    ]
    assert findings[1].file_line is None


def test_dbc_findings_use_cell_order_after_sorting_by_position(tmp_path: Path) -> None:
    """In an archive stored out of order, the fit's cell is its index by position."""
    model = notebook_v1(
        "train",
        [(9.0, "cv.fit(train)"), (1.0, IMPORTS), (5.0, TUNER), (3.0, "\n%md\nparams.regParam")],
    )
    [notebook] = read_notebooks(write_dbc(tmp_path / "ws.dbc", {"F/train.python": model}))
    findings = list(find(notebook))
    [fit] = of_kind(findings, "tuning_fit")
    assert (fit.cell, fit.line, fit.file_line) == (3, 1, None)
    [doc] = of_kind(findings, "legacy_name_ref")
    assert (doc.cell, doc.line, doc.executed) == (1, 3, False)
    assert of_kind(findings, "start_run") == []  # the command results mention it; never read


def test_plain_script_findings_have_no_cell_and_file_lines(tmp_path: Path) -> None:
    """A plain script is one unit: cell is None, line and file_line are the file's line."""
    path = tmp_path / "train.py"
    path.write_text(IMPORTS + "\n" + TUNER + "\n\nmodel = cv.fit(train)\n")
    [notebook] = read_notebooks(path)
    [fit] = of_kind(list(find(notebook)), "tuning_fit")
    assert (fit.cell, fit.line, fit.file_line) == (None, 12, 12)


def test_crlf_notebook_gives_the_same_findings_as_lf(tmp_path: Path) -> None:
    """CRLF line ends change nothing about what is found or where."""
    cells = [IMPORTS, TUNER, "with mlflow.start_run():\n    cv.fit(train)"]
    lf = scan_cells(tmp_path, *cells)
    crlf = scan_cells(tmp_path, *cells, newline="\r\n")
    assert [(f.kind, f.cell, f.line, f.file_line, f.text) for f in crlf] == [
        (f.kind, f.cell, f.line, f.file_line, f.text) for f in lf
    ]
    fit = of_kind(crlf, "tuning_fit")[0]
    assert fit.file_line == 19
    physical = (tmp_path / "nb.py").read_bytes().decode().split("\r\n")
    assert physical[fit.file_line - 1] == "    cv.fit(train)"


def test_python_cells_of_a_scala_notebook_are_parsed_without_their_magic(tmp_path: Path) -> None:
    """A %python cell in a Scala notebook is Python: the fit is found, the magic is no error."""
    path = write_source(
        tmp_path / "nb.scala",
        ["val x = 1", f"%python\n{IMPORTS}\n{TUNER}\ncv.fit(train)"],
        language="scala",
    )
    [notebook] = read_notebooks(path)
    findings = list(find(notebook))
    assert of_kind(findings, "parse_error") == []
    [fit] = of_kind(findings, "tuning_fit")
    assert (fit.cell, fit.line) == (1, 12)
    physical = path.read_text().split("\n")
    assert fit.file_line is not None and physical[fit.file_line - 1] == "// MAGIC cv.fit(train)"


def test_cells_with_nothing_to_report_still_bind_what_later_cells_use(tmp_path: Path) -> None:
    """A plain cell's estimator, function and class names are followed into later cells."""
    findings = scan_cells(
        tmp_path,
        IMPORTS,
        "dt = DecisionTreeClassifier(maxDepth=3)\nlabel = 'y'",
        "def helper(model):\n    return model\n\nclass Box:\n    pass",
        "pipe = Pipeline(stages=[dt])\n"
        "grid = ParamGridBuilder().addGrid(dt.maxBins, [8]).build()\n"
        "cv = CrossValidator(estimator=pipe, estimatorParamMaps=grid)\n"
        "helper(cv)\nBox(cv)\ncv.fit(df)",
    )
    [fit] = of_kind(findings, "tuning_fit")
    assert fit.details["via"] == "direct"
    assert fit.details["params"][0]["autolog"] == "DecisionTreeClassifier.maxBins"


def test_flag_set_through_sql_context_and_spark_sql(tmp_path: Path) -> None:
    """sqlContext.setConf and spark.sql("SET ...") set the flags too; SET without value reads."""
    findings = scan_cells(
        tmp_path,
        f'sqlContext.setConf("{CONF_TRACK}", "true")\n'
        f'spark.sql("SET {CONF_AUTOLOG} = false")\n'
        f'spark.sql("SET {CONF_TRACK}").show()',
    )
    sets = of_kind(findings, "flag_set")
    assert [(f.line, f.details["flag"], f.details["value"]) for f in sets] == [
        (1, CONF_TRACK, "true"),
        (2, CONF_AUTOLOG, "false"),
    ]
    [read] = of_kind(findings, "flag_read")
    assert (read.line, read.details["flag"]) == (3, CONF_TRACK)


def test_other_autolog_flavors_are_not_autolog_calls(tmp_path: Path) -> None:
    """mlflow.spark.autolog (datasource tracking) and mlflow.sklearn.autolog log no tuning fits."""
    code = "import mlflow\nmlflow.spark.autolog()\nmlflow.sklearn.autolog()"
    findings = scan_cells(tmp_path, code)
    assert of_kind(findings, "autolog_call") == []


def test_modulo_at_the_start_of_a_continuation_line_is_python_not_a_magic(
    tmp_path: Path,
) -> None:
    """A line starting with % inside brackets is Python's modulo, in scripts and cells alike."""
    code = 'label = ("run %s"\n         % "a")\ncv.fit(train)'
    script = tmp_path / "train.py"
    script.write_text(f"{IMPORTS}\n{TUNER}\n{code}\n")
    [plain] = read_notebooks(script)
    for findings in (list(find(plain)), scan_cells(tmp_path, IMPORTS, TUNER, code)):
        assert of_kind(findings, "parse_error") == []
        assert len(of_kind(findings, "tuning_fit")) == 1


def test_legacy_name_lookalikes_are_not_references(tmp_path: Path) -> None:
    """Event names, method calls and docstrings are no search of runs by legacy names."""
    code = (
        "def helper():\n    '''Uses params.maxDepth from the caller.'''\n\n"
        "hooks.register('provide-client-params.s3', handler)\n"
        "value = params.get('maxDepth')\nfilters = 'params.get(\"x\")'\n"
        "runs = mlflow.search_runs(filter_string=\"params.maxDepth = '5'\")"
    )
    refs = of_kind(scan_cells(tmp_path, code), "legacy_name_ref")
    assert [(f.line, f.details["name"], f.executed) for f in refs] == [
        (2, "params.maxDepth", False),
        (7, "params.maxDepth", True),
    ]


# --- library_configure ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "cell", "line", "mode"),
    [
        pytest.param(
            ["from legacy_mllib_tracking import configure\nconfigure(spark)"],
            0,
            2,
            None,
            id="from-import",
        ),
        pytest.param(
            ["import legacy_mllib_tracking as lmt", "x = 1", "lmt.configure(spark, mode='legacy')"],
            2,
            1,
            "legacy",
            id="module-alias-across-cells",
        ),
        pytest.param(
            ["import legacy_mllib_tracking", "legacy_mllib_tracking.configure(spark)"],
            1,
            1,
            None,
            id="plain-import",
        ),
        pytest.param(
            [
                "from legacy_mllib_tracking import configure as setup_tracking",
                "if True:\n    setup_tracking(spark, mode='off')",
            ],
            1,
            2,
            "off",
            id="from-import-alias-in-a-block",
        ),
    ],
)
def test_library_configure_every_import_form(
    tmp_path: Path, cells: list[str], cell: int, line: int, mode: str | None
) -> None:
    """legacy_mllib_tracking.configure is found through each import form and alias, across
    cells, with the mode it forces."""
    [found] = of_kind(scan_cells(tmp_path, *cells), "library_configure")
    assert (found.cell, found.line, found.executed) == (cell, line, True)
    assert found.details["mode"] == mode
    assert found.details["dynamic"] is False


def test_library_configure_with_a_mode_from_a_variable_is_dynamic(tmp_path: Path) -> None:
    """A mode the scan cannot read (a variable) is marked dynamic, not guessed."""
    code = "import legacy_mllib_tracking as lmt\nlmt.configure(spark, mode=chosen)"
    [found] = of_kind(scan_cells(tmp_path, code), "library_configure")
    assert (found.details["mode"], found.details["dynamic"]) == (None, True)


def test_library_configure_in_an_ipynb_cell_after_a_pip_line(tmp_path: Path) -> None:
    """An .ipynb cell that pip-installs, then imports configure under an alias and calls it:
    the pip install comes first, the configure call after it."""
    path = write_ipynb(
        tmp_path / "nb.ipynb",
        [
            (
                "code",
                "!pip install legacy-mllib-tracking\n"
                "from legacy_mllib_tracking import configure as c\nc(spark)",
            )
        ],
    )
    [notebook] = read_notebooks(path)
    findings = [f for f in find(notebook) if f.kind in ("pip_install", "library_configure")]
    assert [(f.kind.value, f.line) for f in findings] == [
        ("pip_install", 1),
        ("library_configure", 3),
    ]


@pytest.mark.parametrize(
    "cells",
    [
        pytest.param(
            ["# from legacy_mllib_tracking import configure\n# configure(spark)"],
            id="commented-out",
        ),
        pytest.param(["from structlog import configure\nconfigure()"], id="another-library"),
        pytest.param(["from legacy_mllib_tracking import configure"], id="import-only"),
        pytest.param(["configure(spark)"], id="never-imported"),
        pytest.param(["%scala\nconfigure(spark)"], id="scala-cell"),
        pytest.param(["import logging\nlogging.config.configure(x)"], id="another-module"),
    ],
)
def test_library_configure_lookalikes(tmp_path: Path, cells: list[str]) -> None:
    """Comments, another library's configure, an import without a call, an unimported name
    and Scala code are no call of legacy_mllib_tracking.configure."""
    assert of_kind(scan_cells(tmp_path, *cells), "library_configure") == []


# --- the walk reaches every nesting (what its shortcuts skip holds no call and no string) -------


@pytest.mark.parametrize(
    "code",
    [
        'print(f"best: {cv.fit(train).bestModel}")',
        "result = {**options, 'model': cv.fit(train)}",
        "models = [cv.fit(part) for part in [train, test] if part is not None]",
        "run = lambda frame=None: cv.fit(frame)\nrun()",
        "models = list(map(lambda part: cv.fit(part), [train]))",
        "model = cv.fit(train) if ready else None",
        "with open('x') as handle, some(cv.fit(train)):\n    pass",
    ],
)
def test_fit_nested_in_any_expression_is_found(tmp_path: Path, code: str) -> None:
    """A tuning fit inside an f-string, a dict with ``**``, a comprehension, a lambda or a
    conditional expression is found (the walk enters every node that can hold a call)."""
    [fit] = of_kind(scan_cells(tmp_path, IMPORTS, TUNER, code), "tuning_fit")
    assert fit.details["tuner"] == "CrossValidator"


@pytest.mark.parametrize(
    ("code", "line"),
    [
        ("runs = [mlflow.search_runs(filter_string=f) for f in [\"params.maxDepth = '4'\"]]", 1),
        ("def best(order=['metrics.avg_f1 DESC']):\n    return order\nx = 1", 1),
        ("x = 1\nruns = mlflow.search_runs(\n    order_by=['metrics.avg_f1 DESC'],\n)", 3),
        ("runs = {**base, 'filter': \"params.maxDepth = '4'\"}", 1),
    ],
)
def test_legacy_name_in_nested_strings_is_found(tmp_path: Path, code: str, line: int) -> None:
    """A legacy name in a comprehension, a default argument, a multi-line call or a dict with
    ``**`` is found on its own line (the string walk enters only the lines that hold one)."""
    [ref] = of_kind(scan_cells(tmp_path, IMPORTS, code), "legacy_name_ref")
    assert ref.line == line
    assert ref.executed


def test_ipynb_cell_that_starts_with_pip_is_scanned_after_that_line(tmp_path: Path) -> None:
    """In a Jupyter notebook ``%pip`` is a line magic: the code after it in the same cell is
    Python and is scanned (the install and the tuning fit are both found)."""
    path = write_ipynb(
        tmp_path / "nb.ipynb",
        [
            ("code", IMPORTS),
            (
                "code",
                "%pip install x\n"
                "from pyspark.ml.tuning import CrossValidator\n"
                "cv = CrossValidator(estimator=lr, estimatorParamMaps=grid)\n"
                "cv.fit(df)",
            ),
        ],
    )
    [notebook] = read_notebooks(path)
    findings = list(find(notebook))
    assert [(f.kind.value, f.cell, f.line) for f in findings] == [
        ("pip_install", 1, 1),
        ("tuning_fit", 1, 4),
    ]
    assert findings[0].details["via"] == "%pip"


@pytest.mark.parametrize(
    "source",
    [
        "%pip install x",
        "%pip install x \\\n    y==1.0\n\n%pip install z",
        "%conda install x\n!pip list",
    ],
)
def test_ipynb_cell_of_installs_only_stays_an_install(tmp_path: Path, source: str) -> None:
    """An ``.ipynb`` cell that only installs (continuation lines and other magics included) is
    one install at its first line, no parse error."""
    path = write_ipynb(tmp_path / "nb.ipynb", [("code", source)])
    [notebook] = read_notebooks(path)
    assert [(f.kind.value, f.line) for f in find(notebook)] == [("pip_install", 1)]


def test_ipynb_install_continued_over_lines_before_code(tmp_path: Path) -> None:
    """``%pip install a \\`` continued on the next line, then code: the continuation is part
    of the install, the code is scanned (no parse error)."""
    path = write_ipynb(
        tmp_path / "nb.ipynb",
        [("code", IMPORTS), ("code", "%pip install a \\\n    b\n" + TUNER + "\ncv.fit(df)")],
    )
    [notebook] = read_notebooks(path)
    assert [(f.kind.value, f.line) for f in find(notebook)] == [
        ("pip_install", 1),
        ("tuning_fit", 7),
    ]


def test_the_hot_path_constructors_build_what_the_dataclasses_build() -> None:
    """new_cell / new_finding / _estimator (the scan's faster constructors) give values equal to
    Cell(...) / Finding(...) / _Estimator(...) with the same arguments, of the same class, with
    the same repr, and frozen."""
    import dataclasses

    from legacy_mllib_tracking.notebooks import Cell, Kind, Verdict
    from legacy_mllib_tracking.notebooks._model import new_cell, new_finding
    from legacy_mllib_tracking.notebooks._values import _Estimator, _estimator

    cell_args = (3, "python", "%python", "%python\nx = 1", 12, "title", 2.5)
    finding_args = (Kind.FLAG_SET, 3, 2, 13, "x = 1", False, {"flag": "f"}, Verdict.REVIEW, "m")
    pairs = [
        (new_cell(*cell_args), Cell(*cell_args)),
        (new_cell(*cell_args[:5]), Cell(*cell_args[:5])),
        (new_finding(*finding_args), Finding(*finding_args)),
        (new_finding(*finding_args[:7]), Finding(*finding_args[:7])),
        (_estimator("LogisticRegression"), _Estimator("LogisticRegression")),
    ]
    for fast, slow in pairs:
        assert type(fast) is type(slow) and fast == slow and repr(fast) == repr(slow)
        assert dataclasses.asdict(fast) == dataclasses.asdict(slow)
        with pytest.raises(dataclasses.FrozenInstanceError):
            fast.source = "changed"  # type: ignore[misc]
    # every field is set: a field added to the dataclass must be added to its constructor
    assert set(vars(pairs[0][0])) == {f.name for f in dataclasses.fields(Cell)}
    assert set(vars(pairs[2][0])) == {f.name for f in dataclasses.fields(Finding)}
    assert set(vars(pairs[4][0])) == {f.name for f in dataclasses.fields(_Estimator)}
    assert hash(pairs[4][0]) == hash(pairs[4][1])


@pytest.mark.parametrize(
    ("line", "executed_flag"),
    [
        ('# spark.conf.set("spark.databricks.mlflow.trackMLlib.enabled", "true")', False),
        ('x = 1  # spark.conf.set("spark.databricks.mlflow.trackMLlib.enabled", "true")', False),
        (
            'x = "a # b"  # spark.conf.set("spark.databricks.mlflow.trackMLlib.enabled", "true")',
            False,
        ),
        ("x = \"# spark.conf.set('spark.databricks.mlflow.trackMLlib.enabled', 'true')\"", None),
    ],
)
def test_a_comment_is_found_after_code_and_strings_never_inside_a_string(
    tmp_path: Path, line: str, executed_flag: bool | None
) -> None:
    """A commented-out flag set is found wherever the comment starts; a '#' inside a string
    on the same line starts no comment."""
    flags = of_kind(scan_cells(tmp_path, line), "flag_set")
    if executed_flag is None:
        assert flags == []
    else:
        assert [(f.executed, f.details["value"]) for f in flags] == [(executed_flag, "true")]
