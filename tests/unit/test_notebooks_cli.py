"""``legacy-mllib-tracking scan``: text, JSON (schema 1), SARIF 2.1.0, exit codes, bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from legacy_mllib_tracking._cli_notebooks import Progress
from legacy_mllib_tracking.cli import main

from .fresh import run_python
from .notebook_files import html_export, notebook_v1, write_dbc, write_ipynb, write_source
from .test_notebooks_finder import IMPORTS, TUNER

FIT_IN_RUN = "with mlflow.start_run():\n    model = cv.fit(train)"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A folder with one notebook per format, a skipped file and an unreadable one."""
    root = tmp_path / "ws"
    (root / "sub").mkdir(parents=True)
    write_source(root / "train.py", [IMPORTS, TUNER, FIT_IN_RUN])
    write_source(root / "clean.py", [IMPORTS, "x = 1"])
    write_ipynb(
        root / "sub" / "nb.ipynb", [("code", IMPORTS), ("code", TUNER), ("code", "cv.fit(train)")]
    )
    write_dbc(
        root / "ws.dbc",
        {"F/train.python": notebook_v1("train", [(3.0, FIT_IN_RUN), (1.0, IMPORTS), (2.0, TUNER)])},
    )
    (root / "export.html").write_text(
        html_export(notebook_v1("h", [(1.0, IMPORTS + "\n" + TUNER), (2.0, "cv.fit(df)")]))
    )
    (root / "script.py").write_text(f"{IMPORTS}\n{TUNER}\ncv.fit(train)\n")
    (root / "notes.txt").write_text("cv.fit(train)")
    (root / "review.py").write_text('dbutils.notebook.run("./train", 0)\n')
    return root


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI; return (exit code, stdout, stderr)."""
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_text_output_locates_every_finding_and_sums_up(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One block per notebook with path:line / [cell N]:line / archive!entry, then a summary."""
    code, out, err = run(["scan", str(tree), "--target", "oss"], capsys)
    assert code == 1
    assert err == ""
    assert f"MIGRATE  {tree / 'train.py'}  (databricks-source, python)" in out
    assert f"  {tree / 'train.py'}:19: tuning_fit [migrate]: model = cv.fit(train)" in out
    assert f"  {tree / 'ws.dbc'}!F/train.python[cell 2]:2: tuning_fit [migrate]" in out
    assert f"  {tree / 'sub' / 'nb.ipynb'}[cell 2]:1: tuning_fit [migrate]" in out
    assert f"  {tree / 'export.html'}[cell 1]:1: tuning_fit [migrate]" in out
    assert f"  {tree / 'script.py'}:11: tuning_fit [migrate]" in out
    assert f"OK       {tree / 'clean.py'}  (databricks-source, python)" in out
    assert f"REVIEW   {tree / 'review.py'}  (python, python)" in out
    assert "without the library: open-source Spark logs nothing for it; with it:" in out
    assert out.rstrip().splitlines()[-1] == (
        "scanned 7 notebooks in 7 files for open-source Spark: 5 migrate, 1 review, 1 ok; "
        "1 skipped, 0 errors"
    )


