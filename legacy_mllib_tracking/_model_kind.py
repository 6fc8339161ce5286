"""What kind of model a saved Spark model is, as far as pip-requirement inference can tell.

The modules mlflow captures while loading a saved model (:mod:`legacy_mllib_tracking._requirements`)
depend only on the stage classes named in its Spark ML metadata, the model directory's entries,
the interpreter and ``sys.path``: a :class:`ModelKind` holds exactly those.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from legacy_mllib_tracking.keys import MLFLOW_SPARK_FLAVOR, MLMODEL_FILE

__all__ = ["ModelKind", "local_dir", "model_kind"]

_logger = logging.getLogger(__name__)

#: Spark ML writes each stage's metadata as one JSON line in ``<stage>/metadata/part-*``
#: (``part-00000`` in Spark 3.5, ``part-00000-<uuid>-c000.txt`` in Spark 4).
_METADATA_DIR = "metadata"
_PART_PREFIX = "part-"
#: A model directory with bundled code (``code_paths``) puts it on the capture's ``sys.path``:
#: its content is not part of the key, so such models are always inferred.
_CODE_DIR = "code"


@dataclass(frozen=True)
class ModelKind:
    """What the modules captured while loading a saved model depend on."""

    flavor: str
    #: The classes of the model and of every stage, estimator and evaluator saved with it, as
    #: Spark ML's metadata names them (``org.apache.spark.ml.classification.LogisticRegression``,
    #: ``my_package.MyTransformer``): loading resolves each to a Python class and imports it.
    stage_classes: frozenset[str]
    #: The model directory's top-level entries (an ``input_example.json`` makes the capture run
    #: ``predict`` too).
    entries: frozenset[str]
    #: The interpreter and ``sys.path`` the capture process is started with.
    python: tuple[str, tuple[str, ...]]
    #: mlflow's other arguments of the capture (``record_full_module``, ``extra_env_vars``).
    options: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        """The stage classes, shortened to their Python names, for messages."""
        return ", ".join(sorted({c.rsplit(".", 1)[-1] for c in self.stage_classes}))


def local_dir(model_uri: Any) -> str | None:
    """The local directory ``model_uri`` names (a path or ``file:`` URI), or ``None``."""
    text = os.fspath(model_uri) if isinstance(model_uri, (str, os.PathLike)) else None
    if not isinstance(text, str):
        return None
    parsed = urlparse(text)
    if parsed.scheme == "file":
        text = unquote(parsed.path)
    elif parsed.scheme and len(parsed.scheme) > 1:  # dbfs:/, s3://...; "C:" is a drive
        return None
    return text if os.path.isdir(text) else None


def _stage_classes(root: str) -> frozenset[str]:
    classes: set[str] = set()
    for folder, _dirs, files in os.walk(root):
        if os.path.basename(folder) != _METADATA_DIR:
            continue
        for name in files:
            if not name.startswith(_PART_PREFIX):
                continue
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                line = handle.readline()
            if line.strip():
                classes.add(str(json.loads(line)["class"]))
    return frozenset(classes)


def model_kind(
    model_uri: Any,
    flavor: str,
    record_full_module: bool = False,
    extra_env_vars: Mapping[str, str] | None = None,
) -> ModelKind | None:
    """Return the kind of the saved model at ``model_uri``, or ``None`` when it cannot be cached.

    ``None`` for another flavor than Spark's, a URI that is not a local directory (a Databricks
    ``dbfs:/`` upload), a model with bundled code, or one whose Spark ML metadata cannot be read.
    """
    if flavor != MLFLOW_SPARK_FLAVOR:
        return None
    path = local_dir(model_uri)
    if path is None:
        return None
    try:
        entries = frozenset(os.listdir(path))
        if MLMODEL_FILE not in entries or _CODE_DIR in entries:
            return None
        classes = _stage_classes(path)
    except (OSError, ValueError, KeyError, TypeError) as error:
        _logger.debug("cannot read the stage classes of %s: %s", path, error)
        return None
    if not classes:
        return None
    options = [("record_full_module", str(bool(record_full_module)))]
    options += sorted((f"env:{k}", str(v)) for k, v in (extra_env_vars or {}).items())
    return ModelKind(
        flavor=flavor,
        stage_classes=classes,
        entries=entries,
        python=(sys.executable, tuple(sys.path)),
        options=tuple(options),
    )
