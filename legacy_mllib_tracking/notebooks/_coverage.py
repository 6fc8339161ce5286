"""Which ``configure()`` call covers a tuning fit: the last one before it, what undoes it in
between (``%pip``, ``restartPython()``, a flag set, an autolog call), or the first one after it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from legacy_mllib_tracking.notebooks._model import (
    Finding,
    Kind,
)

__all__ = ["Coverage", "coverage", "where"]

#: Findings that undo an earlier ``configure()`` (it must run after them), and what they do.
_UNDOES = {
    Kind.PIP_INSTALL: "restarts Python",
    Kind.FLAG_SET: "sets {flag}",
    Kind.AUTOLOG_CALL: "calls mlflow autolog, which replaces what configure() set up",
}


@dataclass(frozen=True)
class Coverage:
    """How the notebook's ``configure()`` calls relate to one tuning fit.

    Attributes:
        configure: the last executed ``library_configure`` before the fit, or ``None``.
        undone_by: the first finding between that call and the fit that undoes it (a ``%pip``
            or ``restartPython()``, a flag set, an autolog call), or ``None``.
        later: when no call comes before the fit, the first one after it, else ``None``.
        flags: the routing flags the notebook set before ``configure`` (what it reads).
    """

    configure: Finding | None
    undone_by: Finding | None
    later: Finding | None
    flags: Mapping[str, Any]

    @property
    def covered(self) -> bool:
        """A ``configure()`` call runs before the fit and nothing undoes it in between."""
        return self.configure is not None and self.undone_by is None


def coverage(findings: Sequence[Finding]) -> list[Coverage | None]:
    """For each finding (in notebook order), its :class:`Coverage` if it is an executed tuning
    fit in a notebook that calls ``configure()``, else ``None``.

    A fit written inside a function body (``in_function``) runs when the function is called,
    which the scan does not follow: it is taken to run after the notebook's last
    ``configure()`` call (a script's ``if __name__ == "__main__":`` block, a later cell).
    """
    result: list[Coverage | None] = [None] * len(findings)
    configure = Kind.LIBRARY_CONFIGURE  # (read once: an enum class attribute is slow on 3.11)
    if not any(f.kind is configure and f.executed for f in findings):
        return result
    active: Finding | None = None
    undone: Finding | None = None
    flags: dict[str, Any] = {}
    flags_at: dict[str, Any] = {}
    pending: list[int] = []  # fits with no configure() before them
    called: list[int] = []  # fits inside a function body: assessed at the end
    for index, finding in enumerate(findings):
        if not finding.executed:
            continue
        kind = finding.kind
        if kind is Kind.TUNING_FIT and finding.details.get("in_function"):
            called.append(index)
            continue
        if kind is Kind.LIBRARY_CONFIGURE:
            for fit in pending:
                result[fit] = Coverage(None, None, finding, {})
            pending = []
            active, undone, flags_at = finding, None, dict(flags)
        elif kind in _UNDOES:
            if kind is Kind.FLAG_SET:
                flags[finding.details["flag"]] = finding.details["value"]
            if active is not None and undone is None:
                undone = finding
        elif kind is Kind.TUNING_FIT:
            if active is None:
                pending.append(index)
                result[index] = Coverage(None, None, None, {})
            else:
                result[index] = Coverage(active, undone, None, flags_at)
    for index in called:
        result[index] = Coverage(active, undone, None, flags_at if active else {})
    return result


def where(finding: Finding) -> str:
    """``cell 3``, or ``line 12`` in a plain script."""
    return f"line {finding.line}" if finding.cell is None else f"cell {finding.cell}"


def _call_text(finding: Finding) -> str:
    """The configure() call as the notebook makes it, with the arguments that route."""
    details = finding.details
    arguments = [details["session"] or "..."]
    for key in ("mode", "runtime_version"):
        if details[key] is not None:
            arguments.append(f"{key}={details[key]!r}")
    return f"configure({', '.join(arguments)})"


def _not_covered(cover: Coverage) -> str:
    """Why a notebook's configure() call does not cover a fit ("" when it has none)."""
    if cover.later is not None:
        return f"; configure() in {where(cover.later)} runs after this fit: call it before"
    if cover.configure is not None and cover.undone_by is not None:
        undo = cover.undone_by
        return (
            f"; configure() in {where(cover.configure)} is undone: {where(undo)} "
            f"{_UNDOES[undo.kind].format(**undo.details)}, so call configure() after that"
        )
    return ""
