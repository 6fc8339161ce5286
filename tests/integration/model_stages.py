"""A pyspark.ml stage defined outside pyspark, for the model tests (ISSUE 12).

mlflow's pip-requirement inference imports this module in its capture process to load a model
that contains :class:`CopyColumn`. There, and only there, creating the stage sleeps
``LMT_TEST_STAGE_LOAD_DELAY`` seconds: inference made slow for real.
"""

from __future__ import annotations

import os
import time
from typing import Any

from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable

#: Seconds CopyColumn's constructor sleeps inside mlflow's capture process.
ENV_LOAD_DELAY = "LMT_TEST_STAGE_LOAD_DELAY"
#: Set by mlflow (2.x, 3.x) in the environment of its module-capture process.
ENV_IN_CAPTURE = "MLFLOW_IN_CAPTURE_MODULE_PROCESS"


class CopyColumn(
    Transformer, HasInputCol, HasOutputCol, DefaultParamsReadable, DefaultParamsWritable
):
    """Copies ``inputCol`` to ``outputCol``; slow to create in mlflow's capture process."""

    @keyword_only
    def __init__(self, *, inputCol: str | None = None, outputCol: str | None = None) -> None:
        super().__init__()
        self._set(**self._input_kwargs)
        if os.environ.get(ENV_IN_CAPTURE, "").lower() == "true":
            time.sleep(float(os.environ.get(ENV_LOAD_DELAY, "0")))

    def _transform(self, dataset: Any) -> Any:
        return dataset.withColumn(self.getOutputCol(), dataset[self.getInputCol()])
