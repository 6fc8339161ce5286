"""Reading every notebook format (legacy_mllib_tracking.notebooks readers): cells, order, lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from legacy_mllib_tracking.notebooks import Format, NotebookReadError, read_file, scan_file

from .notebook_files import (
    html_export,
    notebook_v1,
    write_dbc,
    write_ipynb,
    write_source,
)

# --- Databricks source ---------------------------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_source_export_splits_cells_strips_magic_and_keeps_file_lines(
    tmp_path: Path, newline: str
) -> None:
    """Cells split at COMMAND lines, MAGIC prefixes and DBTITLE go, physical lines are kept."""
    path = write_source(
        tmp_path / "nb.py",
        ["import mlflow", "%md\n# Title\n\ntext", "%scala\nval x = 1", "x = 1\ny = 2"],
        newline=newline,
        titles={3: "Train"},
    )
    fmt, [notebook] = read_file(path)
    assert fmt is Format.DATABRICKS_SOURCE
    assert notebook.language == "python"
    assert [c.language for c in notebook.cells] == ["python", "markdown", "scala", "python"]
    assert [c.magic for c in notebook.cells] == [None, "%md", "%scala", None]
    assert notebook.cells[1].source == "%md\n# Title\n\ntext"
    assert notebook.cells[3].title == "Train"
    assert notebook.cells[3].source == "x = 1\ny = 2"
    lines = path.read_bytes().decode().split(newline)
    for cell in notebook.cells:
        assert cell.first_file_line is not None
        first = lines[cell.first_file_line - 1]
        assert first.endswith(cell.source.split("\n")[0])
    assert "\r" not in "".join(c.source for c in notebook.cells)


def test_source_export_with_blanked_header_is_still_a_notebook(tmp_path: Path) -> None:
    """A blank first line plus COMMAND separators is a Databricks source export."""
    path = write_source(tmp_path / "nb.py", ["a = 1", "b = 2"], header=False)
    fmt, [notebook] = read_file(path)
    assert fmt is Format.DATABRICKS_SOURCE
    assert len(notebook.cells) == 2


@pytest.mark.parametrize(
    ("language", "suffix"), [("scala", ".scala"), ("sql", ".sql"), ("r", ".r")]
)
def test_source_export_in_other_languages(tmp_path: Path, language: str, suffix: str) -> None:
    """Scala (//), SQL (--) and R (#) exports are read with their own comment prefix."""
    path = write_source(
        tmp_path / f"nb{suffix}", ["x", "%python\nimport mlflow"], language=language
    )
    fmt, [notebook] = read_file(path)
    assert fmt is Format.DATABRICKS_SOURCE
    assert notebook.language == language
    assert [c.language for c in notebook.cells] == [language, "python"]
    assert notebook.cells[1].source == "%python\nimport mlflow"


def test_plain_python_script_is_one_unit(tmp_path: Path) -> None:
    """A .py without the header is a plain script: one cell, lines are file lines."""
    path = tmp_path / "train.py"
    path.write_text("import x\n\n# COMMENT\ncv.fit(df)\n")
    fmt, [notebook] = read_file(path)
    assert fmt is Format.PYTHON
    assert notebook.plain_script
    assert len(notebook.cells) == 1
    assert notebook.cells[0].first_file_line == 1


# --- Jupyter -------------------------------------------------------------------------------------


def test_ipynb_string_and_list_sources_and_databricks_language(tmp_path: Path) -> None:
    """Sources as one string or a list joined with '', markdown cells, Databricks language."""
    path = write_ipynb(
        tmp_path / "nb.ipynb",
        [
            ("markdown", ["# Title\n", "params.maxDepth"]),
            ("code", "import mlflow\nx = 1"),
            ("code", ["%scala\n", "val x = 1"]),
            ("raw", "raw text"),
        ],
        language="python",
    )
    fmt, [notebook] = read_file(path)
    assert fmt is Format.IPYNB
    assert [c.source for c in notebook.cells][:3] == [
        "# Title\nparams.maxDepth",
        "import mlflow\nx = 1",
        "%scala\nval x = 1",
    ]
    assert [c.language for c in notebook.cells] == ["markdown", "python", "scala", "markdown"]
    assert all(c.first_file_line is None for c in notebook.cells)


def test_ipynb_language_comes_from_databricks_metadata(tmp_path: Path) -> None:
    """A Databricks-exported .ipynb of a Scala notebook is a Scala notebook."""
    path = write_ipynb(tmp_path / "nb.ipynb", [("code", "val x = 1")], language="scala")
    _, [notebook] = read_file(path)
    assert notebook.language == "scala"
    assert notebook.cells[0].language == "scala"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"nbformat": 3, "worksheets": []}), "not an nbformat 4 notebook"),
    ],
    ids=["broken-json", "nbformat-3"],
)
def test_unreadable_ipynb_is_an_error_entry(tmp_path: Path, content: str, reason: str) -> None:
    """Broken JSON or an old nbformat is one error line for that file, never a traceback."""
    path = tmp_path / "bad.ipynb"
    path.write_text(content)
    with pytest.raises(NotebookReadError, match=reason):
        read_file(path)
    report = scan_file(path)
    assert report.format is Format.ERROR
    assert report.error is not None and "\n" not in report.error
    assert str(path) in report.error


