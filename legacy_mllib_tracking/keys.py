"""The router's inputs and the run layout's names (tags, params, metrics), defined once.

Writers, readers and tests import these constants; nothing else spells them. Strings that one
module alone reads stay in that module: the spool folder's variable (``_spool.ENV_SPOOL_DIR``),
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
#: How many threads log a fit's child runs (1 to ``_limits.MAX_CHILD_THREADS``); unset or empty:
#: chosen from the tracking store (``_limits.child_threads``).
ENV_CHILD_THREADS = "LEGACY_MLLIB_TRACKING_CHILD_THREADS"

# --- MLflow's own tags --------------------------------------------------------------------------
TAG_PARENT_RUN_ID = "mlflow.parentRunId"
TAG_RUN_NAME = "mlflow.runName"

# --- tags this library writes -------------------------------------------------------------------
_PREFIX = "legacy_mllib_tracking."
#: On the parent: the mode that logged the tuning fit ("legacy" or "autolog").
TAG_MODE = _PREFIX + "mode"
#: On the parent: the tuning estimator's class name ("CrossValidator"); on each child: the tuned
#: estimator's ("LogisticRegression"); same key as mlflow autolog.
TAG_ESTIMATOR_NAME = "estimator_name"
#: On the parent: the tuning estimator's fully qualified class name; same key as mlflow autolog.
TAG_ESTIMATOR_CLASS = "estimator_class"
#: On the parent: "true" when the evaluator's metric is larger-is-better, else "false".
TAG_LARGER_IS_BETTER = _PREFIX + "larger_is_better"
#: On each child: ``<fit_id>:<map index>``: which ``fit()`` call logged it (a uuid4 hex, one per
#: fit, also the ``_<uuid>`` suffix of that fit's names on the parent) and the index of its param
#: map in ``getEstimatorParamMaps()``. Replay checks it before creating a child (idempotency key);
#: the layout reader groups children by fit and orders them by map with it.
TAG_CHILD_KEY = _PREFIX + "child_key"
#: On each child: the JSON list of its tuned param names, as logged (bare, or ``Stage.name``), in
#: the grid's order; the layout reader keys children on these params.
TAG_TUNED_PARAMS = _PREFIX + "tuned_params"
#: Read from runs logged by earlier versions (no longer written; ``TAG_CHILD_KEY`` holds both):
#: the child's map index and its fit's uuid.
TAG_MAP_INDEX = _PREFIX + "map_index"
TAG_FIT_ID = _PREFIX + "fit_id"
#: On the best child: "true".
TAG_BEST = _PREFIX + "best"
#: On a parent run the library (or ``replay``) creates: the fit id of the fit it is created for
#: (as in ``TAG_CHILD_KEY``), set in the create call itself. When the server made the run but its
#: answer was lost, or mlflow's retry of the create made a second one, replay finds the fit's
#: parent by it instead of creating another, and the fit and replay delete its empty copies.
TAG_CREATED_FOR = _PREFIX + "created_for"

# --- spool files --------------------------------------------------------------------------------
#: In a spool record: the status ``replay`` ends the parent run with when it is still RUNNING (the
#: fit's library-started parent whose end did not reach the store).
SPOOL_END_PARENT = "end_parent"

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
BEST_PREFIX = "best_"  # parent: metric best_<child metric key>, params best_<tuned param>

# --- mlflow's pip-requirement inference (AUTOLOG mode's logged models) ---------------------------
#: mlflow's flavor name of pyspark.ml models (``mlflow.spark.FLAVOR_NAME``).
MLFLOW_SPARK_FLAVOR = "spark"
#: mlflow's own settings of requirement inference (mlflow 2.x and 3.x); a user who sets either one
#: gets inference exactly as mlflow does it, without this library's time limit.
ENV_MLFLOW_INFERENCE_TIMEOUT = "MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT"
ENV_MLFLOW_INFERENCE_RAISE_ERRORS = "MLFLOW_REQUIREMENTS_INFERENCE_RAISE_ERRORS"
#: The file an MLflow model directory is recognised by.
MLMODEL_FILE = "MLmodel"