def test_json_has_every_key_of_schema_1(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The JSON document: schema, target, files (skipped too), notebooks, findings, summary."""
    (tree / "broken.ipynb").write_text("{")
    code, out, _ = run(["scan", str(tree), "--format", "json"], capsys)
    assert code == 2
    document = json.loads(out)
    assert set(document) == {"schema", "target", "files", "summary"}
    assert document["schema"] == 1
    assert document["target"] == "the newest ML runtime"
    assert set(document["summary"]) == {
        "files",
        "scanned",
        "migrate",
        "review",
        "ok",
        "skipped",
        "errors",
    }
    formats = {Path(f["path"]).name: f["format"] for f in document["files"]}
    assert formats == {
        "train.py": "databricks-source",
        "clean.py": "databricks-source",
        "nb.ipynb": "ipynb",
        "ws.dbc": "dbc",
        "export.html": "databricks-html",
        "script.py": "python",
        "notes.txt": "skipped",
        "review.py": "python",
        "broken.ipynb": "error",
    }
    kind_keys = {
        "tuning_fit": {
            "tuner",
            "via",
            "run_context",
            "estimator",
            "params",
            "metric",
            "in_function",
        },
        "start_run": {"nested", "with"},
        "notebook_call": {"via", "target"},
    }
    common = {"kind", "cell", "line", "file_line", "text", "executed", "verdict", "message"}
    seen = set()
    for file in document["files"]:
        assert set(file) == {"path", "format", "error", "notebooks"}
        assert (file["error"] is None) == (file["format"] != "error")
        for notebook in file["notebooks"]:
            assert set(notebook) == {"name", "language", "verdict", "configure_call", "findings"}
            assert notebook["configure_call"] == "configure(spark)"  # the newest ML runtime
            assert notebook["name"] == ("F/train.python" if file["format"] == "dbc" else "")
            for finding in notebook["findings"]:
                seen.add(finding["kind"])
                assert set(finding) == common | kind_keys[finding["kind"]]
                if finding["kind"] == "tuning_fit":
                    for param in finding["params"]:
                        assert set(param) == {"name", "stage", "legacy", "autolog"}
    assert seen == set(kind_keys)
    broken = next(f for f in document["files"] if f["format"] == "error")
    assert "not valid JSON" in broken["error"] and broken["notebooks"] == []


def test_sarif_is_2_1_0_with_rules_and_located_results(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SARIF: one rule per verdict-changing kind, a result per finding with file, line, cell."""
    code, out, _ = run(["scan", str(tree), "--format", "sarif", "--target", "oss"], capsys)
    assert code == 1
    log: dict[str, Any] = json.loads(out)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    [sarif_run] = log["runs"]
    driver = sarif_run["tool"]["driver"]
    assert driver["name"] == "legacy-mllib-tracking"
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    assert {
        "tuning_fit",
        "flag_set",
        "flag_read",
        "manual_child_runs",
        "notebook_call",
        "parse_error",
    } == set(rule_ids)
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    results = sarif_run["results"]
    assert len(results) == 6  # five migrate fits, one review
    for result in results:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] == ("error" if result["ruleId"] == "tuning_fit" else "warning")
        assert result["message"]["text"]
        [where] = result["locations"]
        physical = where["physicalLocation"]
        assert not physical["artifactLocation"]["uri"].startswith("/") or physical[
            "artifactLocation"
        ]["uri"].startswith("file:")
        assert physical["region"]["startLine"] >= 1
        assert {"cell", "line", "notebook", "verdict"} <= set(result["properties"])
    source = next(
        r
        for r in results
        if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("train.py")
    )
    assert source["locations"][0]["physicalLocation"]["region"]["startLine"] == 19
    assert source["properties"]["cell"] == 2 and source["properties"]["line"] == 2
    assert sarif_run["invocations"][0]["executionSuccessful"] is True


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["train.py"], 1),
        (["train.py", "--fail-on", "never"], 0),
        (["train.py", "--target", "9.1"], 0),
        (["review.py"], 0),
        (["review.py", "--fail-on", "review"], 1),
        (["clean.py", "--fail-on", "review"], 0),
        (["notes.txt"], 0),
        (["missing.py"], 2),
    ],
    ids=[
        "migrate",
        "never",
        "old-runtime",
        "review-default",
        "review-fail-on-review",
        "clean",
        "skipped-only",
        "missing-file",
    ],
)
def test_exit_codes(
    tree: Path,
    argv: list[str],
    code: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """0 nothing to do, 1 something at --fail-on level, 2 a file that could not be read."""
    monkeypatch.chdir(tree)
    assert main(["scan", *argv]) == code
    capsys.readouterr()


def test_unreadable_file_is_reported_and_the_scan_goes_on(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad archive exits 2, is one ERROR line, and every other file is still reported."""
    (tree / "bad.dbc").write_bytes(b"not a zip")
    code, out, err = run(["scan", str(tree)], capsys)
    assert code == 2
    assert f"ERROR    {tree / 'bad.dbc'}: not a readable .dbc archive" in out
    assert "MIGRATE" in out and "Traceback" not in out + err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--target", "ten"], "--target: cannot read target runtime 'ten'; accepted: 'oss'"),
        (["--format", "xml"], "--format must be one of text, json, sarif, got 'xml'"),
        (["--fail-on", "always"], "--fail-on must be one of migrate, review, never, got 'always'"),
    ],
)
def test_bad_option_values_are_one_line_exit_2(
    tree: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad --target / --format / --fail-on: one line on stderr naming it, exit 2, no output."""
    code, out, err = run(["scan", str(tree), *argv], capsys)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("legacy-mllib-tracking scan: error: ") and message in err


def test_progress_goes_to_stderr_once_the_scan_takes_a_moment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The progress line is written to stderr after the delay, never before."""
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    slow = Progress(delay=3600.0)
    slow(1, 2)
    slow(2, 2)
    assert stream.getvalue() == ""
    quick = Progress(delay=0.0)
    quick(1, 2)
    quick(2, 2)
    assert stream.getvalue().splitlines()[-1] == "scanning: 2/2 files"


def test_scanning_imports_neither_pyspark_nor_mlflow(tree: Path) -> None:
    """The scan command runs in a fresh interpreter without importing pyspark or mlflow."""
    code = (
        "import sys\nfrom legacy_mllib_tracking.cli import main\n"
        f"status = main(['scan', {str(tree)!r}, '--format', 'json'])\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'mlflow'))\n"
        "assert status == 1 and not bad, (status, bad)\n"
    )
    result = run_python("-c", code, cwd=tree)
    assert result.returncode == 0, result.stderr


def test_streamed_reports_equal_the_whole_report(tree: Path) -> None:
    """iter_scan + write_json/write_text give what scan + render_json/render_text give."""
    from legacy_mllib_tracking.notebooks import (
        iter_scan,
        render_json,
        render_text,
        scan,
        write_json,
        write_text,
    )

    report = scan([tree], target="oss")
    streamed_json, streamed_text = io.StringIO(), io.StringIO()
    tally = write_json(report.target, iter_scan([tree], target="oss"), streamed_json)
    write_text(report.target, iter_scan([tree], target="oss"), streamed_text)
    assert (
        json.loads(streamed_json.getvalue()) == report.to_dict() == json.loads(render_json(report))
    )
    assert streamed_text.getvalue().rstrip("\n") == render_text(report)
    assert tally.summary() == report.summary()
    assert tally.worst == report.worst() == "migrate"


def test_a_file_named_twice_is_scanned_once(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file named twice, and again inside a folder named too, is reported once."""
    code, out, _ = run(["scan", str(tree / "train.py"), str(tree / "train.py"), str(tree)], capsys)
    assert code == 1
    assert out.count(f"MIGRATE  {tree / 'train.py'}") == 1


def test_a_fifo_named_or_found_in_a_folder_is_skipped_not_read(tmp_path: Path) -> None:
    """A named pipe is no notebook, whatever its name: reading it would block until a writer
    comes. Named on its own or found in a folder it is skipped and counted; the scan ends.
    (In a process of its own with a timeout: the old scan never ended.)"""
    import os

    os.mkfifo(tmp_path / "pipe.py")
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "folder" / "pipe.ipynb")
    for path in ("pipe.py", "folder"):
        result = run_python(
            "-m", "legacy_mllib_tracking", "scan", path, "--format", "json", cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert [f["format"] for f in report["files"]] == ["skipped"]
        assert report["summary"]["skipped"] == 1
