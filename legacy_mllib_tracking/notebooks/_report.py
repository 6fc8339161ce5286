"""The scan report as text, JSON (schema 1) and SARIF 2.1.0 (GitHub code scanning)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import Any, TextIO

from legacy_mllib_tracking.notebooks._model import (
    FileReport,
    Finding,
    Format,
    Kind,
    NotebookReport,
    ScanReport,
    Tally,
    Verdict,
)

__all__ = [
    "SARIF_RULES",
    "location",
    "render_json",
    "render_sarif",
    "render_text",
    "write_json",
    "write_text",
]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

#: A SARIF rule for each kind that can change a verdict: (name, short description, level).
SARIF_RULES: dict[Kind, tuple[str, str, str]] = {
    Kind.TUNING_FIT: (
        "TuningFitReliesOnRetiredTracker",
        "A CrossValidator/TrainValidationSplit fit that the retired MLlib tracker logged",
        "error",
    ),
    Kind.FLAG_SET: (
        "TrackingFlagSetInNotebook",
        "A routing flag set from a notebook, which no longer does what it did",
        "warning",
    ),
    Kind.FLAG_READ: (
        "TrackingFlagRead",
        "Code that reads a routing flag to decide whether fits are tracked",
        "warning",
    ),
    Kind.MANUAL_CHILD_RUNS: (
        "ManualChildRuns",
        "Nested runs written by hand for tuning results (two trees with the library on)",
        "warning",
    ),
    Kind.NOTEBOOK_CALL: (
        "NotebookRunsAnotherNotebook",
        "dbutils.notebook.run starts another notebook that must be migrated on its own",
        "warning",
    ),
    Kind.PARSE_ERROR: (
        "CellDoesNotParse",
        "A Python cell that does not parse and could not be scanned",
        "warning",
    ),
}


#: Findings that ask for nothing but matter when migrating: shown in text without ``-v``.
_NOTES = frozenset(
    {
        Kind.LEGACY_NAME_REF,
        Kind.AUTOLOG_CALL,
        Kind.PIP_INSTALL,
        Kind.LOG_MODEL,
        Kind.LIBRARY_CONFIGURE,
    }
)


def location(report: NotebookReport, finding: Finding) -> str:
    """Where a finding is: ``path:line``, ``path[cell 3]:2``, ``a.dbc!Folder/nb.python[cell 3]:2``.

    Text formats (Databricks source, plain scripts) give the physical file line.
    """
    if finding.file_line is not None:
        return f"{report.notebook.path}:{finding.file_line}"
    if finding.cell is None:
        return f"{report.notebook.location}:{finding.line}"
    return f"{report.notebook.location}[cell {finding.cell}]:{finding.line}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _text_block(file: FileReport, verbose: bool) -> list[str]:
    if file.format is Format.ERROR:
        return [f"ERROR    {file.error}"]
    lines = []
    for notebook in file.notebooks:
        lines.append(
            f"{notebook.verdict.value.upper():<8} {notebook.notebook.location}  "
            f"({notebook.notebook.format.value}, {notebook.notebook.language})"
        )
        for finding in notebook.findings:
            # An ok notebook takes one line, plus its configure() calls: they say why it is ok.
            if not verbose and (
                (notebook.verdict is Verdict.OK and finding.kind is not Kind.LIBRARY_CONFIGURE)
                or (finding.verdict is None and finding.kind not in _NOTES)
                or not finding.executed
            ):
                continue
            tag = f" [{finding.verdict.value}]" if finding.verdict is not None else ""
            doc = "" if finding.executed else " (not executed)"
            lines.append(
                f"  {location(notebook, finding)}: {finding.kind.value}{tag}{doc}: {finding.text}"
            )
            if finding.message:
                lines.append(f"      {finding.message}")
    return lines


def _summary_line(target: str, summary: dict[str, int]) -> str:
    read = summary["files"] - summary["skipped"] - summary["errors"]
    return (
        f"scanned {_plural(summary['scanned'], 'notebook')} in {_plural(read, 'file')} for "
        f"{target}: {summary['migrate']} migrate, {summary['review']} review, "
        f"{summary['ok']} ok; {summary['skipped']} skipped, {_plural(summary['errors'], 'error')}"
    )


def write_text(
    target: str, files: Iterable[FileReport], out: TextIO, *, verbose: bool = False
) -> Tally:
    """Write the text report file by file (memory stays flat); return the counts.

    One block per notebook (verdict, findings with location and message), then a summary line.
    Notebooks with verdict ``ok`` take one line (plus their ``configure()`` calls, which say
    why); others show the findings that ask for something and the notes that matter when
    migrating (legacy names read, autolog calls, ``%pip``, ``log_model``, ``configure()``);
    with ``verbose`` every finding is shown, documentation too.
    """
    tally = Tally()
    for file in files:
        tally.add(file)
        for line in _text_block(file, verbose):
            out.write(line + "\n")
    out.write(_summary_line(target, tally.summary()) + "\n")
    return tally


#: json.dumps's own defaults but for the check for cycles (a dict and a set operation per dict
#: and list; a report built by to_dict() has none): the same text, one encoder for every file.
_ENCODER = json.JSONEncoder(check_circular=False)


def write_json(target: str, files: Iterable[FileReport], out: TextIO) -> Tally:
    """Write the JSON document (schema 1) file by file, one file object per line.

    Every key is always present. Not indented further: ``json.dumps(indent=...)`` takes
    Python's slow encoder, more than the scan itself costs on a large tree; ``jq .`` reads it.
    """
    tally = Tally()
    out.write(f'{{"schema": 1, "target": {json.dumps(target)}, "files": [')
    separator = "\n"
    for file in files:
        tally.add(file)
        out.write(separator + _ENCODER.encode(file.to_dict()))
        separator = ",\n"
    out.write(f'\n], "summary": {json.dumps(tally.summary())}}}\n')
    return tally


def render_text(report: ScanReport, *, verbose: bool = False) -> str:
    """The text report of a whole scan (see :func:`write_text`)."""
    buffer = io.StringIO()
    write_text(report.target, report.files, buffer, verbose=verbose)
    return buffer.getvalue().rstrip("\n")


def render_json(report: ScanReport) -> str:
    """The JSON document of a whole scan (see :func:`write_json`)."""
    buffer = io.StringIO()
    write_json(report.target, report.files, buffer)
    return buffer.getvalue()


def _uri(path: str) -> str:
    pure = Path(path)
    if pure.is_absolute():
        try:
            pure = pure.relative_to(Path.cwd())
        except ValueError:
            return pure.as_uri()
    return PurePath(pure).as_posix()


def render_sarif(report: ScanReport, *, version: str = "0.0.0") -> dict[str, Any]:
    """A SARIF 2.1.0 log as GitHub code scanning accepts it.

    One rule per kind that can change a verdict, one result per finding whose verdict is
    ``migrate`` (level ``error``) or ``review`` (``warning``), located at its file and line
    (line 1 for formats without physical lines); cell and line in ``properties``.
    """
    kinds = list(SARIF_RULES)
    rules = [
        {
            "id": kind.value,
            "name": name,
            "shortDescription": {"text": text},
            "fullDescription": {"text": text},
            "defaultConfiguration": {"level": level},
            "help": {"text": text + ". Run `legacy-mllib-tracking migrate` to see the fix."},
            "properties": {"tags": ["mlflow", "mllib", "migration"]},
        }
        for kind, (name, text, level) in SARIF_RULES.items()
    ]
    results = []
    for notebook in report.notebooks():
        for finding in notebook.findings:
            if finding.verdict is None or finding.kind not in SARIF_RULES:
                continue
            region = {"startLine": finding.file_line or 1}
            results.append(
                {
                    "ruleId": finding.kind.value,
                    "ruleIndex": kinds.index(finding.kind),
                    "level": "error" if finding.verdict is Verdict.MIGRATE else "warning",
                    "message": {"text": f"{finding.verdict.value}: {finding.message}"},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": _uri(notebook.notebook.path)},
                                "region": region,
                            },
                            "logicalLocations": [
                                {"fullyQualifiedName": location(notebook, finding)}
                            ],
                        }
                    ],
                    "properties": {
                        "notebook": notebook.notebook.name,
                        "cell": finding.cell,
                        "line": finding.line,
                        "verdict": finding.verdict.value,
                        "notebookVerdict": notebook.verdict.value,
                    },
                }
            )
    errors = [file for file in report.files if file.format is Format.ERROR]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "legacy-mllib-tracking",
                        "version": version,
                        "rules": rules,
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": not errors,
                        "toolExecutionNotifications": [
                            {
                                "level": "error",
                                "message": {"text": str(file.error)},
                                "locations": [
                                    {
                                        "physicalLocation": {
                                            "artifactLocation": {"uri": _uri(file.path)}
                                        }
                                    }
                                ],
                            }
                            for file in errors
                        ],
                    }
                ],
                "properties": {"target": report.target, "summary": report.summary()},
                "results": results,
            }
        ],
    }
