"""The one-line message of each finding: what happens on the target without the library and
with it, quoting the documented facts once; and the finding's own verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from legacy_mllib_tracking.keys import CONF_AUTOLOG, CONF_TRACK
from legacy_mllib_tracking.notebooks._coverage import (
    Coverage,
    _call_text,
    where,
)
from legacy_mllib_tracking.notebooks._decide import (
    _configured_decision,
    _Without,
    _without,
)
from legacy_mllib_tracking.notebooks._model import (
    Finding,
    Kind,
    Verdict,
    configure_call,
)
from legacy_mllib_tracking.notebooks._target import Target
from legacy_mllib_tracking.routing import Decision, Mode

__all__ = ["FACTS", "LEGACY_CALL"]

#: What migrate inserts (and the messages name) where ``configure(spark)`` alone routes OFF.
LEGACY_CALL = configure_call(mode="legacy")

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