# --- .dbc ----------------------------------------------------------------------------------------


def test_dbc_sorts_commands_by_position_and_dedups_folder_children(tmp_path: Path) -> None:
    """Cells follow ascending position; a folder entry repeating a notebook adds nothing."""
    train = notebook_v1(
        "train",
        [(3.0, "cv.fit(df)"), (1.0, "import mlflow"), (2.5, "\n%md\n# Notes")],
        orig_id=7,
    )
    other = notebook_v1("other", [(1.0, "%sql\nSELECT 1")], language="sql", orig_id=8)
    nested = notebook_v1("nested", [(1.0, "x = 1")], orig_id=9)
    folder = {
        "version": "FolderV1",
        "name": "Folder",
        "children": [train, {"name": "Sub", "children": [nested]}],
    }
    path = write_dbc(
        tmp_path / "ws.dbc",
        {"Folder/train.python": train, "Folder/other.sql": other, "Folder": folder},
    )
    fmt, notebooks = read_file(path)
    assert fmt is Format.DBC
    assert [nb.name for nb in notebooks] == [
        "Folder/train.python",
        "Folder/other.sql",
        "Folder/Sub/nested.python",
    ]
    cells = notebooks[0].cells
    assert [c.source for c in cells] == ["import mlflow", "\n%md\n# Notes", "cv.fit(df)"]
    assert [c.position for c in cells] == [1.0, 2.5, 3.0]
    assert cells[1].language == "markdown"  # the newline before %md does not hide it
    assert notebooks[1].language == "sql"
    assert all(c.first_file_line is None for nb in notebooks for c in nb.cells)


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda p: p.write_bytes(b"PK\x03\x04 not really a zip"), "not a readable .dbc"),
        (lambda p: write_dbc(p, {"a/nb.python": "{broken"}), "'a/nb.python' is not valid JSON"),
        (lambda p: write_dbc(p, {"a/nb.python": {"x": 1}}), "NotebookV1"),
    ],
    ids=["bad-zip", "broken-entry", "not-notebookv1"],
)
def test_unreadable_dbc_is_an_error_entry(tmp_path: Path, build: object, reason: str) -> None:
    """A bad zip or a broken entry is one error line naming the file (and entry)."""
    path = tmp_path / "ws.dbc"
    build(path)  # type: ignore[operator]
    report = scan_file(path)
    assert report.format is Format.ERROR
    assert report.error is not None and reason in report.error and "\n" not in report.error


# --- HTML ----------------------------------------------------------------------------------------


def test_html_export_decodes_the_base64_url_encoded_model(tmp_path: Path) -> None:
    """The notebook model inside a Databricks HTML export is read, cells sorted by position."""
    model = notebook_v1("nb", [(2.0, "cv.fit(df) # 100% done"), (1.0, "%md\nparams.maxDepth")])
    path = tmp_path / "nb.html"
    path.write_text(html_export(model))
    fmt, [notebook] = read_file(path)
    assert fmt is Format.DATABRICKS_HTML
    assert [c.source for c in notebook.cells] == ["%md\nparams.maxDepth", "cv.fit(df) # 100% done"]


def test_other_html_and_other_files_are_skipped(tmp_path: Path) -> None:
    """An HTML page without the Databricks meta tag, a .txt, a .scala script: skipped."""
    (tmp_path / "page.html").write_text("<html><body>mlflow</body></html>")
    (tmp_path / "notes.txt").write_text("cv.fit(df)")
    (tmp_path / "Main.scala").write_text("object Main")
    for name in ("page.html", "notes.txt", "Main.scala"):
        assert read_file(tmp_path / name) == (Format.SKIPPED, [])


def test_broken_html_model_is_an_error(tmp_path: Path) -> None:
    """A Databricks HTML export whose model does not decode is an error entry."""
    path = tmp_path / "nb.html"
    path.write_text(
        html_export({}).replace(
            "var __DATABRICKS_NOTEBOOK_MODEL = '", "var __DATABRICKS_NOTEBOOK_MODEL = '!!!"
        )
    )
    assert scan_file(path).format is Format.ERROR


def test_bytes_that_do_not_decode_are_an_error(tmp_path: Path) -> None:
    """A .py that is not UTF-8 is an error entry naming the offset."""
    path = tmp_path / "latin.py"
    path.write_bytes(b"# Databricks notebook source\nx = '\xe9'\n")
    report = scan_file(path)
    assert report.format is Format.ERROR
    assert report.error is not None and "do not decode as UTF-8" in report.error
