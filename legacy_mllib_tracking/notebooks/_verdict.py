"""Verdicts: what each finding means on a target, without the library and with it.

The "with it" half asks :func:`legacy_mllib_tracking.routing.decide` (what ``configure(spark)``
would decide there, with the flags the notebook sets); the "without it" half encodes documented
Databricks behaviour that the router does not model (nothing on a Databricks runtime reads a
notebook-level ``autologging.enabled``, and open-source Spark has no tracker of its own).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from legacy_mllib_tracking.errors import InvalidFlagValue
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

__all__ = ["FACTS", "assess"]

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
def _decision(target: Target, track: Any, autolog: Any) -> Decision | str:
    try:
        return decide(
            target.runtime,
            databricks=target.databricks,
            ml=target.ml,
            track=track if isinstance(track, (str, bool)) else None,
            autolog=autolog if isinstance(autolog, (str, bool)) else None,
        )
    except InvalidFlagValue as error:
        return str(error)


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


def _with(decision: Decision | str, details: Mapping[str, Any] | None = None) -> str:
    """'with it: ...' for a tuning fit."""
    if isinstance(decision, str):
        return f"with it: configure(spark) refuses the notebook's flag: {decision}"
    if decision.mode is Mode.OFF:
        return (
            f"with it: configure(spark) routes OFF here ({decision.reason}); set {CONF_TRACK}="
            "true before it to log the legacy layout"
        )
    names = ""
    if details is not None:
        shown = [f"params.{p['legacy']}" for p in details["params"]]
        if details.get("metric"):
            shown.append(f"metrics.{details['metric']}")
        names = f" ({', '.join(shown)})" if shown else ""
    return (
        f"with it: configure(spark) routes {decision.mode.value.upper()} and logs a parent run and "
        f"one child run per param map under the legacy names{names}"
    )


def _tuning_fit(
    finding: Finding, target: Target, decision: Decision | str, flags: Mapping[str, Any],
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
        where = "inside `with mlflow.start_run()`" if details["run_context"] == "with" else (
            "under a run started in an earlier cell"
        )
        lost.append(f"{FACTS['exclusive']}, and this fit runs {where}")
    if details["via"] == "pipeline":
        lost.append(f"autolog logs the Pipeline fit, but {FACTS['pipeline_stage']}")
    elif details["estimator"] == "Pipeline":
        renamed = [p["autolog"] for p in details["params"] if p["autolog"] != p["legacy"]]
        lost.append(
            "autolog logs it, but " + FACTS["pipeline_names"]
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
    finding: Finding, target: Target, decision: Decision | str, flags: Mapping[str, Any],
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
    if kind is Kind.FLAG_SET:
        if target.tracker_band:
            return None, (
                f"without the library: honoured on {target} as before; with it: configure(spark) "
                "reads it too"
            )
        routed = (
            decision if isinstance(decision, str)
            else f"configure(spark) reads it and routes {decision.mode.value.upper()}"
            + (f" (set {CONF_TRACK}=true too for the legacy layout)"
               if decision.mode is Mode.OFF else "")
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
    """
    flags = _flags(findings)
    decision = _decision(target, flags.get(CONF_TRACK), flags.get(CONF_AUTOLOG))
    assessed: list[Finding] = []
    own_autolog = False
    worst = Verdict.OK
    for finding in findings:
        verdict, message = _message(finding, target, decision, flags, own_autolog)
        if finding.kind is Kind.AUTOLOG_CALL and finding.executed:
            own_autolog = finding.details["disable"] is not True
        if verdict is not None and verdict.rank > worst.rank:
            worst = verdict
        # (The constructor, not dataclasses.replace: several times cheaper on large scans.)
        assessed.append(Finding(finding.kind, finding.cell, finding.line, finding.file_line,
                                finding.text, finding.executed, finding.details, verdict, message))
    return NotebookReport(notebook, worst, tuple(assessed))
