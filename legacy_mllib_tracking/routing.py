"""The routing table of SPEC 3 as one pure function, :func:`decide`.

No pyspark, no mlflow, no environment: :func:`decide` turns already-read inputs into a
:class:`Decision`. Reading the inputs from a SparkSession and the environment, then deciding, is
:func:`legacy_mllib_tracking._inputs.route`, which ``configure()`` and ``explain`` share.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from legacy_mllib_tracking.errors import (
    InvalidFlagValue,
    InvalidModeError,
    LegacyTrackingDeprecationWarning,
    RoutingAdvice,
)
from legacy_mllib_tracking.keys import CONF_AUTOLOG, CONF_TRACK
from legacy_mllib_tracking.runtime import RuntimeVersion, parse_runtime_version

__all__ = ["Decision", "Flag", "FlagSource", "Mode", "decide", "parse_flag", "parse_mode"]


class Mode(str, enum.Enum):
    """What ``configure()`` turns on; exactly one mode is live in a process."""

    #: Legacy nested tracking: this library logs one parent and one child per param map.
    LEGACY = "legacy"
    #: ``mlflow.pyspark.ml.autolog()`` with this library's layout fixes on top.
    AUTOLOG = "autolog"
    #: Nothing installed by this library; a user's own autolog call is left alone.
    OFF = "off"

    def __str__(self) -> str:
        return self.value


class FlagSource(str, enum.Enum):
    """Where a flag's effective value came from."""

    #: Set in the Spark conf.
    CONF = "conf"
    #: Unset: the runtime band's default (SPEC 3).
    DEFAULT = "default"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Flag:
    """One routing flag: its conf key, effective value and where the value came from."""

    key: str
    value: bool
    source: FlagSource

    def __str__(self) -> str:
        return f"{self.key}={str(self.value).lower()} ({self.source})"


@dataclass(frozen=True)
class Decision:
    """What the router decided and why; ``str()`` reads as one sentence.

    Attributes:
        mode: the :class:`Mode` to apply.
        runtime: the parsed runtime, or ``None`` (not Databricks, or an unreadable version).
        runtime_source: where the runtime was read ("argument runtime_version", "env ...",
            "Spark conf ..."), or ``None``.
        databricks: whether the process counts as a Databricks runtime.
        ml: ``True`` ML runtime, ``False`` standard, ``None`` unknown (routed as ML).
        track: the effective ``spark.databricks.mlflow.trackMLlib.enabled`` flag.
        autolog: the effective ``spark.databricks.mlflow.autologging.enabled`` flag.
        forced: whether ``mode`` was forced by the caller rather than routed.
        reason: one sentence saying why this mode.
        warnings: ``(category, message)`` pairs that ``configure()`` emits with ``warnings.warn``.
    """

    mode: Mode
    runtime: RuntimeVersion | None
    runtime_source: str | None
    databricks: bool
    ml: bool | None
    track: Flag
    autolog: Flag
    forced: bool
    reason: str
    warnings: tuple[tuple[type[Warning], str], ...] = ()

    def __str__(self) -> str:
        return f"{self.mode.value.upper()}: {self.reason}"

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict (what ``explain --json`` prints)."""
        return {
            "mode": self.mode.value,
            "reason": self.reason,
            "runtime": None if self.runtime is None else str(self.runtime),
            "runtime_raw": None if self.runtime is None else self.runtime.raw,
            "runtime_source": self.runtime_source,
            "databricks": self.databricks,
            "ml": self.ml,
            "forced": self.forced,
            "flags": {
                flag.key: {"value": flag.value, "source": flag.source.value}
                for flag in (self.track, self.autolog)
            },
            "warnings": [message for _, message in self.warnings],
        }


def parse_flag(key: str, value: object, *, source: str = "Spark conf") -> bool | None:
    """Read a Spark boolean flag the way Spark does: trimmed, case-insensitive true/false.

    Args:
        key: the conf key, quoted in the error.
        value: the raw value; ``None`` means unset; a ``bool`` is taken as is.
        source: where the value came from, quoted in the error.

    Returns:
        ``True``, ``False``, or ``None`` when unset.

    Raises:
        InvalidFlagValue: any other value; the message names the key, the value and what is
            accepted.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "true":
            return True
        if text == "false":
            return False
    raise InvalidFlagValue(
        f"{source} {key!r} must be 'true' or 'false' (case-insensitive, surrounding spaces "
        f"ignored), got {value!r}"
    )


def parse_mode(value: Mode | str) -> Mode:
    """Return the :class:`Mode` named by ``value`` (a ``Mode`` or its string value).

    Raises:
        InvalidModeError: ``value`` names no mode.
    """
    if isinstance(value, Mode):
        return value
    if isinstance(value, str):
        try:
            return Mode(value.strip().lower())
        except ValueError:
            pass
    accepted = ", ".join(repr(m.value) for m in Mode)
    raise InvalidModeError(f"configure(mode=...) must be one of {accepted}, got {value!r}")


def _defaults(
    runtime: RuntimeVersion | None, databricks: bool, ml: bool | None
) -> tuple[bool, bool, str]:
    """Return (track default, autolog default, band description) for SPEC 3's table."""
    if not databricks:
        return False, True, "not Databricks: behaves like the newest ML runtime"
    if runtime is None:
        if ml is False:
            return (
                False,
                False,
                (
                    "unknown Databricks standard runtime: routed like the newest standard runtime, "
                    "which has no autologging"
                ),
            )
        return False, True, "unknown Databricks runtime: routed like the newest ML runtime"
    if runtime.serverless:
        return False, False, "serverless does not start autologging automatically"
    if not runtime.at_least(5, 4):
        return False, False, "before DBR 5.4 legacy tracking was opt-in"
    if not runtime.at_least(10, 1):
        return True, False, "DBR 5.4 to 10.0 turned legacy tracking on by default"
    if not runtime.at_least(10, 2):
        return True, False, "DBR 10.1 kept legacy tracking on by default but deprecated it"
    if ml is False:
        return False, False, "DBR 10.2+ standard runtimes have no autologging"
    return False, True, "DBR 10.2+ ML runtimes turn Databricks Autologging on by default"


