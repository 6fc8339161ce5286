"""A file's change: its new bytes (one cell per changed notebook, through the byte-preserving
writers) and the unified diff to show (a ``.dbc`` entry as the text of its commands).
"""

from __future__ import annotations

import difflib
import io
import json
import zipfile
from collections.abc import Callable, Sequence
from typing import Any

from legacy_mllib_tracking.notebooks._migration import (
    CONFIGURE_LINES,
    PIP_LINE,
    NotebookMigration,
    Outcome,
)
from legacy_mllib_tracking.notebooks._model import (
    FileReport,
    Format,
    Notebook,
)
from legacy_mllib_tracking.notebooks._notebook_v1 import (
    command_position,
    entry_language,
    folder_children,
    folder_prefix,
    identities,
)
from legacy_mllib_tracking.notebooks._rewrite import (
    RewriteError,
    insert_script_lines,
    insert_source_cell,
)
from legacy_mllib_tracking.notebooks._rewrite_dbc import dbc_notebook_text, insert_dbc_command
from legacy_mllib_tracking.notebooks._rewrite_ipynb import insert_ipynb_cell


def _cell_lines(plan: NotebookMigration) -> list[str]:
    return [CONFIGURE_LINES[0], plan.call]


def _rewrite_text(text: str, notebook: Notebook, plan: NotebookMigration) -> str:
    """The new text of a text-format file (Databricks source, ipynb, plain script)."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    text = text[len(bom) :]
    lines = _cell_lines(plan)
    if notebook.format is Format.PYTHON:
        assert plan.after_line is not None
        return bom + insert_script_lines(text, plan.after_line, lines, indent=plan.indent)
    assert plan.cell is not None
    insert: Callable[[str, int, Sequence[str]], str]
    if notebook.format is Format.IPYNB:

        def insert(t: str, i: int, cell: Sequence[str]) -> str:
            return insert_ipynb_cell(t, i, cell, language=notebook.language)
    else:

        def insert(t: str, i: int, cell: Sequence[str]) -> str:
            return insert_source_cell(t, i, cell, language=notebook.language)

    text = insert(text, plan.cell, lines)
    if plan.pip:
        text = insert(text, 0, [PIP_LINE])
    return bom + text


def _unified(old: str, new: str, label: str) -> str:
    """A unified diff of two texts, every line ended, ``\\ No newline`` where one is missing."""
    out: list[str] = []
    for line in difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), label, label, n=3
    ):
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _dbc_diff(old: bytes, new: bytes, path: str, entries: Sequence[_Location]) -> str:
    parts = []
    with zipfile.ZipFile(io.BytesIO(old)) as before, zipfile.ZipFile(io.BytesIO(new)) as after:
        for entry, where in entries:
            parts.append(
                _unified(
                    dbc_notebook_text(_at(json.loads(before.read(entry)), where)),
                    dbc_notebook_text(_at(json.loads(after.read(entry)), where)),
                    f"{path}!{entry}" + "".join(f"[{step!r}]" for step in where),
                )
            )
    return "".join(parts)


def _at(value: Any, where: Sequence[str | int]) -> Any:
    for step in where:
        value = value[step]
    return value


_Location = tuple[str, tuple[str | int, ...]]  # (zip entry, JSON path to the NotebookV1)


def _dbc_locations(data: bytes, name: str) -> list[_Location]:
    """Where the notebook the scan calls ``name`` sits in an archive, and its copies.

    First the notebook itself: the entry ``name``, or a notebook embedded in a folder entry
    (``FolderV1`` ``children``) under the name the reader gives it (folder path + child
    names). Then every embedded copy of it (same ``origId`` or ``guid``, same command texts),
    which the scan reports once but an import may read: each gets the same new cell.

    Raises:
        RewriteError: no entry holds it.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        embedded: list[tuple[_Location, str, Any]] = []
        for entry in names:
            if entry_language(entry) is not None:
                continue
            try:
                folder = json.loads(archive.read(entry).decode("utf-8-sig"))
            except ValueError:
                continue
            if isinstance(folder, dict) and "children" in folder:
                for path, child_name, model in folder_children(folder, folder_prefix(entry)):
                    embedded.append(((entry, path), child_name, model))
        primary: _Location
        if name in names:
            primary = (name, ())
            model = json.loads(archive.read(name).decode("utf-8-sig"))
        else:
            match = next((item for item in embedded if item[1] == name), None)
            if match is None:
                raise RewriteError(f"no entry of the archive holds notebook {name!r}")
            primary, _, model = match
    identity, texts = identities(model), _command_texts(model)
    copies = [
        where
        for where, _, other in embedded
        if where != primary and identity & identities(other) and _command_texts(other) == texts
    ]
    return [primary, *copies]


def _command_texts(model: Any) -> list[str]:
    commands = model.get("commands") if isinstance(model, dict) else None
    if not isinstance(commands, list):
        return []
    ordered = sorted((c for c in commands if isinstance(c, dict)), key=command_position)
    return [str(c.get("command", "")) for c in ordered]


def _rewrite_file(
    data: bytes, file: FileReport, plans: Sequence[NotebookMigration]
) -> tuple[bytes, str]:
    """The new bytes of a file and the diff to show; ``(data, "")`` when nothing changes."""
    changing = [
        (report.notebook, plan)
        for report, plan in zip(file.notebooks, plans, strict=True)
        if plan.outcome is Outcome.CHANGED
    ]
    if not changing:
        return data, ""
    if file.format is Format.DBC:
        new = data
        entries = []
        for notebook, plan in changing:
            assert plan.cell is not None
            for entry, where in _dbc_locations(data, notebook.name):
                new = insert_dbc_command(new, entry, plan.cell, _cell_lines(plan), path=where)
                if plan.pip:
                    new = insert_dbc_command(new, entry, 0, [PIP_LINE], path=where)
                entries.append((entry, where))
        return new, _dbc_diff(data, new, file.path, entries)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RewriteError(f"bytes at offset {error.start} do not decode as UTF-8") from None
    notebook, plan = changing[0]
    new_text = _rewrite_text(text, notebook, plan)
    return new_text.encode("utf-8"), _unified(text, new_text, file.path)
