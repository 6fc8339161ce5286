"""Databricks' retired automated MLflow tracking for MLlib tuning, back on any runtime.

``configure(spark)`` reads the runtime version and two Spark conf flags, then either turns on
legacy-style nested tracking or hands off to ``mlflow.pyspark.ml.autolog()``, with the same run
layout either way. Importing this package imports neither pyspark nor mlflow.
"""

from __future__ import annotations

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
    RoutingAdvice,
    RunNotFound,
    RuntimeVersionWarning,
    TrackingNotice,
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

#: The installed distribution's version, read on first access (:func:`__getattr__`).
__version__: str

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
    "RoutingAdvice",
    "RunLayout",
    "RunNotFound",
    "RunView",
    "RuntimeVersion",
    "RuntimeVersionWarning",
    "TrackingNotice",
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


def __getattr__(name: str) -> str:
    """Return ``__version__``, read from the installed distribution on first access (PEP 562).

    Reading it imports ``importlib.metadata`` (with ``email``, ``zipfile``...), about half of
    this package's import time when profiled (24 of 45 ms; BENCHMARKS.md), so ``import
    legacy_mllib_tracking`` leaves it to the first reader. The value is then kept as a global.

    Raises:
        AttributeError: ``name`` is not an attribute of this package.
    """
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("legacy-mllib-tracking")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        value = "0.0.0"
    globals()["__version__"] = value
    return value
