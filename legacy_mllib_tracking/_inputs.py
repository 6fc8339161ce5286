"""The router's inputs, read from an argument, the environment and the Spark conf, and
:func:`route`: the one way from those inputs to a :class:`~legacy_mllib_tracking.routing.Decision`.

``configure()``, ``legacy-mllib-tracking explain`` and the tests all route through :func:`route`,
so they read the same inputs, decide the same way and word the same warnings. Imports neither
pyspark nor mlflow.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from legacy_mllib_tracking.errors import InvalidRuntimeVersion, RuntimeVersionWarning
from legacy_mllib_tracking.keys import (
    CONF_AUTOLOG,
    CONF_SPARK_VERSION,
    CONF_TRACK,
    ENV_ML_PYTHONPATH,
    ENV_RUNTIME_VERSION,
)
from legacy_mllib_tracking.routing import Decision, Mode, decide
from legacy_mllib_tracking.runtime import ACCEPTED_SHAPES, RuntimeVersion, parse_runtime_version

__all__ = ["ARGUMENT", "RuntimeInputs", "read_inputs", "route"]

_logger = logging.getLogger("legacy_mllib_tracking")

#: How ``configure(runtime_version=...)`` is named in messages and in ``Decision.runtime_source``.
ARGUMENT = "argument runtime_version"


@dataclass(frozen=True)
class RuntimeInputs:
    """The router's inputs as read from the argument, the environment and the Spark conf.

    Attributes:
        runtime: the parsed runtime, or ``None`` (not Databricks, or unreadable).
        runtime_source: where the runtime was read (``"env DATABRICKS_RUNTIME_VERSION"``...).
        databricks: whether a Databricks runtime was found (readable or not).
        ml: ``True`` ML, ``False`` standard, ``None`` unknown.
        track, autolog: the two flags' raw Spark conf strings, ``None`` when unset.
        unreadable: the runtime string read from ``runtime_source`` that could not be parsed.
    """

    runtime: RuntimeVersion | None
    runtime_source: str | None
    databricks: bool
    ml: bool | None
    track: str | None
    autolog: str | None
    unreadable: str | None = None


def _conf(spark: Any, key: str) -> str | None:
    """Read a Spark conf key; a key the session refuses (Spark Connect) counts as unset."""
    if spark is None:
        return None
    try:
        value = spark.conf.get(key, None)
    except Exception as error:
        _logger.debug("Spark conf %r could not be read, counted as unset: %s", key, error)
        return None
    return None if value is None else str(value)


def read_inputs(
    spark: Any,
    *,
    runtime_version: str | None = None,
    environ: Mapping[str, str] | None = None,
    argument: str = ARGUMENT,
) -> RuntimeInputs:
    """Read SPEC 2's inputs: runtime version, ML or standard, and the two flags.

    Args:
        spark: a SparkSession (classic or Connect), or ``None`` to read no conf.
        runtime_version: a version the user passed; it wins over every other source.
        environ: the environment (default ``os.environ``).
        argument: how ``runtime_version`` is named in an error and as the runtime's source
            (the command line: ``"--runtime"``).

    Raises:
        InvalidRuntimeVersion: ``runtime_version`` cannot be parsed.
    """
    env = os.environ if environ is None else environ
    spark_version = _conf(spark, CONF_SPARK_VERSION)
    runtime: RuntimeVersion | None = None
    source: str | None = None
    unreadable: str | None = None
    databricks = False

    if runtime_version is not None:
        source = argument
        runtime = parse_runtime_version(runtime_version, source=source)
        databricks = True
    else:
        for text, where in (
            (env.get(ENV_RUNTIME_VERSION), f"env {ENV_RUNTIME_VERSION}"),
            (spark_version, f"Spark conf {CONF_SPARK_VERSION}"),
        ):
            if text is None or not text.strip():
                continue
            databricks = True
            source = where
            try:
                runtime = parse_runtime_version(text, source=where)
            except InvalidRuntimeVersion:
                unreadable = text
            break

    ml: bool | None = None
    if runtime is not None and runtime_version is not None and runtime.ml is not None:
        ml = runtime.ml
    else:
        signals: list[bool | None] = []
        if env.get(ENV_ML_PYTHONPATH):
            signals.append(True)
        if runtime is not None and runtime.ml is not None:
            signals.append(runtime.ml)
        if spark_version:
            # A readable sparkVersion says ML or standard; an unreadable one only counts when it
            # says "-ml-", so that ML and the routing of an unknown runtime agree (counts as ML).
            try:
                signals.append(parse_runtime_version(spark_version).ml)
            except InvalidRuntimeVersion:
                if "-ml-" in spark_version.lower():
                    signals.append(True)
        if True in signals:
            ml = True
        elif False in signals:
            ml = False
    return RuntimeInputs(
        runtime=runtime,
        runtime_source=source,
        databricks=databricks,
        ml=ml,
        track=_conf(spark, CONF_TRACK),
        autolog=_conf(spark, CONF_AUTOLOG),
        unreadable=unreadable,
    )


def _unreadable_message(text: str, source: str, *, ml: bool | None) -> str:
    """The one wording of the warning about a runtime version that could not be read."""
    kind = "standard" if ml is False else "ML"
    return (
        f"legacy-mllib-tracking cannot read the Databricks runtime version {text!r} from "
        f"{source} (accepted shapes: {ACCEPTED_SHAPES}), so it routes this runtime like the "
        f"newest Databricks {kind} runtime."
    )


def route(
    spark: Any,
    *,
    runtime_version: str | None = None,
    mode: Mode | str | None = None,
    environ: Mapping[str, str] | None = None,
    argument: str = ARGUMENT,
) -> Decision:
    """Read the router's inputs (:func:`read_inputs`) and decide the mode (``decide()``).

    Args:
        spark, runtime_version, environ, argument: as for :func:`read_inputs`.
        mode: force a mode instead of routing.

    Returns:
        The :class:`Decision`; its ``warnings`` hold every warning routing found, a runtime
        version from the environment or Spark conf that could not be read first
        (:class:`~legacy_mllib_tracking.errors.RuntimeVersionWarning`).

    Raises:
        InvalidRuntimeVersion: ``runtime_version`` cannot be parsed.
        InvalidFlagValue: a flag in the Spark conf is not ``true``/``false``.
        InvalidModeError: ``mode`` names no mode.
    """
    inputs = read_inputs(spark, runtime_version=runtime_version, environ=environ, argument=argument)
    decision = decide(
        inputs.runtime,
        databricks=inputs.databricks,
        ml=inputs.ml,
        track=inputs.track,
        autolog=inputs.autolog,
        mode=mode,
        runtime_source=inputs.runtime_source,
    )
    if inputs.unreadable is None or inputs.runtime_source is None:
        return decision
    message = _unreadable_message(inputs.unreadable, inputs.runtime_source, ml=inputs.ml)
    return replace(decision, warnings=((RuntimeVersionWarning, message), *decision.warnings))