def decide(
    runtime: RuntimeVersion | str | None = None,
    *,
    databricks: bool | None = None,
    ml: bool | None = None,
    track: str | bool | None = None,
    autolog: str | bool | None = None,
    mode: Mode | str | None = None,
    runtime_source: str | None = None,
) -> Decision:
    """Decide the mode from already-read inputs (SPEC 3); pure, no Spark, no MLflow.

    Args:
        runtime: the runtime version (parsed, or a string parsed here), ``None`` when not on
            Databricks or when the version could not be read.
        databricks: whether this is a Databricks runtime; defaults to ``runtime is not None``.
            ``databricks=True`` with ``runtime=None`` is an unknown Databricks runtime, routed like
            the newest one.
        ml: ML runtime (``True``), standard (``False``) or unknown (``None``, counts as ML);
            defaults to what ``runtime`` says.
        track: the raw ``spark.databricks.mlflow.trackMLlib.enabled`` conf value, ``None`` if unset.
        autolog: the raw ``spark.databricks.mlflow.autologging.enabled`` conf value, ``None`` if
            unset.
        mode: force a mode ("legacy", "autolog", "off" or a :class:`Mode`).
        runtime_source: where ``runtime`` was read, recorded in the decision.

    Returns:
        The :class:`Decision`.

    Raises:
        InvalidRuntimeVersion: ``runtime`` is a string that cannot be parsed.
        InvalidFlagValue: a flag is not a Spark boolean.
        InvalidModeError: ``mode`` names no mode.
    """
    if isinstance(runtime, str):
        source = runtime_source or "argument runtime_version"
        runtime = parse_runtime_version(runtime, source=source)
        runtime_source = source
    if databricks is None:
        databricks = runtime is not None
    if ml is None and runtime is not None:
        ml = runtime.ml
    forced = None if mode is None else parse_mode(mode)

    track_raw = parse_flag(CONF_TRACK, track)
    autolog_raw = parse_flag(CONF_AUTOLOG, autolog)
    track_default, autolog_default, band = _defaults(runtime, databricks, ml)
    track_flag = (
        Flag(CONF_TRACK, track_default, FlagSource.DEFAULT)
        if track_raw is None
        else Flag(CONF_TRACK, track_raw, FlagSource.CONF)
    )
    autolog_flag = (
        Flag(CONF_AUTOLOG, autolog_default, FlagSource.DEFAULT)
        if autolog_raw is None
        else Flag(CONF_AUTOLOG, autolog_raw, FlagSource.CONF)
    )

    if runtime is not None:
        where = str(runtime) if ml is None or runtime.ml == ml else _with_ml(runtime, ml)
    elif databricks:
        where = "an unknown Databricks runtime"
    else:
        where = "open-source Spark (not Databricks)"

    found: list[tuple[type[Warning], str]] = []
    if forced is not None:
        chosen = forced
        reason = (
            f"forced by configure(mode={forced.value!r}) on {where} "
            f"(routing would have used {track_flag} and {autolog_flag})"
        )
        return Decision(
            chosen, runtime, runtime_source, databricks, ml, track_flag, autolog_flag, True, reason
        )

    flags = f"{track_flag}, {autolog_flag}"
    # A flag set in the Spark conf to something other than the runtime's default decided.
    overrides = [
        f"{flag.key}={str(flag.value).lower()}"
        for flag, default in ((autolog_flag, autolog_default), (track_flag, track_default))
        if flag.source is FlagSource.CONF and flag.value != default
    ]
    if overrides:
        band = (
            f"decided by the Spark conf setting {' and '.join(overrides)}, not by the "
            f"runtime's default ({band})"
        )
    if autolog_flag.value:
        chosen = Mode.AUTOLOG
        reason = f"on {where}, {flags}; {band}"
        if track_flag.value:
            found.append(
                (
                    RoutingAdvice,
                    f"{CONF_TRACK}=true is ignored because {CONF_AUTOLOG} is true; legacy MLlib "
                    f"tracking needs {CONF_AUTOLOG}=false (as the Databricks docs require)",
                )
            )
    elif track_flag.value:
        chosen = Mode.LEGACY
        reason = f"on {where}, {flags}; {band}"
        newer = not databricks or runtime is None or runtime.serverless or runtime.at_least(10, 1)
        if newer:
            found.append(
                (
                    LegacyTrackingDeprecationWarning,
                    f"Databricks deprecated automated MLflow tracking for MLlib in DBR 10.1 ML and "
                    f"retired it; on {where} the legacy run layout is provided by "
                    f"legacy-mllib-tracking; mlflow.pyspark.ml.autolog() is the supported path",
                )
            )
    else:
        chosen = Mode.OFF
        reason = f"on {where}, {flags}; {band}"
    return Decision(
        chosen,
        runtime,
        runtime_source,
        databricks,
        ml,
        track_flag,
        autolog_flag,
        False,
        reason,
        tuple(found),
    )


def _with_ml(runtime: RuntimeVersion, ml: bool) -> str:
    # Describe the runtime as routed: an explicit ml= wins over what the version string said.
    suffix = " ML" if ml else " standard"
    return str(replace(runtime, ml=None)) + suffix
