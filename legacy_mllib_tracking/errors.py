"""The exceptions and warnings of legacy-mllib-tracking.

The errors about what a caller passed or what this process runs derive from
:class:`LegacyTrackingError` and also from the builtin they refine, so ``except ValueError`` keeps
working for callers who do not know us::

    LegacyTrackingError (Exception)
    ├── InvalidRuntimeVersion (ValueError)   a runtime string that cannot be parsed
    ├── InvalidFlagValue (ValueError)        a Spark conf flag that is not 'true'/'false'
    ├── InvalidModeError (ValueError)        a forced mode that is not legacy/autolog/off
    ├── InvalidAutologOption (ValueError)    an autolog option mlflow.pyspark.ml.autolog lacks,
    │                                        or a value of the wrong type
    ├── InvalidOption (ValueError)           another configure() option out of range
    ├── NotATuningEstimator (TypeError)      a non-tuner where a tuner is expected
    ├── NotASparkSession (TypeError)         configure() given something that is not a session
    ├── NotebookReadError (ValueError)       a notebook file scan/migrate cannot read
    ├── RewriteError (ValueError)            a notebook migrate cannot rewrite as asked
    ├── RunNotFound (LookupError)            a run id the tracking store does not know
    └── UnsupportedVersion (ImportError)     pyspark or mlflow older than supported, found
                                             by configure() (ImportError: what pandas and
                                             scikit-learn raise for a too-old dependency)

A few helpers raise the plain builtin instead: ``diff_layouts`` and ``simulate_runtime`` a
``ValueError`` for a bad argument, ``simulate_runtime`` a ``RuntimeError`` when another thread
holds the simulation, ``replay`` a ``FileNotFoundError`` for a missing spool path, and the layout
assertions (``assert_same_layout``, the pytest plugin) an ``AssertionError``.

Warnings come in three families, so that filtering advice never hides lost data::

    TrackingWarning (UserWarning)            something was not logged; training went on
    TrackingNotice (UserWarning)             from configure() on, something is left out by
                                             design or replaced (a Spark Connect client logs
                                             no models; an unreadable model allowlist file)
    RoutingAdvice (UserWarning)              what configure() found in the routing inputs
    ├── RuntimeVersionWarning                a runtime string from the environment was
    │                                        unreadable; routed like the newest runtime
    └── LegacyTrackingDeprecationWarning (FutureWarning)
                                             the legacy layout is served by this library

Errors raised by Spark's own ``fit()`` are never wrapped: they reach the caller unchanged.
"""

from __future__ import annotations

__all__ = [
    "InvalidAutologOption",
    "InvalidFlagValue",
    "InvalidModeError",
    "InvalidOption",
    "InvalidRuntimeVersion",
    "LegacyTrackingDeprecationWarning",
    "LegacyTrackingError",
    "NotASparkSession",
    "NotATuningEstimator",
    "NotebookReadError",
    "RewriteError",
    "RoutingAdvice",
    "RunNotFound",
    "RuntimeVersionWarning",
    "TrackingNotice",
    "TrackingWarning",
    "UnsupportedVersion",
]


class LegacyTrackingError(Exception):
    """Base class of every error raised on purpose by legacy-mllib-tracking."""


class InvalidRuntimeVersion(LegacyTrackingError, ValueError):
    """A Databricks runtime version string that the parser cannot read."""


class InvalidFlagValue(LegacyTrackingError, ValueError):
    """A Spark conf flag whose value is not a Spark boolean."""


class InvalidModeError(LegacyTrackingError, ValueError):
    """A forced mode that is not one of ``legacy``, ``autolog``, ``off``."""


class InvalidAutologOption(LegacyTrackingError, ValueError):
    """An ``autolog_options`` key that ``mlflow.pyspark.ml.autolog()`` does not accept, or a
    value of a type it does not take."""


class InvalidOption(LegacyTrackingError, ValueError):
    """A ``configure()`` option (other than ``autolog_options``) with a value it cannot take."""


class NotATuningEstimator(LegacyTrackingError, TypeError):
    """An object passed where a ``CrossValidator`` or ``TrainValidationSplit`` is expected."""


class NotASparkSession(LegacyTrackingError, TypeError):
    """An object passed to ``configure()`` where a SparkSession (or ``None``) is expected."""


class NotebookReadError(LegacyTrackingError, ValueError):
    """A notebook file that cannot be read (a bad zip, broken JSON, bytes that do not decode).

    ``str()`` is one line naming the file and the reason. ``scan`` reports it as the file's
    error entry and goes on with the other files.
    """


class RewriteError(LegacyTrackingError, ValueError):
    """A notebook that ``migrate`` cannot rewrite as asked; ``str()`` is one line naming why.

    The file is left as it was.
    """


class RunNotFound(LegacyTrackingError, LookupError):
    """A run id that the tracking store does not know."""


class UnsupportedVersion(LegacyTrackingError, ImportError):
    """An installed pyspark or mlflow older than this library supports (pyspark 3.4, mlflow 2.9).

    Raised by ``configure()`` before it changes anything; ``name`` is the package.
    """


class TrackingWarning(UserWarning):
    """Tracking could not log something; the fit itself went on and returned its model."""


class TrackingNotice(UserWarning):
    """Something is left out of tracking by design, said once at ``configure()``.

    Not a failure: e.g. a Spark Connect client without a JVM logs no models
    (``mlflow.spark.log_model`` needs one), or a model allowlist file that cannot be read is
    replaced by mlflow's packaged list. Filtering it leaves :class:`TrackingWarning` alone.
    """


class RoutingAdvice(UserWarning):
    """What ``configure()`` found in the routing inputs and what to change to route otherwise.

    E.g. both Spark conf flags true: AUTOLOG wins and the legacy flag is ignored.
    """


class LegacyTrackingDeprecationWarning(RoutingAdvice, FutureWarning):
    """Legacy MLlib tracking is retired on Databricks; this library provides its layout."""


class RuntimeVersionWarning(RoutingAdvice):
    """A runtime version read from the environment or Spark conf could not be parsed."""
