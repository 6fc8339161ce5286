"""The exceptions and warnings of legacy-mllib-tracking.

Every error the library raises on purpose derives from :class:`LegacyTrackingError` and also from
the builtin it refines, so ``except ValueError`` keeps working for callers who do not know us::

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

    TrackingWarning (UserWarning)            something was not logged; training went on
    └── LegacyTrackingDeprecationWarning (FutureWarning)
                                             the legacy layout is served by this library
    RuntimeVersionWarning (TrackingWarning)  a runtime string from the environment was unreadable

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
    "RunNotFound",
    "RuntimeVersionWarning",
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


class LegacyTrackingDeprecationWarning(TrackingWarning, FutureWarning):
    """Legacy MLlib tracking is retired on Databricks; this library provides its layout."""


class RuntimeVersionWarning(TrackingWarning):
    """A runtime version read from the environment or Spark conf could not be parsed."""
