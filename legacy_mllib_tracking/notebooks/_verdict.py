"""Verdicts: what each finding means on a target, without the library and with it.

The "with it" half asks :func:`legacy_mllib_tracking.routing.decide` (what ``configure(spark)``
would decide there, with the flags the notebook sets); the "without it" half encodes documented
Databricks behaviour that the router does not model (nothing on a Databricks runtime reads a
notebook-level ``autologging.enabled``, and open-source Spark has no tracker of its own).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from legacy_mllib_tracking.errors import LegacyTrackingError
from legacy_mllib_tracking.keys import CONF_AUTOLOG, CONF_TRACK
from legacy_mllib_tracking.notebooks._model import (
    Finding,
    Kind,
    Notebook,
    NotebookReport,
    Verdict,
)
from legacy_mllib_tracking.notebooks._target import Target
from legacy_mllib_tracking.routing import Decision, Mode, decide

__all__ = ["FACTS", "LEGACY_CALL", "Coverage", "assess", "coverage", "where"]

#: What migrate inserts (and the messages name) where ``configure(spark)`` alone routes OFF.
LEGACY_CALL = "configure(spark, mode='legacy')"

#: The documented facts the messages quote, each said once.
FACTS: Mapping[str, str] = {
    "exclusive": (
        "Databricks Autologging runs mlflow.autolog(exclusive=True) when the notebook attaches, "
        "so a fit inside a run you started logs no params and no child runs"
    ),
    "pipeline_names": (
        "a Pipeline-tuned estimator's child params are named like "
        "DecisionTreeClassifier.maxBins, not maxBins"
    ),
    "pipeline_stage": "a tuner inside a Pipeline gets no child runs",
    "notebook_flag": (
        f"{CONF_AUTOLOG}=false set from a notebook does not switch Databricks Autologging off "
        "(it is read when the notebook attaches); turning the old tracker back on needs both "
        "flags at cluster level"
    ),
    "restart": "%pip and restartPython() restart Python: anything configured before is lost",
}


class _Without(enum.Enum):
    """What logs a tuning fit on the target when the library is not used."""

    #: Nothing: standard runtimes >= 10.2, serverless, open-source Spark.
    NOTHING = "nothing"
    #: The retired tracker itself (DBR 5.4 to 10.1, or earlier with the flag on).
    TRACKER = "tracker"
    #: Databricks Autologging, exclusive (ML runtimes >= 10.2).
    DATABRICKS_AUTOLOG = "databricks-autolog"
    #: The notebook's own mlflow autolog call.
    OWN_AUTOLOG = "own-autolog"


def _flags(findings: Sequence[Finding]) -> dict[str, Any]:
    """The last executed value the notebook sets for each routing flag."""
    values: dict[str, Any] = {}
    for finding in findings:
        if finding.kind is Kind.FLAG_SET and finding.executed:
            values[finding.details["flag"]] = finding.details["value"]
    return values


@lru_cache(maxsize=256)
def _decision(
    target: Target,
    track: Any,
    autolog: Any,
    mode: str | None = None,
    runtime_version: str | None = None,
) -> Decision | str:
    """What ``configure(spark, mode=mode, runtime_version=runtime_version)`` decides on
    ``target`` with the notebook's flags; the error message where it would raise."""
    track = track if isinstance(track, (str, bool)) else None
    autolog = autolog if isinstance(autolog, (str, bool)) else None
    try:
        if runtime_version is not None:  # configure(runtime_version=...) overrides the runtime
            return decide(
                runtime_version,
                track=track,
                autolog=autolog,
                mode=mode,
                runtime_source="configure(runtime_version=...)",
            )
        return decide(
            target.runtime,
            databricks=target.databricks,
            ml=target.ml,
            track=track,
            autolog=autolog,
            mode=mode,
        )
    except LegacyTrackingError as error:
        return str(error)


# --- which configure() call covers a tuning fit ------------------------------------------------

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
    if not any(f.kind is Kind.LIBRARY_CONFIGURE and f.executed for f in findings):
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


def _configured_decision(
    target: Target, finding: Finding, flags: Mapping[str, Any]
) -> Decision | str | None:
    """What a ``configure()`` call decides; ``None`` when the scan cannot read its arguments."""
    details = finding.details
    if details["dynamic"]:
        return None
    return _decision(
        target,
        flags.get(CONF_TRACK),
        flags.get(CONF_AUTOLOG),
        details["mode"],
        details["runtime_version"],
    )


