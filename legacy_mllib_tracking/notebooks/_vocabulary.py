"""What the finder knows by name: the tuners, the routing flags, legacy metric names, the text
patterns for flags, legacy names and magics, and the hint words that decide how much of a cell
is walked.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable

from legacy_mllib_tracking.keys import CONF_AUTOLOG, CONF_TRACK

__all__ = ["LEGACY_METRIC_NAMES", "TUNERS"]

#: The pyspark tuning estimators whose fits the retired tracker logged.
TUNERS = ("CrossValidator", "TrainValidationSplit")
_FLAGS = (CONF_TRACK, CONF_AUTOLOG)
#: Evaluator metric names a legacy child run could carry (``avg_`` / ``std_`` prefixed for CV).
LEGACY_METRIC_NAMES = frozenset(
    {
        "areaUnderROC",
        "areaUnderPR",
        "f1",
        "accuracy",
        "weightedPrecision",
        "weightedRecall",
        "weightedTruePositiveRate",
        "weightedFalsePositiveRate",
        "weightedFMeasure",
        "logLoss",
        "hammingLoss",
        "rmse",
        "mse",
        "r2",
        "mae",
        "var",
        "silhouette",
    }
)
#: The default ``metricName`` of each pyspark evaluator.
_EVALUATOR_DEFAULTS = {
    "BinaryClassificationEvaluator": "areaUnderROC",
    "MulticlassClassificationEvaluator": "f1",
    "RegressionEvaluator": "rmse",
    "ClusteringEvaluator": "silhouette",
    "MultilabelClassificationEvaluator": "f1Measure",
    "RankingEvaluator": "meanAveragePrecision",
}
# "params.maxDepth", not "sklearn.metrics.f1", "client-params.s3" or a call "params.get(".
_LEGACY_REF = re.compile(r"(?<![\w.\-/])(params|metrics)\.(\w+)\b(?!\s*\()")
# Cells whose comments may hold something we report; only their lines are scanned for comments.
_COMMENT_HINT = re.compile(r"#.*(?:trackMLlib|autologging\.enabled|autolog|params\.|metrics\.)")
_LINE_MAGIC = re.compile(r"^[ \t]*[%!]", re.M)
_PIP_LINE = re.compile(r"^\s*(%pip|%conda|!\s*pip3?|%sh\s+pip3?)\b")
_FLAG_TEXT = re.compile(
    r"(?P<key>spark\.databricks\.mlflow\.(?:trackMLlib|autologging)\.enabled)"
    r"""(?:["']?\s*(?:,|=|->|\s)\s*["']?(?P<value>true|false)\b)?""",
    re.I,
)
#: This library's package: ``<package>.configure(...)`` is a ``library_configure`` finding.
_PACKAGE = "legacy_mllib_tracking"
#: The autolog calls that log pyspark.ml tuning fits (mlflow.autolog turns on every flavor).
_AUTOLOG_APIS = frozenset({"mlflow.autolog", "mlflow.pyspark.ml.autolog"})
# Functions that take a tuner without fitting it.
_BUILTINS = frozenset(dir(builtins)) | {"display", "displayHTML"}
# An expression without one of these words (or a name bound to a tuner) holds no call we report.
# Plain substring tests: several times faster than one regex alternation on long cells.
_CALL_WORDS = (
    ".fit",
    "autolog",
    "start_run",
    "end_run",
    "log_model",
    ".set",
    ".config",
    ".get",
    ".contains",
    ".append",
    "dbutils",
    ".sql",
    "configure",
)
# A cell without one of these (or a name the finder follows) gets the light pass only: imports,
# definitions and top-level assignments (estimators whose class a grid may name), no calls.
# The order is any-order, but the test stops at the first word found: the tuner classes (in a
# tuning notebook's imports and constructions, often long cells) and ``.fit`` come first.
_CELL_WORDS = (
    ".fit",
    *TUNERS,
    *(word for word in _CALL_WORDS if word != ".fit"),
    "Pipeline(",
    "ParamGrid",
    "addGrid",
    "Evaluator",
    "stages",
)


def _has_any(text: str, words: Iterable[str]) -> bool:
    # A plain loop: any() over a generator costs a frame per word, this is the hot path.
    for word in words:  # noqa: SIM110
        if word in text:
            return True
    return False


_SCALA_TUNER = re.compile(r"\bnew\s+(CrossValidator|TrainValidationSplit)\b")
