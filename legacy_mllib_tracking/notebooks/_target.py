"""The runtime a scan assesses notebooks for: any string ``configure()`` accepts, ``oss``, or the
newest ML runtime (the default).
"""

from __future__ import annotations

from dataclasses import dataclass

from legacy_mllib_tracking.errors import InvalidRuntimeVersion
from legacy_mllib_tracking.runtime import ACCEPTED_SHAPES, RuntimeVersion, parse_runtime_version

__all__ = ["DEFAULT_TARGET", "OSS", "Target", "parse_target"]

#: ``--target`` value for open-source Spark (not Databricks).
OSS = "oss"
#: What the default target is called in reports.
DEFAULT_TARGET = "the newest ML runtime"


@dataclass(frozen=True)
class Target:
    """A runtime notebooks will run on.

    Attributes:
        label: how reports name it (``"DBR 15.4 ML"``, ``"open-source Spark"``,
            ``"the newest ML runtime"``).
        runtime: the parsed runtime, ``None`` for open-source Spark and the default.
        databricks: ``False`` only for open-source Spark.
        ml: ``True`` ML, ``False`` standard, ``None`` unknown (counts as ML, as in routing).
    """

    label: str
    runtime: RuntimeVersion | None
    databricks: bool
    ml: bool | None

    def __str__(self) -> str:
        return self.label

    @property
    def tracker_band(self) -> bool:
        """Whether the retired tracker still exists here (a Databricks runtime before 10.2)."""
        runtime = self.runtime
        return runtime is not None and not runtime.serverless and not runtime.at_least(10, 2)


def parse_target(text: str | None = None, *, source: str = "target") -> Target:
    """Read a target runtime.

    Args:
        text: ``None`` (the newest ML runtime), ``"oss"`` (open-source Spark), or any runtime
            string ``configure()`` accepts (``"15.4 ML"``, ``"10.4.x-cpu-ml-scala2.12"``,
            ``"client.2"``, ``"9.1"``).
        source: where the text came from, quoted in the error (the CLI passes ``"--target"``).

    Returns:
        The :class:`Target`.

    Raises:
        InvalidRuntimeVersion: ``text`` is none of those; the message names it and the shapes.
    """
    if text is None:
        return Target(DEFAULT_TARGET, None, True, True)
    if isinstance(text, str) and text.strip().lower() == OSS:
        return Target("open-source Spark", None, False, None)
    try:
        runtime = parse_runtime_version(text, source=source)
    except InvalidRuntimeVersion:
        raise InvalidRuntimeVersion(
            f"{source}: cannot read target runtime {text!r}; accepted: {OSS!r} (open-source "
            f"Spark) or a Databricks runtime version such as {ACCEPTED_SHAPES}"
        ) from None
    return Target(str(runtime), runtime, True, runtime.ml)