def _covered_fit(
    finding: Finding, target: Target, cover: Coverage, own_autolog: bool
) -> tuple[Verdict, str]:
    """Verdict and message of a fit that a ``configure()`` call runs before."""
    assert cover.configure is not None
    call, at = _call_text(cover.configure), where(cover.configure)
    without, phrase = _without(target, cover.flags.get(CONF_TRACK))
    if without is _Without.NOTHING and own_autolog:
        phrase = "the notebook's own autolog call logs it"
    decision = _configured_decision(target, cover.configure, cover.flags)
    if decision is None:
        return Verdict.REVIEW, (
            f"without the library: {phrase}; with it: {call} in {at} covers this fit, but its "
            "mode or runtime_version is an expression the scan cannot tell: check what it routes"
        )
    if isinstance(decision, str):
        return Verdict.REVIEW, (
            f"without the library: {phrase}; with it: {call} in {at} raises before this fit: "
            f"{decision}"
        )
    if decision.mode is Mode.OFF:
        if decision.forced:
            return Verdict.OK, (
                f"without the library: {phrase}; with it: {call} in {at} covers this fit and "
                "turns this library's tracking off, as the notebook asks"
            )
        return Verdict.MIGRATE, (
            f"without the library: {phrase}; with it: {call} in {at} routes OFF here "
            f"({decision.reason}) and logs nothing: call {LEGACY_CALL} instead"
        )
    return Verdict.OK, (
        f"without the library: {phrase}; with it: {call} in {at} covers this fit: it routes "
        f"{decision.mode.value.upper()} and logs a parent run and one child run per param map "
        f"under the legacy names{_names(finding.details)}"
    )


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


def _configure_message(finding: Finding, target: Target, flags: Mapping[str, Any]) -> str:
    """The message of a ``library_configure`` finding: what the call routes on the target."""
    without = "without the library: this line fails (legacy_mllib_tracking is not installed); "
    decision = _configured_decision(target, finding, flags)
    if decision is None:
        return without + (
            "with it: its mode or runtime_version is an expression the scan cannot tell, so "
            "what it routes is not known"
        )
    if isinstance(decision, str):
        return without + f"with it: raises {decision}"
    covers = (
        "the tuning fits after it are covered until a %pip, restartPython(), flag set or "
        "autolog call"
    )
    if decision.mode is Mode.OFF and not decision.forced:
        return without + (
            f"with it: routes OFF on {target} ({decision.reason}), so the tuning fits after it "
            f"log nothing; {LEGACY_CALL} logs the legacy layout"
        )
    if decision.mode is Mode.OFF:
        return without + f"with it: turns this library's tracking off on {target}, as forced"
    return without + f"with it: routes {decision.mode.value.upper()} on {target}; {covers}"


def _without(target: Target, track: Any) -> tuple[_Without, str]:
    """What logs a tuning fit without the library, and a phrase saying so."""
    if not target.databricks:
        return _Without.NOTHING, "open-source Spark logs nothing for it"
    if target.tracker_band:
        # The tracker still exists; a notebook-level trackMLlib flag is honoured there.
        decision = _decision(target, track, None)
        if isinstance(decision, Decision) and decision.mode is Mode.LEGACY:
            return _Without.TRACKER, f"the retired tracker still logs it on {target}"
        return _Without.NOTHING, f"the tracker is off on {target}: nothing is logged"
    decision = _decision(target, None, None)
    if isinstance(decision, Decision) and decision.mode is Mode.AUTOLOG:
        return _Without.DATABRICKS_AUTOLOG, f"on {target} Databricks Autologging logs it"
    runtime = target.runtime
    if runtime is not None and runtime.serverless:
        return _Without.NOTHING, f"{target} does not start autologging: nothing is logged"
    return _Without.NOTHING, f"{target} has no autologging: nothing is logged"


def _names(details: Mapping[str, Any] | None) -> str:
    """`` (params.maxDepth, metrics.avg_f1)``: the legacy names a fit logs, or ""."""
    if details is None:
        return ""
    shown = [f"params.{p['legacy']}" for p in details["params"]]
    if details.get("metric"):
        shown.append(f"metrics.{details['metric']}")
    return f" ({', '.join(shown)})" if shown else ""


