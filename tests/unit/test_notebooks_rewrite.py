"""The byte-preserving writers (legacy_mllib_tracking.notebooks._rewrite*): one cell more, nothing
else changed, and the result opens (the readers, nbformat, zip + JSON)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import nbformat
import pytest

from legacy_mllib_tracking.notebooks import read_file
from legacy_mllib_tracking.notebooks._rewrite import (
    RewriteError,
    insert_script_lines,
    insert_source_cell,
)
from legacy_mllib_tracking.notebooks._rewrite_dbc import insert_dbc_command
from legacy_mllib_tracking.notebooks._rewrite_ipynb import insert_ipynb_cell

CONFIGURE = ["from legacy_mllib_tracking import configure", "configure(spark)"]
PIP = ["%pip install legacy-mllib-tracking"]

SOURCE = (
    "# Databricks notebook source\n"
    "# MAGIC %md\n"
    "# MAGIC # Churn model\n"
    "\n"
    "# COMMAND ----------\n"
    "\n"
    "from pyspark.ml.tuning import CrossValidator\n"
    "\n"
    "# COMMAND ----------\n"
    "\n"
    "# DBTITLE 1,Fit\n"
    "model = cv.fit(train)\n"
)


def _cells(path: Path) -> list[tuple[str, str]]:
    """(language, source) of every cell, as the scan's reader sees the file."""
    _, notebooks = read_file(path)
    (notebook,) = notebooks
    return [(cell.language, cell.source) for cell in notebook.cells]


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_bytes(content.encode("utf-8"))
    else:
        path.write_bytes(content)
    return path


# --- Databricks source ----------------------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_source_cell_inserted_and_every_other_byte_kept(tmp_path: Path, index: int) -> None:
    """The new cell is cell ``index`` on reading back; every other cell reads as before, and
    removing the inserted lines gives back the original bytes."""
    new = insert_source_cell(SOURCE, index, CONFIGURE, language="python")
    before = _cells(_write(tmp_path, "old.py", SOURCE))
    after = _cells(_write(tmp_path, "new.py", new))
    assert after.pop(index) == ("python", "\n".join(CONFIGURE))
    assert after == before
    added = "\n".join(CONFIGURE) + "\n\n# COMMAND ----------\n\n"
    if index == 3:
        added = "\n# COMMAND ----------\n\n" + "\n".join(CONFIGURE) + "\n"
    assert new.replace(added, "", 1) == SOURCE


def test_source_layout_copies_the_first_separator() -> None:
    """The inserted separator has the same blank lines around it as the file's own."""
    tight = SOURCE.replace("\n\n# COMMAND ----------\n\n", "\n# COMMAND ----------\n")
    new = insert_source_cell(tight, 1, CONFIGURE, language="python")
    assert new == tight.replace(
        "# COMMAND ----------\nfrom pyspark",
        "# COMMAND ----------\n" + "\n".join(CONFIGURE) + "\n# COMMAND ----------\nfrom pyspark",
    )


def test_source_crlf_kept(tmp_path: Path) -> None:
    """A CRLF export stays CRLF everywhere, the inserted lines included."""
    crlf = SOURCE.replace("\n", "\r\n")
    new = insert_source_cell(crlf, 2, CONFIGURE, language="python")
    assert new.count("\n") == new.count("\r\n")
    assert new.replace("\r\n", "\n") == insert_source_cell(SOURCE, 2, CONFIGURE, language="python")
    assert _cells(_write(tmp_path, "nb.py", new))[2] == ("python", "\n".join(CONFIGURE))


def test_source_byte_order_mark_and_blanked_header(tmp_path: Path) -> None:
    """A header an export tool blanked still counts as the header line: cell 0 goes after it."""
    blanked = "\n" + SOURCE.split("\n", 1)[1]
    new = insert_source_cell(blanked, 0, PIP, language="python")
    assert new.startswith("\n# MAGIC %pip install legacy-mllib-tracking\n\n# COMMAND ----------\n")
    assert _cells(_write(tmp_path, "nb.py", new))[0] == ("pip", PIP[0])


def test_source_pip_cell_goes_after_the_header() -> None:
    """``--pip`` adds a ``# MAGIC %pip`` cell as cell 0, never before the header line."""
    new = insert_source_cell(SOURCE, 0, PIP, language="python")
    assert new.startswith(
        "# Databricks notebook source\n# MAGIC %pip install legacy-mllib-tracking\n\n"
        "# COMMAND ----------\n\n# MAGIC %md\n"
    )


