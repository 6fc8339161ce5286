"""Databricks runtime versions and the parser that reads every shape they come in.

Pure: imports neither pyspark nor mlflow. The shapes (SPEC 2)::

    "15.4", "10.4"                        env DATABRICKS_RUNTIME_VERSION, classic cluster
    "client.1.13", "client.2"             env DATABRICKS_RUNTIME_VERSION, serverless
    "10.4.x-cpu-ml-scala2.12"             Spark conf ...clusterUsageTags.sparkVersion, ML runtime
    "9.1.x-photon-scala2.12"              sparkVersion, standard runtime
    "12.2.1-scala2.12", "14.x-scala2.12"  sparkVersion with a patch level / the latest minor
    "10.4 LTS ML", "10.4 ML", "9.1"       written by a human (argument, CLI)
    "custom:13.3.x-scala2.12"             sparkVersion of a custom image: the embedded version
    "dlt:12.2-delta-pipelines-..."        sparkVersion of a Delta Live Tables pipeline: 12.2

A minor of ``x`` means "the latest minor of that major" and sorts above every numbered minor.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from legacy_mllib_tracking.errors import InvalidRuntimeVersion

__all__ = ["ACCEPTED_SHAPES", "RuntimeVersion", "parse_runtime_version"]

#: Shown in every parse error, so the user sees what would have been read.
ACCEPTED_SHAPES = (
    "'15.4', '10.4 LTS ML', '10.4 ML', '15.x', "
    "'10.4.x-cpu-ml-scala2.12', '13.3.x-scala2.12', '12.2.1-scala2.12', 'client.1.13', "
    "'custom:13.3.x-scala2.12', 'dlt:12.2-delta-pipelines-...'"
)

# "10.4", "10.x", "12.2.1", each optionally followed by LTS / ML / (GPU) / (Beta) words.
_HUMAN = re.compile(
    r"""^(?P<major>\d{1,3})\.(?P<minor>\d{1,3}|x)(?:\.(?P<patch>\d{1,3}|x))?
        (?P<words>(?:\s+(?:LTS|ML|GPU|\(GPU\)|Beta|\(Beta\)))*)$""",
    re.IGNORECASE | re.VERBOSE,
)
# sparkVersion: "<major>.<minor>[.<patch>]-<flavour>-scala<ver>", flavour may be empty.
_SPARK_VERSION = re.compile(
    r"""^(?P<major>\d{1,3})\.(?P<minor>\d{1,3}|x)(?:\.(?P<patch>\d{1,3}|x))?
        -(?P<flavour>(?:[a-z0-9]+-)*)scala\d+(?:\.\d+)*$""",
    re.IGNORECASE | re.VERBOSE,
)
# The sparkVersion of a custom image or a DLT pipeline: "custom:..." / "dlt:...".
_PREFIXED = re.compile(r"^(?:custom|dlt):(?P<rest>.+)$", re.IGNORECASE)
# The first "<major>.<minor>[.<patch>]" embedded in such a string (not scala's "2.12").
_EMBEDDED = re.compile(
    r"(?<![\d.])(?<!scala)(?P<major>\d{1,3})\.(?P<minor>\d{1,3}|x)(?:\.(?P<patch>\d{1,3}|x))?"
    r"(?![\d.]*\d)",
    re.IGNORECASE,
)
# Serverless environment versions: "client.1.13", "client.2".
_SERVERLESS = re.compile(r"^client\.(?P<major>\d{1,3})(?:\.(?P<minor>\d{1,3}))?$", re.IGNORECASE)


@dataclass(frozen=True)
class RuntimeVersion:
    """A parsed Databricks runtime version.

    Attributes:
        major: the major version (for serverless, the client environment's major).
        minor: the minor version, or ``None`` for ``x`` ("the latest minor of this major").
        patch: the patch level when the string had one, else ``None``.
        ml: ``True`` for an ML runtime, ``False`` for a standard one, ``None`` when the string does
            not say (``"15.4"``).
        serverless: ``True`` for a serverless ``client.*`` environment version.
        raw: the string as it was read (not part of equality).
    """

    major: int
    minor: int | None
    patch: int | None = None
    ml: bool | None = None
    serverless: bool = False
    raw: str = field(default="", compare=False)

    def sort_key(self) -> tuple[float, float, float]:
        """Return a key that orders versions; a minor of ``x`` sorts above every numbered minor."""
        minor = math.inf if self.minor is None else float(self.minor)
        patch = -1.0 if self.patch is None else float(self.patch)
        return (float(self.major), minor, patch)

    def at_least(self, major: int, minor: int) -> bool:
        """Return whether this classic runtime is ``major.minor`` or newer."""
        return self.sort_key()[:2] >= (float(major), float(minor))

    def __str__(self) -> str:
        if self.serverless:
            return f"serverless client.{self.major}" + (
                "" if self.minor is None else f".{self.minor}"
            )
        minor = "x" if self.minor is None else str(self.minor)
        text = f"DBR {self.major}.{minor}"
        if self.patch is not None:
            text += f".{self.patch}"
        if self.ml is True:
            text += " ML"
        elif self.ml is False:
            text += " standard"
        return text


def _number(text: str | None) -> int | None:
    if text is None or text.lower() == "x":
        return None
    return int(text)


def parse_runtime_version(text: str, *, source: str = "argument runtime_version") -> RuntimeVersion:
    """Parse a Databricks runtime version string of any shape listed in SPEC 2.

    Args:
        text: the string, e.g. ``"10.4 LTS ML"``, ``"10.4.x-cpu-ml-scala2.12"``, ``"client.2"``.
        source: where the string came from, quoted in the error message.

    Returns:
        The parsed :class:`RuntimeVersion`.

    Raises:
        InvalidRuntimeVersion: the string has none of the accepted shapes; the message names the
            string, its source and the accepted shapes.
    """
    if not isinstance(text, str):
        raise InvalidRuntimeVersion(
            f"{source}: runtime version must be a string such as {ACCEPTED_SHAPES}, "
            f"got {text!r} of type {type(text).__name__}"
        )
    stripped = text.strip()
    prefixed = _PREFIXED.match(stripped)
    if prefixed:
        return _parse_embedded(text, prefixed["rest"], source)
    match = _SERVERLESS.match(stripped)
    if match:
        return RuntimeVersion(
            major=int(match["major"]),
            minor=_number(match["minor"]),
            serverless=True,
            raw=text,
        )
    match = _SPARK_VERSION.match(stripped)
    if match:
        flavour = "-" + match["flavour"].lower()
        return RuntimeVersion(
            major=int(match["major"]),
            minor=_number(match["minor"]),
            patch=_number(match["patch"]),
            ml="-ml-" in flavour,
            raw=text,
        )
    match = _HUMAN.match(stripped)
    if match:
        words = match["words"].upper().split()
        return RuntimeVersion(
            major=int(match["major"]),
            minor=_number(match["minor"]),
            patch=_number(match["patch"]),
            ml=True if "ML" in words else None,
            raw=text,
        )
    raise InvalidRuntimeVersion(
        f"{source}: cannot read Databricks runtime version {text!r}; "
        f"accepted shapes are {ACCEPTED_SHAPES}"
    )


def _parse_embedded(text: str, rest: str, source: str) -> RuntimeVersion:
    """Read the runtime inside a ``custom:``/``dlt:`` sparkVersion: the whole rest when it is a
    sparkVersion (``custom:13.3.x-scala2.12``), else the first version in it, ML when the rest
    says ``-ml-`` (``dlt:12.2-delta-pipelines-...`` is a standard DBR 12.2)."""
    match = _SPARK_VERSION.match(rest) or _EMBEDDED.search(rest)
    if match is None:
        raise InvalidRuntimeVersion(
            f"{source}: cannot read Databricks runtime version {text!r} (no version such as "
            f"'13.3' after its prefix); accepted shapes are {ACCEPTED_SHAPES}"
        )
    return RuntimeVersion(
        major=int(match["major"]),
        minor=_number(match["minor"]),
        patch=_number(match["patch"]),
        ml="-ml-" in f"-{rest.lower()}-",
        raw=text,
    )
