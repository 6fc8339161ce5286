"""Run by ``test_faults.test_ctrl_c_in_a_fresh_process``: one tuning fit in a fresh process
(its own local Spark and sqlite store) that this process interrupts with a real SIGINT.

Usage: python -m tests.integration.ctrl_c_child MODE TRACKING_URI
Prints one JSON line: the exception the fit raised, the status of every run, and whether a run
is still active.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading


def main(mode: str, uri: str) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient
    from pyspark.sql import SparkSession

    from legacy_mllib_tracking import configure
    from legacy_mllib_tracking.demo import make_data

    from .builders import tuner

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("ctrl-c")
    mlflow.set_experiment(experiment_id=experiment)
    lean = {"log_models": False, "log_datasets": False}
    configure(spark, mode=mode, autolog_options=lean if mode == "autolog" else None)
    data = make_data(spark, rows=240, seed=3)
    big = tuner("cv")
    big.setNumFolds(5)
    timer = threading.Timer(1.0, os.kill, args=(os.getpid(), signal.SIGINT))
    timer.start()
    raised = None
    try:
        big.fit(data)
    except BaseException as error:  # what the fit raised is the result
        raised = type(error).__name__
    timer.cancel()
    statuses = [r.info.status for r in MlflowClient().search_runs([experiment])]
    print(
        json.dumps(
            {"raised": raised, "statuses": statuses, "active": mlflow.active_run() is not None}
        ),
        flush=True,
    )
    os._exit(0)  # the interrupted Spark jobs' threads must not hold the process open


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