def _with(decision: Decision | str, details: Mapping[str, Any] | None = None) -> str:
    """'with it: ...' for a tuning fit that no configure() call covers yet.

    Where ``configure(spark)`` alone routes OFF (standard runtimes >= 10.2, serverless: no
    flag on), it would log nothing: the message names :data:`LEGACY_CALL`, which ``migrate``
    inserts there (:attr:`NotebookReport.configure_mode`).
    """
    if isinstance(decision, str):
        return f"with it: configure(spark) refuses the notebook's flag: {decision}"
    logs = "logs a parent run and one child run per param map under the legacy names" + _names(
        details
    )
    if decision.mode is Mode.OFF:
        return (
            f"with it: configure(spark) alone routes OFF here ({decision.reason}) and logs "
            f"nothing; {LEGACY_CALL} routes LEGACY and {logs}"
        )
    return f"with it: configure(spark) routes {decision.mode.value.upper()} and {logs}"


def _tuning_fit(
    finding: Finding,
    target: Target,
    decision: Decision | str,
    flags: Mapping[str, Any],
    own_autolog: bool,
) -> tuple[Verdict, str]:
    details = finding.details
    with_it = _with(decision, details)
    if details["via"] == "call":
        return Verdict.REVIEW, (
            f"the {details['tuner']} is fitted in code outside this notebook (a call into another "
            "file): without the library it logs what that code's fit logs, check that file; "
            f"{with_it}"
        )
    without, phrase = _without(target, flags.get(CONF_TRACK))
    if without is _Without.NOTHING and own_autolog:
        without, phrase = _Without.OWN_AUTOLOG, "the notebook's own autolog call logs it"
    if without is _Without.TRACKER:
        return Verdict.OK, f"without the library: {phrase}; {with_it}"
    if without is _Without.NOTHING:
        return Verdict.MIGRATE, f"without the library: {phrase}; {with_it}"
    lost: list[str] = []
    if without is _Without.DATABRICKS_AUTOLOG and details["run_context"] != "none":
        where = (
            "inside `with mlflow.start_run()`"
            if details["run_context"] == "with"
            else ("under a run started in an earlier cell")
        )
        lost.append(f"{FACTS['exclusive']}, and this fit runs {where}")
    # (a fit that logs nothing at all: how autolog would name its params does not matter)
    elif details["via"] == "pipeline":
        lost.append(f"autolog logs the Pipeline fit, but {FACTS['pipeline_stage']}")
    elif details["estimator"] == "Pipeline":
        renamed = [p["autolog"] for p in details["params"] if p["autolog"] != p["legacy"]]
        lost.append(
            "autolog logs it, but "
            + FACTS["pipeline_names"]
            + (f" (here {', '.join(renamed)})" if renamed else "")
        )
    if not lost:
        return Verdict.OK, (
            f"without the library: {phrase} with the same param and metric names (child runs "
            f"get random names); {with_it}"
        )
    # A notebook that turned autolog on itself did not rely on the tracker: a person decides.
    verdict = Verdict.REVIEW if without is _Without.OWN_AUTOLOG else Verdict.MIGRATE
    if without is _Without.DATABRICKS_AUTOLOG:
        phrase = f"on {target}"  # each lost fact names Databricks Autologging itself
    return verdict, f"without the library: {phrase}, {'; '.join(lost)}; {with_it}"


