"""Databricks' retired automated MLflow tracking for MLlib tuning, back on any runtime.

``configure(spark)`` reads the runtime version and two Spark conf flags, then either turns on
legacy-style nested tracking or hands off to ``mlflow.pyspark.ml.autolog()``, with the same run
layout either way. Importing this package imports neither pyspark nor mlflow.

``scan`` and ``migrate`` (old notebooks, :mod:`legacy_mllib_tracking.notebooks`) are imported
on first access, so ``import legacy_mllib_tracking`` does not load the notebook readers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from legacy_mllib_tracking._config import configure, current_decision, is_configured, reset
from legacy_mllib_tracking.errors import (
    InvalidAutologOption,
    InvalidFlagValue,
    InvalidModeError,
    InvalidOption,
    InvalidRuntimeVersion,
    LegacyTrackingDeprecationWarning,
    LegacyTrackingError,
    NotASparkSession,
    NotATuningEstimator,
    NotebookReadError,
    RewriteError,
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

if TYPE_CHECKING:
    from legacy_mllib_tracking.notebooks import migrate, scan

#: The installed distribution's version, read on first access (:func:`__getattr__`).
__version__: str

#: Names served on first access by :func:`__getattr__`, from the module that defines them.
_LAZY = {
    "migrate": "legacy_mllib_tracking.notebooks",
    "scan": "legacy_mllib_tracking.notebooks",
}

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
    "NotASparkSession",
    "NotATuningEstimator",
    "NotebookReadError",
    "RewriteError",
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
    "migrate",
    "normalize_layout",
    "parse_runtime_version",
    "reset",
    "scan",
    "simulate_runtime",
]


def __getattr__(name: str) -> Any:
    """Return a name served on first access (PEP 562): ``__version__``, ``scan``, ``migrate``.

    ``__version__`` is read from the installed distribution: that imports
    ``importlib.metadata`` (with ``email``, ``zipfile``...), about half of this package's
    import time when profiled (24 of 45 ms; BENCHMARKS.md). ``scan`` and ``migrate`` come from
    :mod:`legacy_mllib_tracking.notebooks` (``ast``, ``zipfile``, ``difflib``...), which most
    users of ``configure()`` never need. Either way the value is then kept as a global.

    Raises:
        AttributeError: ``name`` is not an attribute of this package.
    """
    if name in _LAZY:
        import importlib

        value: Any = getattr(importlib.import_module(_LAZY[name]), name)
    elif name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("legacy-mllib-tracking")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            value = "0.0.0"
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
