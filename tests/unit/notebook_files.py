"""Writers of notebook files in every export format, for the scan tests (no Databricks needed)."""

from __future__ import annotations

import base64
import json
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

COMMENT = {"python": "#", "scala": "//", "sql": "--", "r": "#"}
SUFFIX = {"python": ".py", "scala": ".scala", "sql": ".sql", "r": ".r"}


def source_text(
    cells: Sequence[str],
    *,
    language: str = "python",
    newline: str = "\n",
    header: bool = True,
    titles: Mapping[int, str] | None = None,
) -> str:
    """A Databricks source export: magic cells (``%md...``) get every line ``# MAGIC``-prefixed."""
    c = COMMENT[language]
    parts = []
    for index, cell in enumerate(cells):
        lines = cell.split("\n")
        if lines[0].startswith("%"):
            lines = [f"{c} MAGIC {line}" if line else f"{c} MAGIC" for line in lines]
        if titles and index in titles:
            lines.insert(0, f"{c} DBTITLE 1,{titles[index]}")
        parts.append("\n".join(lines))
    first = f"{c} Databricks notebook source" if header else ""
    text = first + "\n" + f"\n\n{c} COMMAND ----------\n\n".join(parts) + "\n"
    return text.replace("\n", newline)


def write_source(path: Path, cells: Sequence[str], **options: Any) -> Path:
    """Write a Databricks source export (bytes exactly as built, CRLF kept)."""
    path.write_bytes(source_text(cells, **options).encode())
    return path


def ipynb_document(
    cells: Sequence[tuple[str, str | list[str]]],
    *,
    language: str | None = None,
    outputs: Sequence[Any] = (),
) -> dict[str, Any]:
    """An nbformat 4 document; ``cells`` are ``(cell_type, source)``; outputs on code cells."""
    metadata: dict[str, Any] = {
        "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}
    }
    if language is not None:
        metadata["application/vnd.databricks.v1+notebook"] = {
            "language": language,
            "notebookName": "nb",
        }
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": metadata,
        "cells": [
            {
                "cell_type": kind,
                "metadata": {},
                "source": source,
                "id": f"c{i}",
                **({"outputs": list(outputs), "execution_count": None} if kind == "code" else {}),
            }
            for i, (kind, source) in enumerate(cells)
        ],
    }


def write_ipynb(path: Path, cells: Sequence[tuple[str, str | list[str]]], **options: Any) -> Path:
    """Write an ``.ipynb`` file."""
    path.write_text(json.dumps(ipynb_document(cells, **options), indent=1))
    return path


def notebook_v1(
    name: str,
    commands: Sequence[tuple[float, str]],
    *,
    language: str = "python",
    orig_id: int | None = None,
) -> dict[str, Any]:
    """A ``NotebookV1`` object; ``commands`` are ``(position, text)`` in stored (array) order."""
    return {
        "version": "NotebookV1",
        "origId": orig_id if orig_id is not None else abs(hash(name)) % 10**9,
        "name": name,
        "language": language,
        "commands": [
            {
                "version": "CommandV1",
                "origId": i,
                "guid": f"g{i}",
                "subtype": "command",
                "commandType": "auto",
                "position": position,
                "command": text,
                "commandTitle": "",
                "results": {"data": "mlflow.start_run() logged 3 runs"},
            }
            for i, (position, text) in enumerate(commands)
        ],
    }


def write_dbc(path: Path, entries: Mapping[str, Any], *, manifest: bool = True) -> Path:
    """Write a ``.dbc`` archive: each entry's value is JSON-dumped (a str is written as is)."""
    with zipfile.ZipFile(path, "w") as archive:
        if manifest:
            archive.writestr("manifest.mf", "Manifest-Version: 1.0\n")
        for name, value in entries.items():
            archive.writestr(name, value if isinstance(value, str) else json.dumps(value))
    return path


def html_export(model: Mapping[str, Any]) -> str:
    """A Databricks HTML export carrying ``model`` as base64 of the URL-encoded JSON."""
    encoded = base64.b64encode(quote(json.dumps(model)).encode()).decode()
    return (
        "<!DOCTYPE html><html><head>"
        '<meta name="databricks-html-version" content="1">'
        "<title>nb - Databricks</title></head><body><script>\n"
        f"var __DATABRICKS_NOTEBOOK_MODEL = '{encoded}';\n"
        "</script></body></html>\n"
    )
