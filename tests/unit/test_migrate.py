"""``migrate`` on real files, through the scan (no Spark): the diff, ``--write``, a second run,
files that cannot be written, and the command line's output and exit status."""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile
from pathlib import Path

import nbformat
import pytest

from legacy_mllib_tracking.cli import main
from legacy_mllib_tracking.notebooks import Outcome, migrate, read_file, scan

CONFIGURE = "from legacy_mllib_tracking import configure\nconfigure(spark)"

IMPORTS = (
    "from pyspark.ml.classification import LogisticRegression\n"
    "from pyspark.ml.evaluation import BinaryClassificationEvaluator\n"
    "from pyspark.ml.tuning import CrossValidator, ParamGridBuilder\n"
    "import mlflow"
)
TUNER = (
    "lr = LogisticRegression()\n"
    "grid = ParamGridBuilder().addGrid(lr.regParam, [0.1, 0.01]).build()\n"
    "cv = CrossValidator(estimator=lr, estimatorParamMaps=grid,\n"
    "                    evaluator=BinaryClassificationEvaluator(), numFolds=2)"
)
FIT = "with mlflow.start_run():\n    model = cv.fit(train)"


def _source(*cells: str, eol: str = "\n") -> bytes:
    text = "# Databricks notebook source\n" + "\n\n# COMMAND ----------\n\n".join(cells) + "\n"
    return text.replace("\n", eol).encode("utf-8")


SOURCE = _source("# MAGIC %md\n# MAGIC # Churn", IMPORTS, TUNER, FIT)


def _ipynb() -> bytes:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Churn"),
        nbformat.v4.new_code_cell(IMPORTS),
        nbformat.v4.new_code_cell(TUNER),
        nbformat.v4.new_code_cell(FIT),
    ]
    return nbformat.writes(notebook).encode("utf-8") + b"\n"


