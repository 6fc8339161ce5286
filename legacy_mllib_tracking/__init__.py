"""Databricks' retired automated MLflow tracking for MLlib tuning, back on any runtime.

``configure(spark)`` reads the runtime version and two Spark conf flags, then either turns on
legacy-style nested tracking or hands off to ``mlflow.pyspark.ml.autolog()``, with the same run
layout either way. Importing this package imports neither pyspark nor mlflow.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from legacy_mllib_tracking._config import configure, current_decision, is_configured, reset
from legacy_mllib_tracking.errors import (
    InvalidAutologOption,
    InvalidFlagValue,
    InvalidModeError,
    InvalidOption,
    InvalidRuntimeVersion,
    LegacyTrackingDeprecationWarning,
    LegacyTrackingError,
    NotATuningEstimator,
    RunNotFound,
    RuntimeVersionWarning,
    TrackingWarning,
    UnsupportedVersion,
)
from legacy_mllib_tracking.layout import (
    ChildShape,
    LayoutShape,
    RunLayout,
    RunView,
    assert_same_layout,
    diff_layouts,
    inspect_run_layout,
    normalize_layout,
)
from legacy_mllib_tracking.routing import Decision, Flag, FlagSource, Mode, decide
from legacy_mllib_tracking.runtime import RuntimeVersion, parse_runtime_version
from legacy_mllib_tracking.simulate import NOT_DATABRICKS, simulate_runtime

try:
    __version__ = version("legacy-mllib-tracking")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "NOT_DATABRICKS",
    "ChildShape",
    "Decision",
    "Flag",
    "FlagSource",
    "InvalidAutologOption",
    "InvalidFlagValue",
    "InvalidModeError",
    "InvalidOption",
    "InvalidRuntimeVersion",
    "LayoutShape",
    "LegacyTrackingDeprecationWarning",
    "LegacyTrackingError",
    "Mode",
    "NotATuningEstimator",
    "RunLayout",
    "RunNotFound",
    "RunView",
    "RuntimeVersion",
    "RuntimeVersionWarning",
    "TrackingWarning",
    "UnsupportedVersion",
    "__version__",
    "assert_same_layout",
    "configure",
    "current_decision",
    "decide",
    "diff_layouts",
    "inspect_run_layout",
    "is_configured",
    "normalize_layout",
    "parse_runtime_version",
    "reset",
    "simulate_runtime",
]
