"""Verdicts: what each finding means on a target, without the library and with it.

The "with it" half asks :func:`legacy_mllib_tracking.routing.decide` (what ``configure(spark)``
would decide there, with the flags the notebook sets); the "without it" half encodes documented
Databricks behaviour that the router does not model (nothing on a Databricks runtime reads a
notebook-level ``autologging.enabled``, and open-source Spark has no tracker of its own).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from legacy_mllib_tracking.keys import CONF_AUTOLOG, CONF_TRACK
from legacy_mllib_tracking.notebooks._coverage import (
    Coverage,
    _not_covered,
    coverage,
    where,
)
from legacy_mllib_tracking.notebooks._decide import _decision
from legacy_mllib_tracking.notebooks._messages import (
    FACTS,
    LEGACY_CALL,
    _covered_fit,
    _message,
)
from legacy_mllib_tracking.notebooks._model import (
    Finding,
    Kind,
    Notebook,
    NotebookReport,
    Verdict,
    new_finding,
)
from legacy_mllib_tracking.notebooks._target import Target
from legacy_mllib_tracking.routing import Decision, Mode

__all__ = ["FACTS", "LEGACY_CALL", "Coverage", "assess", "coverage", "where"]


def _flags(findings: Sequence[Finding]) -> dict[str, Any]:
    """The last executed value the notebook sets for each routing flag."""
    values: dict[str, Any] = {}
    flag_set = Kind.FLAG_SET  # (read once: an enum class attribute is a slow lookup on 3.11)
    for finding in findings:
        if finding.kind is flag_set and finding.executed:
            values[finding.details["flag"]] = finding.details["value"]
    return values


def assess(notebook: Notebook, findings: Sequence[Finding], target: Target) -> NotebookReport:
    """Give each finding its verdict and one-line message for ``target``; return the report.

    The notebook's verdict is the worst of its findings' (``ok`` when none asks for anything).
    A tuning fit that a ``configure()`` call covers (:func:`coverage`) is assessed for what
    that call routes; one it does not cover says why.
    """
    flags = _flags(findings)
    decision = _decision(target, flags.get(CONF_TRACK), flags.get(CONF_AUTOLOG))
    covers = coverage(findings)
    assessed: list[Finding] = []
    own_autolog = False
    worst = Verdict.OK
    worst_rank = worst.rank
    flags_so_far: dict[str, Any] = {}
    # Kinds read once: an enum class attribute is a slow lookup on 3.11 (EnumType.__getattr__).
    configure, autolog, flag_set = Kind.LIBRARY_CONFIGURE, Kind.AUTOLOG_CALL, Kind.FLAG_SET
    for finding, cover in zip(findings, covers, strict=True):
        verdict: Verdict | None
        if cover is not None and cover.covered:
            verdict, message = _covered_fit(finding, target, cover, own_autolog)
        elif finding.kind is configure:
            verdict, message = _message(finding, target, decision, flags_so_far, own_autolog)
        else:
            verdict, message = _message(finding, target, decision, flags, own_autolog)
            if cover is not None:
                message += _not_covered(cover)
        if finding.kind is autolog and finding.executed:
            own_autolog = finding.details["disable"] is not True
        elif finding.kind is flag_set and finding.executed:
            flags_so_far[finding.details["flag"]] = finding.details["value"]
        if verdict is not None and verdict.rank > worst_rank:
            worst, worst_rank = verdict, verdict.rank
        # (Not dataclasses.replace: several times dearer on large scans.)
        assessed.append(
            new_finding(
                finding.kind,
                finding.cell,
                finding.line,
                finding.file_line,
                finding.text,
                finding.executed,
                finding.details,
                verdict,
                message,
            )
        )
    mode = "legacy" if isinstance(decision, Decision) and decision.mode is Mode.OFF else None
    return NotebookReport(notebook, worst, tuple(assessed), mode)