def _message(
    finding: Finding,
    target: Target,
    decision: Decision | str,
    flags: Mapping[str, Any],
    own_autolog: bool,
) -> tuple[Verdict | None, str]:
    kind = finding.kind
    details = finding.details
    if not finding.executed:
        return None, (
            "documentation (a comment or markdown), not code: nothing runs, without the library "
            "or with it"
        )
    if kind is Kind.TUNING_FIT:
        return _tuning_fit(finding, target, decision, flags, own_autolog)
    if kind is Kind.LIBRARY_CONFIGURE:
        return None, _configure_message(finding, target, flags)
    if kind is Kind.FLAG_SET:
        if target.tracker_band:
            return None, (
                f"without the library: honoured on {target} as before; with it: configure(spark) "
                "reads it too"
            )
        routed = (
            decision
            if isinstance(decision, str)
            else f"configure(spark) reads it and routes {decision.mode.value.upper()}"
            + (
                f" (set {CONF_TRACK}=true too for the legacy layout)"
                if decision.mode is Mode.OFF
                else ""
            )
        )
        autologging = _without(target, None)[0] is _Without.DATABRICKS_AUTOLOG
        if details["flag"] == CONF_AUTOLOG and autologging:
            return Verdict.REVIEW, (
                f"without the library: {FACTS['notebook_flag']}; with it: {routed}"
            )
        if not target.databricks or details["flag"] == CONF_AUTOLOG:
            return Verdict.REVIEW, (
                f"without the library: nothing on {target} reads {details['flag']}; "
                f"with it: {routed}"
            )
        return Verdict.REVIEW, (
            f"without the library: setting {CONF_TRACK} from a notebook no longer brings the "
            f"retired tracker back on {target} (it needs both flags at cluster level); "
            f"with it: {routed}"
        )
    if kind is Kind.FLAG_READ:
        return Verdict.REVIEW, (
            f"without the library: on {target} the flag no longer says whether MLlib fits are "
            "tracked; with it: read configure(spark)'s Decision "
            "(legacy_mllib_tracking.current_decision()) instead"
        )
    if kind is Kind.AUTOLOG_CALL:
        if details["disable"] is True:
            return None, (
                "without the library: turns autologging off; with it: configure(spark) decides "
                "the mode again when it runs"
            )
        return None, (
            "without the library: logs the plain autolog layout; with it: configure(spark) in "
            "AUTOLOG mode calls mlflow.pyspark.ml.autolog(exclusive=False) itself: call "
            "configure(spark) after this line or drop it"
        )
    if kind is Kind.LEGACY_NAME_REF:
        name, autolog = details["name"], details["autolog_name"]
        if autolog and autolog != name:
            return None, (
                f"reads {name}: without the library, runs logged by plain autolog call it "
                f"{autolog}, so this finds nothing; with it: the legacy name is logged"
            )
        if name.startswith("metrics."):
            return None, (
                f"reads {name}: the same name without the library (plain autolog) and with it, "
                "on child runs (none where a fit logs no child runs)"
            )
        return None, (
            f"reads {name}: without the library plain autolog logs this name unless the tuned "
            "estimator is a Pipeline (then Stage.name); with it: this name"
        )
    if kind is Kind.START_RUN:
        if details["with"]:
            return None, (
                "without the library: the run is started as before; with it: tuning fits inside "
                "it log into it as their parent run"
            )
        return None, (
            "a run started without `with`: without the library as before; with it: later fits "
            "log into it until end_run()"
        )
    if kind is Kind.END_RUN:
        return None, (
            "without the library: ends the run as before; with it: later fits create their own "
            "parent run"
        )
    if kind is Kind.LOG_MODEL:
        return None, (
            "without the library: logs this model as before; with it: in AUTOLOG mode autolog "
            "also logs the best model, pass configure(spark, autolog_options={'log_models': "
            "False}) to keep only this one"
        )
    if kind is Kind.MANUAL_CHILD_RUNS:
        return Verdict.REVIEW, (
            "without the library: the hand-written child runs are logged as before; with it: each "
            "tuning fit also gets its own parent and child runs (two trees): drop this loop or "
            "configure(spark, mode='off')"
        )
    if kind is Kind.NOTEBOOK_CALL:
        if details["via"] == "dbutils.notebook.run":
            return Verdict.REVIEW, (
                "runs the other notebook in a fresh Python, without the library or with it: "
                "configure(spark) here does not reach it; scan and migrate that notebook"
            )
        return None, (
            "without the library: as before; with it: %run executes the other notebook in this "
            "Python, so call configure(spark) before this cell if that notebook fits tuners"
        )
    if kind is Kind.PIP_INSTALL:
        return None, (
            f"without the library: as before; with it: {FACTS['restart']}, so configure(spark) "
            "must come after it"
        )
    if kind is Kind.NOT_APPLICABLE:
        return None, (
            "Scala tuning: the retired feature tracked Python fits only, so nothing changes, "
            "without the library or with it"
        )
    if kind is Kind.PARSE_ERROR:
        return Verdict.REVIEW, (
            f"cannot be read as Python ({details['error']}), so the scan cannot say what happens "
            "without the library or with it: look at it by hand"
        )
    return None, ""


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
    flags_so_far: dict[str, Any] = {}
    for finding, cover in zip(findings, covers, strict=True):
        verdict: Verdict | None
        if cover is not None and cover.covered:
            verdict, message = _covered_fit(finding, target, cover, own_autolog)
        elif finding.kind is Kind.LIBRARY_CONFIGURE:
            verdict, message = _message(finding, target, decision, flags_so_far, own_autolog)
        else:
            verdict, message = _message(finding, target, decision, flags, own_autolog)
            if cover is not None:
                message += _not_covered(cover)
        if finding.kind is Kind.AUTOLOG_CALL and finding.executed:
            own_autolog = finding.details["disable"] is not True
        elif finding.kind is Kind.FLAG_SET and finding.executed:
            flags_so_far[finding.details["flag"]] = finding.details["value"]
        if verdict is not None and verdict.rank > worst.rank:
            worst = verdict
        # (The constructor, not dataclasses.replace: several times cheaper on large scans.)
        assessed.append(
            Finding(
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
