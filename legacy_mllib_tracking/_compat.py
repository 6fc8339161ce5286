"""Everything that depends on mlflow's or pyspark's internals, in one place.

Checked against mlflow 2.9 to 3.17 and pyspark 3.4 to 4.3. Each function degrades to a safe answer
when an internal moved, so a new release breaks a feature, never a user's fit.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = [
    "autolog_config",
    "autolog_disabled",
    "autolog_session_active",
]

_logger = logging.getLogger(__name__)

FLAVOR = "pyspark.ml"


def autolog_config() -> dict[str, Any] | None:
    """Return the kwargs of the live ``mlflow.pyspark.ml.autolog()`` call, or ``None`` if off.

    mlflow keeps them in ``mlflow.utils.autologging_utils.AUTOLOGGING_INTEGRATIONS`` (2.x, 3.x).
    """
    try:
        from mlflow.utils.autologging_utils import AUTOLOGGING_INTEGRATIONS
    except ImportError:  # pragma: no cover - moved in a future mlflow
        return None
    config = AUTOLOGGING_INTEGRATIONS.get(FLAVOR)
    if not config or config.get("disable", False):
        return None
    return dict(config)


def autolog_disabled() -> bool:
    """Return whether pyspark.ml autologging is off (never enabled, or disabled)."""
    return autolog_config() is None


def autolog_session_active() -> bool:
    """Return whether an autologged pyspark.ml fit is in progress.

    Inside one, autolog logs nothing for nested fits (mlflow's ``_SparkTrainingSession`` with
    ``allow_children=False``; its stack is process-wide, not per thread, in mlflow 2.x and 3.x).
    """
    try:
        from mlflow.pyspark.ml import _SparkTrainingSession
    except ImportError:  # pragma: no cover
        return False
    try:
        return bool(_SparkTrainingSession.is_active())
    except Exception:  # pragma: no cover
        return False