@pytest.mark.parametrize(
    ("language", "suffix", "prefix"),
    [("scala", ".scala", "//"), ("sql", ".sql", "--"), ("r", ".r", "#")],
)
def test_source_python_cell_in_another_language(
    tmp_path: Path, language: str, suffix: str, prefix: str
) -> None:
    """In a Scala, SQL or R notebook the Python cell is a ``%python`` magic cell written in that
    language's comment syntax."""
    text = (
        f"{prefix} Databricks notebook source\n"
        f"val x = 1\n\n{prefix} COMMAND ----------\n\n"
        f"{prefix} MAGIC %python\n{prefix} MAGIC cv.fit(train)\n"
    )
    new = insert_source_cell(text, 1, CONFIGURE, language=language)
    assert (
        f"{prefix} MAGIC %python\n{prefix} MAGIC from legacy_mllib_tracking import configure\n"
        f"{prefix} MAGIC configure(spark)\n\n{prefix} COMMAND ----------\n" in new
    )
    cells = _cells(_write(tmp_path, f"nb{suffix}", new))
    assert len(cells) == 3
    assert cells[1] == ("python", "%python\n" + "\n".join(CONFIGURE))


def test_source_cell_out_of_range() -> None:
    """A cell index the notebook does not have is an error naming it."""
    with pytest.raises(RewriteError, match="cell 9 does not exist"):
        insert_source_cell(SOURCE, 9, CONFIGURE, language="python")


# --- .ipynb ---------------------------------------------------------------------------------------


def _notebook(minor: int = 5, *, databricks: bool = False) -> dict[str, Any]:
    notebook = nbformat.v4.new_notebook()
    notebook.nbformat_minor = minor
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Churn model, café"),
        nbformat.v4.new_code_cell("from pyspark.ml.tuning import CrossValidator\nimport mlflow"),
        nbformat.v4.new_code_cell("model = cv.fit(train)"),
    ]
    document: dict[str, Any] = json.loads(nbformat.writes(notebook))
    if minor < 5:
        for cell in document["cells"]:
            cell.pop("id", None)
    if databricks:
        for cell in document["cells"]:
            cell["metadata"]["application/vnd.databricks.v1+cell"] = {
                "cellMetadata": {"byteLimit": 2048000, "rowLimit": 10000},
                "inputWidgets": {},
                "nuid": "0b5a6c1e-1111-4f0e-9a54-5f3c2b7c0d11",
                "showTitle": True,
                "title": "Fit",
            }
    return document


def _reverse_keys(value: Any) -> Any:
    """The same JSON value with every object's keys in reverse order (not what json sorts)."""
    if isinstance(value, dict):
        return {key: _reverse_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reverse_keys(item) for item in value]
    return value


@pytest.mark.parametrize("indent", [1, 2, 4, "\t", None])
@pytest.mark.parametrize("ensure_ascii", [True, False])
@pytest.mark.parametrize("sort_keys", [True, False])
def test_ipynb_written_in_the_files_own_style(
    indent: int | str | None, ensure_ascii: bool, sort_keys: bool
) -> None:
    """The result is exactly the notebook plus one cell serialised with the file's own indentation,
    key order, ``ensure_ascii`` and trailing newline."""
    document = _notebook() if sort_keys else _reverse_keys(_notebook())
    text = json.dumps(document, indent=indent, ensure_ascii=ensure_ascii, sort_keys=sort_keys)
    text += "\n"
    new = insert_ipynb_cell(text, 2, CONFIGURE)
    after = json.loads(new)
    added = after["cells"].pop(2)
    assert after == document
    assert added["source"] == ["from legacy_mllib_tracking import configure\n", "configure(spark)"]
    assert list(added) == [k for k in document["cells"][1] if k in added]
    reserialised = json.loads(new)
    expected = json.dumps(
        reserialised, indent=indent, ensure_ascii=ensure_ascii, sort_keys=sort_keys
    )
    assert new == expected + "\n"