def _dbc() -> bytes:
    commands = [
        {
            "version": "CommandV1",
            "origId": 11,
            "guid": "g-fit",
            "command": FIT,
            "position": 4.0,
            "subtype": "command",
            "commandTitle": "",
        },
        {
            "version": "CommandV1",
            "origId": 12,
            "guid": "g-md",
            "command": "%md\n# Churn",
            "position": 1.0,
            "subtype": "command",
            "commandTitle": "",
        },
        {
            "version": "CommandV1",
            "origId": 13,
            "guid": "g-imp",
            "command": IMPORTS,
            "position": 2.0,
            "subtype": "command",
            "commandTitle": "",
        },
        {
            "version": "CommandV1",
            "origId": 14,
            "guid": "g-cv",
            "command": TUNER,
            "position": 3.0,
            "subtype": "command",
            "commandTitle": "",
        },
    ]
    notebook = {
        "version": "NotebookV1",
        "origId": 10,
        "name": "churn",
        "language": "python",
        "commands": commands,
        "guid": "nb",
    }
    plain = {
        "version": "NotebookV1",
        "origId": 20,
        "name": "plain",
        "language": "python",
        "commands": [{"version": "CommandV1", "command": "print(1)", "position": 1.0}],
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Team/plain.python", json.dumps(plain))
        archive.writestr("Team/churn.python", json.dumps(notebook))
        archive.writestr("manifest.mf", "Manifest-Version: 1.0\n")
    return out.getvalue()


SCRIPT = (
    "from pyspark.sql import SparkSession\n" + IMPORTS + "\n\n"
    "if __name__ == '__main__':\n"
    "    session = SparkSession.builder.appName('churn').getOrCreate()\n"
    "    train = session.read.parquet('train')\n"
    + "\n".join("    " + line for line in (TUNER + "\n" + FIT).split("\n"))
    + "\n"
).encode("utf-8")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A folder with one notebook per format that needs migrating, and one that does not."""
    (tmp_path / "churn.py").write_bytes(SOURCE)
    (tmp_path / "churn.ipynb").write_bytes(_ipynb())
    (tmp_path / "workspace.dbc").write_bytes(_dbc())
    (tmp_path / "train.py").write_bytes(SCRIPT)
    (tmp_path / "clean.py").write_bytes(_source("print('no tuning here')"))
    return tmp_path


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_dry_run_prints_diffs_and_changes_nothing(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --write: a unified diff per changed file on stdout, no file touched, exit 1."""
    before = _snapshot(tree)
    assert main(["migrate", str(tree)]) == 1
    out, err = capsys.readouterr()
    assert _snapshot(tree) == before
    for name in ("churn.py", "churn.ipynb", "workspace.dbc!Team/churn.python", "train.py"):
        assert f"--- {tree / name}\n+++ {tree / name}\n" in out
    assert "+configure(spark)\n" in out  # the source export and the .dbc's cell diff
    assert '+    "configure(spark)"\n' in out  # the .ipynb's JSON
    assert "+    configure(session)\n" in out  # the script, with its session's name
    assert "clean.py" not in out
    assert "4 file(s) would change" in err
    assert "run again with --write" in err


def test_write_then_a_second_run_changes_nothing(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--write changes every file that needs it (exit 0); the files open and hold the new cell;
    a second run finds every notebook configured and changes nothing."""
    assert main(["migrate", "--write", str(tree)]) == 0
    after = _snapshot(tree)
    notebook = nbformat.reads((tree / "churn.ipynb").read_text(), as_version=4)
    nbformat.validate(notebook)
    assert [c.source for c in notebook.cells][1] == CONFIGURE
    (source,) = read_file(tree / "churn.py")[1]
    assert [c.source for c in source.cells][1] == CONFIGURE
    dbc = next(n for n in read_file(tree / "workspace.dbc")[1] if n.name == "Team/churn.python")
    assert [c.source for c in dbc.cells][1] == CONFIGURE
    with zipfile.ZipFile(tree / "workspace.dbc") as archive:
        assert archive.read("Team/plain.python") == zipfile.ZipFile(io.BytesIO(_dbc())).read(
            "Team/plain.python"
        )
    assert (
        "    session = SparkSession.builder.appName('churn').getOrCreate()\n"
        "    from legacy_mllib_tracking import configure\n"
        "    configure(session)\n" in (tree / "train.py").read_text()
    )
    capsys.readouterr()

    assert main(["migrate", "--write", str(tree)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert _snapshot(tree) == after
    assert "0 file(s) changed" in err
    assert err.count("configured ") == 4


def test_result_api_outcomes(tree: Path) -> None:
    """The Python API returns each notebook's outcome; ok notebooks are untouched."""
    result = migrate([tree], target="oss")
    outcomes = {n.location[len(str(tree)) + 1 :]: n.outcome for n in result.notebooks()}
    assert outcomes == {
        "churn.ipynb": Outcome.CHANGED,
        "churn.py": Outcome.CHANGED,
        "clean.py": Outcome.OK,
        "train.py": Outcome.CHANGED,
        "workspace.dbc!Team/churn.python": Outcome.CHANGED,
        "workspace.dbc!Team/plain.python": Outcome.OK,
    }
    assert result.exit_status == 1
    assert result.summary()["changed_files"] == 4


def test_pip_cell_first(tmp_path: Path) -> None:
    """--pip adds '%pip install legacy-mllib-tracking' as cell 0, configure after it."""
    path = tmp_path / "churn.py"
    path.write_bytes(SOURCE)
    assert main(["migrate", "--write", "--pip", str(path)]) == 0
    text = path.read_text()
    assert text.startswith(
        "# Databricks notebook source\n# MAGIC %pip install legacy-mllib-tracking\n\n"
        "# COMMAND ----------\n\n# MAGIC %md\n"
    )
    (notebook,) = read_file(path)[1]
    assert [c.source for c in notebook.cells][2] == CONFIGURE


def test_crlf_export_stays_crlf(tmp_path: Path) -> None:
    """A CRLF export is written back with CRLF line ends only."""
    path = tmp_path / "churn.py"
    path.write_bytes(_source("# MAGIC %md\n# MAGIC # Churn", IMPORTS, TUNER, FIT, eol="\r\n"))
    assert main(["migrate", "--write", str(path)]) == 0
    data = path.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n")
    assert b"configure(spark)\r\n" in data


def test_file_mode_kept(tmp_path: Path) -> None:
    """The rewritten file keeps its permission bits and no temp file is left behind."""
    path = tmp_path / "churn.py"
    path.write_bytes(SOURCE)
    path.chmod(0o640)
    assert main(["migrate", "--write", str(path)]) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["churn.py"]


def test_read_only_and_bad_archive_left_alone_rest_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A read-only file and a bad .dbc each get one error line and stay as they were; the other
    files are still written; exit 2."""
    locked = tmp_path / "a_locked.py"
    locked.write_bytes(SOURCE)
    locked.chmod(0o444)
    broken = tmp_path / "b_broken.dbc"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    fine = tmp_path / "c_fine.py"
    fine.write_bytes(SOURCE)
    try:
        assert main(["migrate", "--write", str(tmp_path)]) == 2
    finally:
        locked.chmod(0o644)
    _, err = capsys.readouterr()
    assert locked.read_bytes() == SOURCE
    assert broken.read_bytes() == b"PK\x03\x04 not really a zip"
    assert CONFIGURE in fine.read_text()
    errors = [line for line in err.splitlines() if line.startswith("error")]
    assert len(errors) == 2
    assert f"{locked}: the file is read-only" in errors[0]
    assert str(broken) in errors[1]
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a_locked.py",
        "b_broken.dbc",
        "c_fine.py",
    ]


def test_html_export_is_never_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An HTML export that needs migrating is reported as manual (scan only); exit 1."""
    import base64
    from urllib.parse import quote

    model = {
        "version": "NotebookV1",
        "name": "churn",
        "language": "python",
        "commands": [
            {"command": IMPORTS, "position": 1.0},
            {"command": TUNER, "position": 2.0},
            {"command": FIT, "position": 3.0},
        ],
    }
    encoded = base64.b64encode(quote(json.dumps(model)).encode()).decode()
    html = (
        f'<html><head><meta name="databricks-html-version" content="1"></head><body>'
        f"<script>var __DATABRICKS_NOTEBOOK_MODEL = '{encoded}';</script></body></html>"
    )
    path = tmp_path / "churn.html"
    path.write_text(html)
    assert main(["migrate", "--write", str(path)]) == 1
    _, err = capsys.readouterr()
    assert path.read_text() == html
    assert f"manual       {path}: HTML exports are scan only" in err


def test_bad_target_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unreadable --target is a usage error: one line naming it, exit 2."""
    assert main(["migrate", "--target", "eleven", str(tmp_path)]) == 2
    _, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1
    assert "'eleven'" in err


def test_changed_since_read_is_not_overwritten(tmp_path: Path) -> None:
    """A file that changes between the scan and the write is left as the other writer left it."""
    from legacy_mllib_tracking.notebooks._migrate import _write_atomically

    path = tmp_path / "nb.py"
    path.write_bytes(b"new content from someone else\n")
    with pytest.raises(OSError, match="changed since it was read"):
        _write_atomically(path, b"what migrate read\n", b"what migrate would write\n")
    assert path.read_bytes() == b"new content from someone else\n"
    assert os.listdir(tmp_path) == ["nb.py"]


def test_a_file_named_twice_is_migrated_once(tmp_path: Path) -> None:
    """The same file given twice (and through its folder) gets one configure cell."""
    path = tmp_path / "churn.py"
    path.write_bytes(SOURCE)
    assert main(["migrate", "--write", str(path), str(tmp_path), str(path)]) == 0
    assert path.read_text().count("configure(spark)") == 1


def test_write_refused_when_the_result_does_not_read_back(tmp_path: Path) -> None:
    """The written temp file is read back before the rename; a file that would not read as the
    notebook plus its new cell is never put in place."""
    from legacy_mllib_tracking.notebooks import RewriteError, plan_notebook, scan_file
    from legacy_mllib_tracking.notebooks._migrate import _reads_back, _write_atomically

    path = tmp_path / "churn.py"
    path.write_bytes(SOURCE)
    file = scan_file(path, "oss")
    plans = [plan_notebook(report) for report in file.notebooks]
    with pytest.raises(RewriteError, match="does not read back with 5 cells"):
        _write_atomically(
            path,
            SOURCE,
            SOURCE.replace(b"# COMMAND", b"# COMMENT"),
            check=lambda temp: _reads_back(temp, file, plans),
        )
    assert path.read_bytes() == SOURCE
    assert os.listdir(tmp_path) == ["churn.py"]


def _archive(entries: dict[str, object]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, value in entries.items():
            archive.writestr(name, json.dumps(value))
    return out.getvalue()


def _churn_v1(name: str = "churn") -> dict[str, object]:
    commands = [
        {"version": "CommandV1", "command": text, "position": float(i + 1)}
        for i, text in enumerate(["%md\n# Churn", IMPORTS, TUNER, FIT])
    ]
    return {
        "version": "NotebookV1",
        "origId": 10,
        "guid": "nb",
        "name": name,
        "language": "python",
        "commands": commands,
    }


def test_dbc_copies_in_folder_entries_get_the_same_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A notebook that a folder entry embeds again (reported once) gets the new cell in both
    places; the diff shows the new cell and nothing else for each."""
    folder = {"version": "FolderV1", "name": "Team", "children": [_churn_v1()]}
    path = tmp_path / "ws.dbc"
    path.write_bytes(_archive({"Team/churn.python": _churn_v1(), "Team.dbc-folder": folder}))
    assert main(["migrate", "--write", str(path)]) == 0
    out, _ = capsys.readouterr()
    added = [line for line in out.splitlines() if line.startswith("+") and "+++" not in line]
    assert sorted(added) == sorted(
        [
            "+from legacy_mllib_tracking import configure",
            "+configure(spark)",
            "+",
            "+# COMMAND ----------",
            "+",
        ]
        * 2
    )
    assert [line for line in out.splitlines() if line.startswith("-") and "---" not in line] == []
    with zipfile.ZipFile(path) as archive:
        for model in (
            json.loads(archive.read("Team/churn.python")),
            json.loads(archive.read("Team.dbc-folder"))["children"][0],
        ):
            texts = [c["command"] for c in sorted(model["commands"], key=lambda c: c["position"])]
            assert texts[1] == CONFIGURE


def test_dbc_notebook_only_in_a_folder_entry(tmp_path: Path) -> None:
    """A notebook found only inside a folder entry is rewritten there."""
    folder = {
        "version": "FolderV1",
        "name": "Team",
        "children": [{"version": "FolderV1", "name": "Sub", "children": [_churn_v1()]}],
    }
    path = tmp_path / "ws.dbc"
    path.write_bytes(_archive({"Team.dbc-folder": folder}))
    assert main(["migrate", "--write", str(path)]) == 0
    (notebook,) = read_file(path)[1]
    assert notebook.name == "Team/Sub/churn.python"
    assert [c.source for c in notebook.cells][1] == CONFIGURE


def test_reader_leaving_the_pipe_does_not_stop_a_write(tmp_path: Path) -> None:
    """``migrate --write ... | head``: every file is still changed, no traceback."""
    import subprocess
    import sys

    for i in range(30):
        (tmp_path / f"nb{i:02}.py").write_bytes(SOURCE)
    repo = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "legacy_mllib_tracking", "migrate", "--write", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()  # the reader leaves after one line
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0
    assert "Traceback" not in err
    assert "30 file(s) changed" in err
    assert all(CONFIGURE in p.read_text() for p in tmp_path.glob("*.py"))


WRITABLE = ("churn.py", "churn.ipynb", "workspace.dbc!Team/churn.python", "train.py")


@pytest.mark.parametrize(
    ("target", "call"),
    [
        pytest.param(None, "configure({})", id="newest-ml"),
        pytest.param("oss", "configure({})", id="oss"),
        pytest.param("15.4.x-scala2.12", "configure({}, mode='legacy')", id="standard-15.4"),
        pytest.param("client.2", "configure({}, mode='legacy')", id="serverless"),
    ],
)
def test_scan_migrate_write_scan_is_ok_on_every_writable_format(
    tree: Path, target: str | None, call: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """scan says migrate for each writable format; migrate --write inserts the call the scan
    names for the target (mode='legacy' where configure(spark) alone routes OFF); scan then
    says ok, shows the configure line, and exits 0."""
    option = [] if target is None else ["--target", target]
    assert main(["scan", str(tree), "--format", "json", *option]) == 1
    before = json.loads(capsys.readouterr()[0])
    verdicts = {
        (Path(f["path"]).name + ("!" + n["name"] if n["name"] else "")): n["verdict"]
        for f in before["files"]
        for n in f["notebooks"]
    }
    assert {name: verdicts[name] for name in WRITABLE} == dict.fromkeys(WRITABLE, "migrate")

    assert main(["migrate", "--write", str(tree), *option]) == 0
    capsys.readouterr()
    assert call.format("session") in (tree / "train.py").read_text()
    assert call.format("spark") in (tree / "churn.py").read_text()

    assert main(["scan", str(tree), *option]) == 0
    out = capsys.readouterr()[0]
    assert "MIGRATE" not in out and "REVIEW" not in out
    assert f"{tree / 'churn.py'}:" in out and ": library_configure: " + call.format("spark") in out
    assert main(["scan", str(tree), "--format", "json", *option]) == 0
    after = json.loads(capsys.readouterr()[0])
    for file in after["files"]:
        for notebook in file["notebooks"]:
            assert notebook["verdict"] == "ok"
            fits = [f for f in notebook["findings"] if f["kind"] == "tuning_fit"]
            configures = [f for f in notebook["findings"] if f["kind"] == "library_configure"]
            assert len(configures) == (1 if fits else 0)
            assert all(f["verdict"] == "ok" for f in fits)

    assert main(["migrate", str(tree), *option]) == 0
    assert capsys.readouterr()[1].count("configured ") == 4


def test_script_whose_fit_is_in_a_helper_function_scans_ok_after_migrate(tmp_path: Path) -> None:
    """A plain script that fits in a function defined above the SparkSession: migrate puts
    configure() after the session, where the function is called, and the scan then counts the
    fit as covered (code in a function body runs when called)."""
    path = tmp_path / "job.py"
    path.write_text(
        IMPORTS + "\nfrom pyspark.sql import SparkSession\n\n\n"
        "def tune(train):\n" + "\n".join("    " + line for line in TUNER.split("\n")) + "\n"
        "    return cv.fit(train)\n\n\n"
        "if __name__ == '__main__':\n"
        "    spark = SparkSession.builder.getOrCreate()\n"
        "    tune(spark.read.parquet('train'))\n"
    )
    assert migrate([path], target="oss", write=True).exit_status == 0
    assert "    configure(spark)\n    tune(" in path.read_text()
    [file] = scan([path], target="oss").files
    [report] = file.notebooks
    assert report.verdict == "ok"
    [fit] = [f for f in report.findings if f.kind == "tuning_fit"]
    assert fit.details["in_function"] is True
    assert "covers this fit" in fit.message


def test_summary_counts_only_what_was_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A notebook whose file could not be written is not counted as changed in the summary."""
    locked = tmp_path / "a_locked.py"
    locked.write_bytes(SOURCE)
    locked.chmod(0o444)
    (tmp_path / "c_fine.py").write_bytes(SOURCE)
    try:
        assert main(["migrate", "--write", str(tmp_path)]) == 2
    finally:
        locked.chmod(0o644)
    _, err = capsys.readouterr()
    [summary] = [line for line in err.splitlines() if "file(s) changed" in line]
    assert summary.startswith("1 file(s) changed; notebooks: 1 changed"), summary
    assert "1 error(s)" in summary


def _jupyter(*cells: str) -> bytes:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Churn")] + [
        nbformat.v4.new_code_cell(cell) for cell in cells
    ]
    return nbformat.writes(notebook).encode("utf-8") + b"\n"


@pytest.mark.parametrize("name", ["spark", "session"])
def test_a_jupyter_notebook_is_configured_after_the_cell_that_creates_its_session(
    tmp_path: Path, name: str
) -> None:
    """Outside Databricks a notebook creates its SparkSession itself: the configure cell goes
    after that cell and names the session's variable (before it, the call fails with
    NameError); the migrated notebook scans ok and a second migrate changes nothing."""
    create = f"from pyspark.sql import SparkSession\n{name} = SparkSession.builder.getOrCreate()"
    path = tmp_path / "tuning.ipynb"
    path.write_bytes(_jupyter(IMPORTS, create, TUNER, FIT))
    result = migrate([path], target="oss", write=True)
    [notebook] = result.notebooks()
    assert notebook.outcome is Outcome.CHANGED, notebook.reason
    cells = nbformat.reads(path.read_text(), as_version=4).cells
    sources = [cell.source for cell in cells]
    created = next(i for i, source in enumerate(sources) if "getOrCreate" in source)
    configure = next(i for i, source in enumerate(sources) if "import configure" in source)
    assert configure == created + 1, sources
    assert sources[configure].splitlines()[-1] == f"configure({name})"
    assert scan([path], target="oss").files[0].notebooks[0].verdict.value == "ok"
    assert migrate([path], target="oss", write=True).notebooks()[0].outcome is Outcome.CONFIGURED


def test_a_session_created_in_the_cell_of_the_fit_changes_nothing_and_says_why(
    tmp_path: Path,
) -> None:
    """No cell can go between the session's creation and the fit: nothing is changed, and the
    reason names the cell and what to split."""
    create = "from pyspark.sql import SparkSession\nsession = SparkSession.builder.getOrCreate()"
    path = tmp_path / "tuning.ipynb"
    before = _jupyter(IMPORTS, TUNER, create + "\n" + FIT)
    path.write_bytes(before)
    result = migrate([path], target="oss", write=True)
    [notebook] = result.notebooks()
    assert notebook.outcome is Outcome.MANUAL
    assert "SparkSession (session) is created in cell 3" in notebook.reason, notebook.reason
    assert path.read_bytes() == before
