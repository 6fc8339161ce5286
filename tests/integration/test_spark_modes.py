"""What each Spark mode (env LMT_SPARK_MODE) must really be, and what differs on Spark Connect.

The layout contract itself is tests/integration/test_contract.py, run unchanged in every mode.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from legacy_mllib_tracking import Mode, configure, inspect_run_layout
from legacy_mllib_tracking._connect import client_has_jvm, is_connect_session
from legacy_mllib_tracking.errors import (
    LegacyTrackingDeprecationWarning,
    TrackingNotice,
    TrackingWarning,
)
from legacy_mllib_tracking.keys import CONF_AUTOLOG, CONF_TRACK

from .builders import tuner
from .sparkmodes import CLUSTER_EXECUTORS, executor_ids


@pytest.mark.spark_mode("cluster")
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux only)")
def test_cluster_runs_tasks_in_executor_jvms_of_their_own(spark: Any) -> None:
    """The cluster's tasks run in two executor JVMs, neither of them the driver's."""

    def task_jvm(_: Any) -> Any:
        """In a Python worker: yield the pid and command line of the JVM that started it.

        Defined here so that cloudpickle ships it by value: executors cannot import tests/.
        """
        import os as worker_os
        import time

        time.sleep(0.5)  # hold the task so that both executors get some
        pid = worker_os.getpid()
        while pid > 1:
            with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{parent}/cmdline", "rb") as cmdline:
                argv = cmdline.read().split(b"\0")
            if argv and argv[0].endswith(b"java"):
                yield parent, b" ".join(argv).decode(errors="replace")
                return
            pid = parent
        yield None, ""

    sc = spark.sparkContext
    assert sc.master.startswith("spark://127.0.0.1:")
    assert len(executor_ids(spark)) == CLUSTER_EXECUTORS
    jvms = dict(sc.parallelize(range(8), 8).mapPartitions(task_jvm).collect())
    assert None not in jvms, jvms
    assert sc._gateway.proc.pid not in jvms  # the driver's JVM, started by this process
    assert all("CoarseGrainedExecutorBackend" in cmd for cmd in jvms.values()), jvms
    assert len(jvms) == CLUSTER_EXECUTORS, jvms
    assert os.getpid() not in jvms


@pytest.mark.spark_mode("connect")
def test_connect_client_has_no_jvm_and_configure_reads_flags_through_spark_conf(
    spark: Any,
) -> None:
    """On a Connect client (no JVM here), configure() reads the flags through spark.conf."""
    assert is_connect_session(spark)
    assert not client_has_jvm()
    with pytest.raises(Exception, match="JVM_ATTRIBUTE_NOT_SUPPORTED"):
        spark.sparkContext  # noqa: B018 - the attribute access is what raises
    spark.conf.set(CONF_TRACK, "true")
    spark.conf.set(CONF_AUTOLOG, "false")
    try:
        with pytest.warns(LegacyTrackingDeprecationWarning):
            decision = configure(spark)
    finally:
        spark.conf.unset(CONF_TRACK)
        spark.conf.unset(CONF_AUTOLOG)
    assert decision.mode is Mode.LEGACY
    assert f"{CONF_TRACK}=true (conf)" in decision.reason


@pytest.mark.spark_mode("connect")
def test_autolog_on_connect_says_once_that_models_are_not_logged_and_logs_the_rest(
    spark: Any, experiment: str, data: Any
) -> None:
    """AUTOLOG on a Connect client, models not turned off: one notice, then the usual tree."""
    with pytest.warns(TrackingNotice, match="models are not logged") as caught:
        configure(spark, mode="autolog", autolog_options={"log_datasets": False})
    assert len([w for w in caught if issubclass(w.category, TrackingNotice)]) == 1
    assert not [w for w in caught if issubclass(w.category, TrackingWarning)]
    with mlflow.start_run() as run:
        tuner("cv").fit(data)
    layout = inspect_run_layout(run.info.run_id)
    assert len(layout.children) == 4
    assert layout.parent.params["metricName"] == "areaUnderROC"
    artifacts = {a.path for a in MlflowClient().list_artifacts(run.info.run_id)}
    assert {"estimator_info.json", "search_results.csv", "best_parameters.json"} <= artifacts
    assert not {"model", "best_model"} & artifacts