@pytest.mark.parametrize("index", [0, 1, 2, 3])
@pytest.mark.parametrize("minor", [4, 5])
def test_ipynb_result_is_valid_nbformat(index: int, minor: int) -> None:
    """The written notebook validates against nbformat 4; ``id`` exactly when minor >= 5."""
    text = json.dumps(_notebook(minor), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    new = insert_ipynb_cell(text, index, CONFIGURE)
    notebook = nbformat.reads(new, as_version=4)
    nbformat.validate(notebook)
    added = notebook.cells[index]
    assert added.cell_type == "code"
    assert added.source == "\n".join(CONFIGURE)
    assert ("id" in added) is (minor >= 5)
    if minor >= 5:
        assert len({cell.id for cell in notebook.cells}) == 4


def test_ipynb_crlf_and_no_trailing_newline_kept() -> None:
    """A CRLF notebook without a final newline stays that way."""
    text = json.dumps(_notebook(), indent=2).replace("\n", "\r\n")
    new = insert_ipynb_cell(text, 1, CONFIGURE)
    assert new.count("\n") == new.count("\r\n")
    assert not new.endswith("\n")
    assert new == json.dumps(json.loads(new), indent=2).replace("\n", "\r\n")


def test_ipynb_string_sources_and_databricks_metadata() -> None:
    """A notebook whose cells hold ``source`` as one string gets a string; Databricks cell
    metadata is copied from the neighbour with a fresh ``nuid`` and no title."""
    document = _notebook(databricks=True)
    for cell in document["cells"]:
        cell["source"] = "".join(cell["source"])
    text = json.dumps(document, indent=1)
    added = json.loads(insert_ipynb_cell(text, 2, CONFIGURE))["cells"][2]
    assert added["source"] == "\n".join(CONFIGURE)
    meta = added["metadata"]["application/vnd.databricks.v1+cell"]
    assert (
        meta["nuid"]
        != document["cells"][2]["metadata"]["application/vnd.databricks.v1+cell"]["nuid"]
    )
    assert (meta["title"], meta["showTitle"]) == ("", False)
    assert meta["cellMetadata"] == {"byteLimit": 2048000, "rowLimit": 10000}


def test_ipynb_python_cell_in_a_scala_notebook() -> None:
    """A notebook whose default language is not Python gets a ``%python`` cell."""
    text = json.dumps(_notebook(), indent=1)
    added = json.loads(insert_ipynb_cell(text, 0, CONFIGURE, language="scala"))["cells"][0]
    assert "".join(added["source"]) == "%python\n" + "\n".join(CONFIGURE)


def test_ipynb_not_a_notebook() -> None:
    """Broken JSON and nbformat 3 are errors that say so."""
    with pytest.raises(RewriteError, match="not JSON"):
        insert_ipynb_cell("{", 0, CONFIGURE)
    with pytest.raises(RewriteError, match="nbformat 4"):
        insert_ipynb_cell('{"nbformat": 3, "worksheets": []}', 0, CONFIGURE)


# --- .dbc -----------------------------------------------------------------------------------------


def _command(text: str, position: float, guid: str, orig: int) -> dict[str, Any]:
    return {
        "version": "CommandV1",
        "origId": orig,
        "guid": guid,
        "subtype": "command",
        "commandType": "auto",
        "position": position,
        "command": text,
        "commandVersion": 3,
        "state": "finished",
        "results": {"type": "html", "data": "<b>old output</b>"},
        "errorSummary": None,
        "startTime": 1600000000000,
        "finishTime": 1600000001000,
        "collapsed": False,
        "commandTitle": "old title",
        "showCommandTitle": True,
        "latestUser": "someone@example.com",
        "nuid": guid,
        "commandId": orig + 1000,
    }


def _dbc_notebook(name: str = "nb") -> dict[str, Any]:
    # Stored out of order, as real archives are: notebook order is ascending position.
    return {
        "version": "NotebookV1",
        "origId": 100,
        "name": name,
        "language": "python",
        "commands": [
            _command("model = cv.fit(train)", 3.0, "c3", 103),
            _command("%md\n# Churn model", 1.0, "c1", 101),
            _command("from pyspark.ml.tuning import CrossValidator", 2.0, "c2", 102),
        ],
        "dashboards": [],
        "guid": "n1",
        "globalVars": {},
        "iPythonMetadata": None,
        "inputWidgets": {},
    }


def _dbc(extra_folder: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        info = zipfile.ZipInfo("Shared/other.python", date_time=(2019, 5, 4, 3, 2, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, json.dumps(_dbc_notebook("other")))
        info = zipfile.ZipInfo("Shared/nb.python", date_time=(2020, 1, 2, 3, 4, 6))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, json.dumps(_dbc_notebook(), separators=(",", ":")))
        info = zipfile.ZipInfo("manifest.mf", date_time=(2021, 6, 7, 8, 9, 10))
        info.compress_type = zipfile.ZIP_STORED
        archive.writestr(info, b"Manifest-Version: 1.0\n")
        if extra_folder:
            folder = {
                "version": "FolderV1",
                "name": "Team",
                "children": [
                    {"version": "FolderV1", "name": "Sub", "children": [_dbc_notebook("deep")]}
                ],
            }
            archive.writestr("Team.dbc-folder", json.dumps(folder))
    return out.getvalue()


def _ordered(notebook: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(notebook["commands"], key=lambda c: c["position"])


@pytest.mark.parametrize(("index", "low", "high"), [(0, None, 1.0), (2, 2.0, 3.0), (3, 3.0, None)])
def test_dbc_other_entries_kept_and_position_between_neighbours(
    index: int, low: float | None, high: float | None
) -> None:
    """Every other entry keeps its bytes, name, order, compression and date; the notebook entry
    parses, and the new command sits strictly between its neighbours, shaped like them."""
    data = _dbc()
    new = insert_dbc_command(data, "Shared/nb.python", index, CONFIGURE)
    with zipfile.ZipFile(io.BytesIO(data)) as before, zipfile.ZipFile(io.BytesIO(new)) as after:
        assert after.testzip() is None
        assert after.namelist() == before.namelist()
        for old, info in zip(before.infolist(), after.infolist(), strict=True):
            assert (info.date_time, info.compress_type, info.external_attr) == (
                old.date_time,
                old.compress_type,
                old.external_attr,
            )
            if info.filename != "Shared/nb.python":
                assert after.read(info) == before.read(old)
                assert info.CRC == old.CRC
        notebook = json.loads(after.read("Shared/nb.python"))
    original = _dbc_notebook()
    commands = _ordered(notebook)
    added = commands.pop(index)
    assert commands == _ordered(original)
    assert added["command"] == "\n".join(CONFIGURE)
    assert low is None or added["position"] > low
    assert high is None or added["position"] < high
    assert list(added) == list(original["commands"][0])
    assert added["guid"] not in {"c1", "c2", "c3"} and added["nuid"] == added["nuid"]
    assert added["origId"] > 1103 and added["commandId"] > 1103
    assert (added["results"], added["commandTitle"], added["startTime"]) == (None, "", 0)


def test_dbc_reads_back_with_the_new_cell(tmp_path: Path) -> None:
    """The scan's reader sees the new cell at the asked index, after sorting by position."""
    new = insert_dbc_command(_dbc(), "Shared/nb.python", 2, CONFIGURE)
    _, notebooks = read_file(_write(tmp_path, "ws.dbc", new))
    notebook = next(n for n in notebooks if n.name == "Shared/nb.python")
    assert [c.source for c in notebook.cells] == [
        "%md\n# Churn model",
        "from pyspark.ml.tuning import CrossValidator",
        "\n".join(CONFIGURE),
        "model = cv.fit(train)",
    ]


def test_dbc_two_inserts_in_one_gap_keep_order() -> None:
    """A ``%pip`` cell inserted at 0 after the configure cell at 0 comes first."""
    data = insert_dbc_command(_dbc(), "Shared/nb.python", 0, CONFIGURE)
    data = insert_dbc_command(data, "Shared/nb.python", 0, PIP)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        commands = _ordered(json.loads(archive.read("Shared/nb.python")))
    texts = [c["command"] for c in commands[:3]]
    assert texts == [PIP[0], "\n".join(CONFIGURE), "%md\n# Churn model"]


def test_dbc_notebook_embedded_in_a_folder_entry() -> None:
    """A notebook embedded under a folder entry's ``children`` is rewritten in place."""
    data = _dbc(extra_folder=True)
    path = ("children", 0, "children", 0)
    new = insert_dbc_command(data, "Team.dbc-folder", 1, CONFIGURE, path=path)
    with zipfile.ZipFile(io.BytesIO(new)) as archive:
        folder = json.loads(archive.read("Team.dbc-folder"))
    commands = _ordered(folder["children"][0]["children"][0])
    assert [c["command"] for c in commands][1] == "\n".join(CONFIGURE)


def test_dbc_bad_archive_and_missing_entry() -> None:
    """Bytes that are no zip, and an entry the archive lacks, are errors that say so."""
    with pytest.raises(RewriteError, match="not a zip archive"):
        insert_dbc_command(b"PK\x03\x04 broken", "nb.python", 0, CONFIGURE)
    with pytest.raises(RewriteError, match=r"no entry 'Shared/missing\.python'"):
        insert_dbc_command(_dbc(), "Shared/missing.python", 0, CONFIGURE)


def test_dbc_no_room_between_equal_positions() -> None:
    """Two neighbours at the same position leave no place strictly between: an error."""
    notebook = _dbc_notebook()
    notebook["commands"][2]["position"] = 1.0
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("nb.python", json.dumps(notebook))
    with pytest.raises(RewriteError, match="no position strictly between"):
        insert_dbc_command(out.getvalue(), "nb.python", 1, CONFIGURE)


# --- plain scripts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("a = 1\nb = 2\n", "a = 1\n    X\n    Y\nb = 2\n", id="lf"),
        pytest.param("a = 1\r\nb = 2\r\n", "a = 1\r\n    X\r\n    Y\r\nb = 2\r\n", id="crlf"),
        pytest.param("a = 1", "a = 1\n    X\n    Y", id="no-final-newline"),
    ],
)
def test_script_lines_inserted_after_a_line(text: str, expected: str) -> None:
    """Lines go after the given line with the given indentation and the file's line ends."""
    assert insert_script_lines(text, 1, ["X", "Y"], indent="    ") == expected


def test_script_line_out_of_range() -> None:
    """A line the file does not have is an error."""
    with pytest.raises(RewriteError, match="line 5 does not exist"):
        insert_script_lines("a = 1\n", 5, ["X"], indent="")
