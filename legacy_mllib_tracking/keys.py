"""The router's inputs and the run layout's names (tags, params, metrics), defined once.

Writers, readers and tests import these constants; nothing else spells them. Strings that one
module alone reads stay in that module: the spool folder's variable (``_safety.ENV_SPOOL_DIR``),
mlflow's model allowlist conf (``_connect.CONF_LOG_MODEL_ALLOWLIST_FILE``) and mlflow's own
internal names (``_compat``).
"""

from __future__ import annotations

# --- inputs of the router (SPEC 2) -------------------------------------------------------------
ENV_RUNTIME_VERSION = "DATABRICKS_RUNTIME_VERSION"
ENV_ML_PYTHONPATH = "MLR_PYTHONPATH"
CONF_SPARK_VERSION = "spark.databricks.clusterUsageTags.sparkVersion"
CONF_TRACK = "spark.databricks.mlflow.trackMLlib.enabled"
CONF_AUTOLOG = "spark.databricks.mlflow.autologging.enabled"

# --- tuning knobs -------------------------------------------------------------------------------
#: How many threads log a fit's child runs (1 to ``_writer.MAX_CHILD_THREADS``); unset or empty:
#: chosen from the tracking store (``_writer.child_threads``).
ENV_CHILD_THREADS = "LEGACY_MLLIB_TRACKING_CHILD_THREADS"

# --- MLflow's own tags --------------------------------------------------------------------------
TAG_PARENT_RUN_ID = "mlflow.parentRunId"
TAG_RUN_NAME = "mlflow.runName"

# --- tags this library writes -------------------------------------------------------------------
_PREFIX = "legacy_mllib_tracking."
#: On the parent: the mode that logged the tuning fit ("legacy" or "autolog").
TAG_MODE = _PREFIX + "mode"
#: On the parent: the tuning estimator's class name ("CrossValidator"); same key as mlflow autolog.
TAG_ESTIMATOR_NAME = "estimator_name"
#: On the parent: the tuning estimator's fully qualified class name; same key as mlflow autolog.
TAG_ESTIMATOR_CLASS = "estimator_class"
#: On the parent: "true" when the evaluator's metric is larger-is-better, else "false".
TAG_LARGER_IS_BETTER = _PREFIX + "larger_is_better"
#: On each child: the index of its param map in ``getEstimatorParamMaps()``.
TAG_MAP_INDEX = _PREFIX + "map_index"
#: On each child: the uuid of the ``fit()`` call that logged it (one per fit).
TAG_FIT_ID = _PREFIX + "fit_id"
#: On each child: ``<fit_id>:<map index>``, the idempotency key that replay checks before creating.
TAG_CHILD_KEY = _PREFIX + "child_key"
#: On each child: the JSON list of its tuned param names, as logged (bare, or ``Stage.name``).
TAG_TUNED_PARAMS = _PREFIX + "tuned_params"
#: On the best child: "true".
TAG_BEST = _PREFIX + "best"

# --- parent params of the run-layout contract (SPEC 5.2) -----------------------------------------
PARAM_ESTIMATOR = "estimator"  # the tuned estimator's class name
PARAM_EVALUATOR = "evaluator"  # the evaluator's class name
PARAM_METRIC_NAME = "metricName"  # the evaluator's metricName
#: The tuner's own settings logged on the parent, per tuner class name.
TUNER_SETTINGS = {
    "CrossValidator": ("numFolds", "seed", "parallelism", "collectSubModels", "foldCol"),
    "TrainValidationSplit": ("trainRatio", "seed", "parallelism", "collectSubModels"),
}

# --- metrics ------------------------------------------------------------------------------------
AVG_PREFIX = "avg_"  # CrossValidator child metric: avg_<metricName>
STD_PREFIX = "std_"  # CrossValidator child metric where pyspark has stdMetrics: std_<metricName>
BEST_PREFIX = "best_"  # parent metric: best_<child metric key>
