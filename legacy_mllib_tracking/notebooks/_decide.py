"""What routes a tuning fit on the target: what ``configure()`` decides there (for the
notebook's flags, or for a call's own arguments), and what logs the fit without the library.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from legacy_mllib_tracking.errors import LegacyTrackingError
from legacy_mllib_tracking.keys import CONF_AUTOLOG, CONF_TRACK
from legacy_mllib_tracking.notebooks._model import Finding
from legacy_mllib_tracking.notebooks._target import Target
from legacy_mllib_tracking.routing import Decision, Mode, decide


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
