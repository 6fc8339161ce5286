"""The runtime version parser (SPEC 2) and the reading of the router's inputs, without Spark."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pytest

from legacy_mllib_tracking._inputs import read_inputs, route
from legacy_mllib_tracking.errors import InvalidRuntimeVersion, RuntimeVersionWarning
from legacy_mllib_tracking.keys import (
    CONF_AUTOLOG,
    CONF_SPARK_VERSION,
    CONF_TRACK,
    ENV_ML_PYTHONPATH,
    ENV_RUNTIME_VERSION,
)
from legacy_mllib_tracking.routing import Mode
from legacy_mllib_tracking.runtime import ACCEPTED_SHAPES, RuntimeVersion, parse_runtime_version

ENV_SOURCE = f"env {ENV_RUNTIME_VERSION}"
CONF_SOURCE = f"Spark conf {CONF_SPARK_VERSION}"
ARG_SOURCE = "argument runtime_version"

DLT = "dlt:12.2-delta-pipelines-dlt-release-2023.04-rc1-scala2.12"
CUSTOM = "custom:custom-local__13.x-snapshot-cpu-ml-scala2.12__unknown__head__abc1234__format-2"
CUSTOM_STANDARD = "custom:13.3.x-scala2.12"
ESR = "apache-spark-2.4.x-esr-scala2.11"


class _Conf:
    """A stand-in for ``spark.conf``: only ``get(key, default)``, optionally refusing some keys."""

    def __init__(self, values: Mapping[str, str], refused: frozenset[str] = frozenset()) -> None:
        self._values = dict(values)
        self._refused = refused

    def get(self, key: str, default: str | None = None) -> str | None:
        if key in self._refused:
            # What a Spark Connect server does for a key it will not hand out.
            raise RuntimeError(f"[CONFIG_NOT_AVAILABLE] {key}")
        return self._values.get(key, default)


class _Session:
    """An object with a ``.conf``, which is all read_inputs may touch."""

    def __init__(self, values: Mapping[str, str], refused: frozenset[str] = frozenset()) -> None:
        self.conf = _Conf(values, refused)


# --- the parser ---------------------------------------------------------------------------------

# (text, major, minor, patch, ml, serverless); minor None means "x" (the latest minor).
PARSED = [
    pytest.param("15.4", 15, 4, None, None, False, id="env-classic-15.4"),
    pytest.param("10.4", 10, 4, None, None, False, id="env-classic-10.4"),
    pytest.param("client.1.13", 1, 13, None, None, True, id="env-serverless-client.1.13"),
    pytest.param("client.2", 2, None, None, None, True, id="env-serverless-client.2"),
    pytest.param("10.4.x-cpu-ml-scala2.12", 10, 4, None, True, False, id="conf-cpu-ml"),
    pytest.param("11.3.x-gpu-ml-scala2.12", 11, 3, None, True, False, id="conf-gpu-ml"),
    pytest.param("9.1.x-photon-scala2.12", 9, 1, None, False, False, id="conf-photon-standard"),
    pytest.param("13.3.x-scala2.12", 13, 3, None, False, False, id="conf-standard"),
    pytest.param("12.2.1-scala2.12", 12, 2, 1, False, False, id="conf-patch-level"),
    pytest.param("14.x-scala2.12", 14, None, None, False, False, id="conf-latest-minor"),
    pytest.param("15.4.x-scala2.12", 15, 4, None, False, False, id="conf-15.4-standard"),
    pytest.param("15.4.x-cpu-ml-scala2.12", 15, 4, None, True, False, id="conf-15.4-ml"),
    pytest.param("10.4 LTS ML", 10, 4, None, True, False, id="human-lts-ml"),
    pytest.param("10.4 ML", 10, 4, None, True, False, id="human-ml"),
    pytest.param("15.4 ML", 15, 4, None, True, False, id="human-15.4-ml"),
    pytest.param("10.4 LTS", 10, 4, None, None, False, id="human-lts-says-nothing-of-ml"),
    pytest.param("9.1", 9, 1, None, None, False, id="human-9.1"),
    pytest.param("15.x", 15, None, None, None, False, id="human-latest-minor"),
    pytest.param("  10.4 lts ml\n", 10, 4, None, True, False, id="human-lowercase-padded"),
    pytest.param("10.4\tLTS   ML", 10, 4, None, True, False, id="human-inner-whitespace"),
    pytest.param("10.4.X-CPU-ML-SCALA2.12", 10, 4, None, True, False, id="conf-uppercase"),
    pytest.param(" 13.3.x-scala2.12 ", 13, 3, None, False, False, id="conf-padded"),
    pytest.param("CLIENT.2", 2, None, None, None, True, id="serverless-uppercase"),
    pytest.param("\tclient.1.13 ", 1, 13, None, None, True, id="serverless-padded"),
    pytest.param(CUSTOM_STANDARD, 13, 3, None, False, False, id="custom-standard-sparkversion"),
    pytest.param(
        "custom:10.4.x-cpu-ml-scala2.12", 10, 4, None, True, False, id="custom-ml-sparkversion"
    ),
    pytest.param(CUSTOM, 13, None, None, True, False, id="custom-image-embedded-ml"),
    pytest.param(DLT, 12, 2, None, False, False, id="dlt-embedded-standard"),
    pytest.param("DLT:14.1.9-delta-pipelines-x", 14, 1, 9, False, False, id="dlt-patch-uppercase"),
]


@pytest.mark.parametrize(("text", "major", "minor", "patch", "ml", "serverless"), PARSED)
def test_parse_runtime_version_reads_every_shape(
    text: str, major: int, minor: int | None, patch: int | None, ml: bool | None, serverless: bool
) -> None:
    """Each SPEC 2 shape parses to its major, minor, patch, ML flag and serverless flag."""
    version = parse_runtime_version(text)
    assert (
        version.major,
        version.minor,
        version.patch,
        version.ml,
        version.serverless,
    ) == (major, minor, patch, ml, serverless)
    assert version.raw == text


REJECTED = [
    pytest.param("dlt:delta-pipelines-scala2.12", id="dlt-without-version"),
    pytest.param("custom:abc", id="custom-without-version"),
    pytest.param("custom:", id="custom-empty"),
    pytest.param(ESR, id="apache-spark-esr"),
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
    pytest.param("10", id="major-only"),
    pytest.param("abc", id="letters"),
    pytest.param("10.4 MLX", id="unknown-word"),
    pytest.param("10.4.x-cpu-ml", id="sparkversion-without-scala"),
    pytest.param("client.", id="serverless-without-number"),
    pytest.param("10.4.1.2", id="four-numbers"),
]


@pytest.mark.parametrize("text", REJECTED)
def test_parse_runtime_version_rejects_odd_shapes_naming_input_and_source(text: str) -> None:
    """An unreadable string raises InvalidRuntimeVersion quoting its repr and its source."""
    with pytest.raises(InvalidRuntimeVersion) as info:
        parse_runtime_version(text, source="env DATABRICKS_RUNTIME_VERSION")
    message = str(info.value)
    assert repr(text) in message
    assert "env DATABRICKS_RUNTIME_VERSION" in message
    assert "accepted" in message


def test_parse_runtime_version_names_argument_as_default_source() -> None:
    """Without a source, the error says the string came from the runtime_version argument."""
    with pytest.raises(InvalidRuntimeVersion, match="argument runtime_version"):
        parse_runtime_version("abc")


@pytest.mark.parametrize("value", [pytest.param(10.4, id="float"), pytest.param(None, id="none")])
def test_parse_runtime_version_rejects_non_strings(value: object) -> None:
    """A non-string raises InvalidRuntimeVersion naming the value and its type."""
    with pytest.raises(InvalidRuntimeVersion) as info:
        parse_runtime_version(value)  # type: ignore[arg-type]
    assert repr(value) in str(info.value)
    assert type(value).__name__ in str(info.value)


def test_runtime_version_equality_ignores_raw_spelling() -> None:
    """Two spellings of the same runtime compare equal while each keeps its raw text."""
    one = parse_runtime_version("10.4 LTS ML")
    other = parse_runtime_version("  10.4 ml ")
    assert one == other
    assert (one.raw, other.raw) == ("10.4 LTS ML", "  10.4 ml ")


def test_runtime_version_ml_is_part_of_equality() -> None:
    """An ML and a standard runtime of the same number are different values."""
    assert parse_runtime_version("10.4.x-cpu-ml-scala2.12") != parse_runtime_version(
        "10.4.x-scala2.12"
    )


ORDERED = ["9.1", "9.x", "10.0", "10.1", "10.4", "10.4.1-scala2.12", "10.999", "10.x", "11.0"]


def test_sort_key_puts_latest_minor_above_every_numbered_minor_and_below_next_major() -> None:
    """Minor 'x' sorts after every numbered minor of its major and before the next major."""
    versions = [parse_runtime_version(text) for text in reversed(ORDERED)]
    assert [v.raw for v in sorted(versions, key=RuntimeVersion.sort_key)] == ORDERED


@pytest.mark.parametrize(
    ("text", "major", "minor", "expected"),
    [
        pytest.param("10.1", 10, 1, True, id="equal"),
        pytest.param("10.0", 10, 1, False, id="minor-below"),
        pytest.param("9.x", 10, 0, False, id="latest-minor-below-next-major"),
        pytest.param("10.x", 10, 999, True, id="latest-minor-above-any-minor"),
        pytest.param("11.0", 10, 2, True, id="next-major"),
        pytest.param("5.3", 5, 4, False, id="dbr-5.3-before-5.4"),
        pytest.param("12.2.1-scala2.12", 12, 2, True, id="patch-level-is-ignored"),
    ],
)
def test_at_least_compares_major_and_minor(
    text: str, major: int, minor: int, expected: bool
) -> None:
    """at_least(major, minor) is True exactly when the runtime is that version or newer."""
    assert parse_runtime_version(text).at_least(major, minor) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("10.4 LTS ML", "DBR 10.4 ML", id="ml"),
        pytest.param("13.3.x-scala2.12", "DBR 13.3 standard", id="standard"),
        pytest.param("15.4", "DBR 15.4", id="unknown"),
        pytest.param("14.x-scala2.12", "DBR 14.x standard", id="latest-minor"),
        pytest.param("12.2.1-scala2.12", "DBR 12.2.1 standard", id="patch"),
        pytest.param("client.1.13", "serverless client.1.13", id="serverless"),
    ],
)
def test_runtime_version_str_names_the_runtime(text: str, expected: str) -> None:
    """str() of a runtime reads like the name users know it by."""
    assert str(parse_runtime_version(text)) == expected


# --- read_inputs: where the runtime comes from ----------------------------------------------------

PRECEDENCE = [
    pytest.param(
        "10.4 LTS ML",
        {ENV_RUNTIME_VERSION: "15.4"},
        {CONF_SPARK_VERSION: "13.3.x-scala2.12"},
        (10, 4),
        ARG_SOURCE,
        id="argument-beats-env-and-conf",
    ),
    pytest.param(
        None,
        {ENV_RUNTIME_VERSION: "15.4"},
        {CONF_SPARK_VERSION: "13.3.x-scala2.12"},
        (15, 4),
        ENV_SOURCE,
        id="env-beats-conf",
    ),
    pytest.param(
        None,
        {},
        {CONF_SPARK_VERSION: "11.3.x-gpu-ml-scala2.12"},
        (11, 3),
        CONF_SOURCE,
        id="conf-when-no-env",
    ),
    pytest.param(
        None,
        {ENV_RUNTIME_VERSION: "  "},
        {CONF_SPARK_VERSION: "9.1.x-photon-scala2.12"},
        (9, 1),
        CONF_SOURCE,
        id="blank-env-does-not-answer",
    ),
    pytest.param(
        None,
        {ENV_RUNTIME_VERSION: "client.2"},
        {},
        (2, None),
        ENV_SOURCE,
        id="env-serverless",
    ),
]


@pytest.mark.parametrize(("argument", "environ", "conf", "major_minor", "source"), PRECEDENCE)
def test_read_inputs_takes_runtime_from_first_source_that_answers(
    argument: str | None,
    environ: dict[str, str],
    conf: dict[str, str],
    major_minor: tuple[int, int | None],
    source: str,
) -> None:
    """The runtime comes from the argument, else env, else the Spark conf, and says which."""
    inputs = read_inputs(_Session(conf), runtime_version=argument, environ=environ)
    assert inputs.runtime is not None
    assert (inputs.runtime.major, inputs.runtime.minor) == major_minor
    assert inputs.runtime_source == source
    assert inputs.databricks is True
    assert inputs.unreadable is None


@pytest.mark.parametrize(
    "spark", [pytest.param(None, id="no-session"), pytest.param(_Session({}), id="empty-conf")]
)
def test_read_inputs_without_any_source_is_not_databricks(spark: object) -> None:
    """With no argument, no env and no sparkVersion the process is open-source Spark."""
    inputs = read_inputs(spark, environ={})
    assert (inputs.runtime, inputs.runtime_source, inputs.databricks, inputs.ml) == (
        None,
        None,
        False,
        None,
    )
    assert (inputs.track, inputs.autolog, inputs.unreadable) == (None, None, None)


def test_read_inputs_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without environ=, read_inputs reads os.environ."""
    monkeypatch.setenv(ENV_RUNTIME_VERSION, "12.2")
    monkeypatch.setenv(ENV_ML_PYTHONPATH, "/databricks/python")
    inputs = read_inputs(None)
    assert inputs.runtime == RuntimeVersion(12, 2)
    assert (inputs.runtime_source, inputs.ml) == (ENV_SOURCE, True)


# fmt: off
ML_DETECTION = [
    pytest.param(None, {ENV_RUNTIME_VERSION: "15.4", ENV_ML_PYTHONPATH: "/x"}, {}, True,
                 id="mlr-pythonpath-env"),
    pytest.param(None, {}, {CONF_SPARK_VERSION: "10.4.x-cpu-ml-scala2.12"}, True,
                 id="sparkversion-with-ml"),
    pytest.param(None, {ENV_RUNTIME_VERSION: "15.4"},
                 {CONF_SPARK_VERSION: "15.4.x-gpu-ml-scala2.12"}, True,
                 id="env-version-plus-ml-sparkversion"),
    pytest.param("15.4 ML", {}, {}, True, id="human-string-says-ml"),
    pytest.param(None, {}, {CONF_SPARK_VERSION: "13.3.x-scala2.12"}, False,
                 id="sparkversion-without-ml-is-standard"),
    pytest.param(None, {ENV_RUNTIME_VERSION: "15.4"}, {CONF_SPARK_VERSION: "15.4.x-scala2.12"},
                 False, id="env-version-plus-standard-sparkversion"),
    pytest.param(None, {ENV_ML_PYTHONPATH: "/x"}, {CONF_SPARK_VERSION: "13.3.x-scala2.12"}, True,
                 id="mlr-pythonpath-beats-standard-sparkversion"),
    pytest.param("13.3.x-scala2.12", {ENV_ML_PYTHONPATH: "/x"}, {}, False,
                 id="argument-naming-standard-beats-env"),
    pytest.param(None, {ENV_RUNTIME_VERSION: "15.4"}, {}, None, id="env-version-says-nothing"),
    pytest.param(None, {ENV_RUNTIME_VERSION: "client.2"}, {}, None, id="serverless-says-nothing"),
    pytest.param("15.4", {}, {}, None, id="argument-says-nothing"),
    pytest.param(None, {ENV_RUNTIME_VERSION: "15.4", ENV_ML_PYTHONPATH: ""}, {}, None,
                 id="empty-mlr-pythonpath-is-unset"),
    pytest.param(None, {}, {CONF_SPARK_VERSION: "garbage"}, None,
                 id="unreadable-sparkversion-says-nothing"),
    pytest.param(None, {}, {CONF_SPARK_VERSION: "garbage-ml-x"}, True,
                 id="unreadable-sparkversion-with-ml-is-ml"),
    pytest.param(None, {}, {CONF_SPARK_VERSION: CUSTOM_STANDARD}, False,
                 id="custom-standard-sparkversion-is-standard"),
    pytest.param(None, {}, {CONF_SPARK_VERSION: DLT}, False, id="dlt-sparkversion-is-standard"),
    pytest.param(None, {ENV_RUNTIME_VERSION: "garbage"}, {CONF_SPARK_VERSION: "13.3.x-scala2.12"},
                 False, id="unreadable-env-plus-standard-sparkversion"),
]
# fmt: on


@pytest.mark.parametrize(("argument", "environ", "conf", "ml"), ML_DETECTION)
def test_read_inputs_detects_ml_or_standard(
    argument: str | None, environ: dict[str, str], conf: dict[str, str], ml: bool | None
) -> None:
    """ML from MLR_PYTHONPATH, '-ml-' or 'ML'; standard from a plain sparkVersion; else None."""
    inputs = read_inputs(_Session(conf), runtime_version=argument, environ=environ)
    assert inputs.ml is ml


UNREADABLE = [
    pytest.param({ENV_RUNTIME_VERSION: "garbage"}, {}, ENV_SOURCE, "garbage", id="env-garbage"),
    pytest.param({}, {CONF_SPARK_VERSION: "garbage"}, CONF_SOURCE, "garbage", id="conf-garbage"),
    pytest.param(
        {},
        {CONF_SPARK_VERSION: "custom:abc"},
        CONF_SOURCE,
        "custom:abc",
        id="conf-custom-without-version",
    ),
    pytest.param({}, {CONF_SPARK_VERSION: ESR}, CONF_SOURCE, ESR, id="conf-apache-spark-esr"),
]


@pytest.mark.parametrize(("environ", "conf", "source", "text"), UNREADABLE)
def test_read_inputs_counts_unreadable_environment_string_as_unknown_databricks(
    environ: dict[str, str], conf: dict[str, str], source: str, text: str
) -> None:
    """An unparseable env/conf version gives runtime None, databricks True and keeps the string."""
    inputs = read_inputs(_Session(conf), environ=environ)
    assert (inputs.runtime, inputs.databricks, inputs.runtime_source) == (None, True, source)
    assert inputs.unreadable == text


@pytest.mark.parametrize(("environ", "conf", "source", "text"), UNREADABLE)
def test_route_warns_once_about_an_unreadable_runtime_naming_value_source_and_shapes(
    environ: dict[str, str], conf: dict[str, str], source: str, text: str
) -> None:
    """An unreadable env/conf version routes like the newest runtime, and the decision's first
    warning is one full sentence naming the string, where it was read and the accepted shapes."""
    decision = route(_Session(conf), environ=environ)
    assert (decision.mode, decision.databricks, decision.runtime) == (Mode.AUTOLOG, True, None)
    runtime_warnings = [m for c, m in decision.warnings if c is RuntimeVersionWarning]
    assert runtime_warnings == [decision.warnings[0][1]]
    [message] = runtime_warnings
    assert repr(text) in message and source in message and ACCEPTED_SHAPES in message
    assert message.endswith("like the newest Databricks ML runtime.")


def test_route_names_a_standard_runtime_it_cannot_read_as_standard() -> None:
    """An unreadable env version on a cluster whose sparkVersion says standard routes (and says
    it routes) like the newest standard runtime."""
    decision = route(
        _Session({CONF_SPARK_VERSION: "13.3.x-scala2.12"}), environ={ENV_RUNTIME_VERSION: "x"}
    )
    assert decision.mode is Mode.OFF
    assert decision.warnings[0][1].endswith("like the newest Databricks standard runtime.")


def test_route_without_an_unreadable_runtime_adds_no_runtime_warning() -> None:
    """A readable runtime gives a decision without a RuntimeVersionWarning."""
    decision = route(_Session({CONF_SPARK_VERSION: "13.3.x-scala2.12"}), environ={})
    assert not [c for c, _ in decision.warnings if c is RuntimeVersionWarning]


def test_route_names_the_argument_as_the_caller_calls_it() -> None:
    """``argument=`` names the runtime's source in the decision and in a parse error."""
    decision = route(None, runtime_version="9.1", environ={}, argument="--runtime")
    assert decision.runtime_source == "--runtime"
    with pytest.raises(InvalidRuntimeVersion, match=r"^--runtime: "):
        route(None, runtime_version="nine", environ={}, argument="--runtime")


# (sparkVersion, ML as read, mode routed): what explain prints as ML and the mode agree.
# fmt: off
READ_AND_ROUTED = [
    pytest.param("garbage", None, Mode.AUTOLOG, id="unreadable-counts-as-ml"),
    pytest.param("garbage-ml-x", True, Mode.AUTOLOG, id="unreadable-with-ml"),
    pytest.param(CUSTOM_STANDARD, False, Mode.OFF, id="custom-standard-13.3"),
    pytest.param("custom:13.3.x-cpu-ml-scala2.12", True, Mode.AUTOLOG, id="custom-ml-13.3"),
    pytest.param(DLT, False, Mode.OFF, id="dlt-standard-12.2"),
    pytest.param("custom:9.1.x-scala2.12", False, Mode.LEGACY, id="custom-9.1-legacy-default"),
]
# fmt: on


@pytest.mark.parametrize(("spark_version", "ml", "mode"), READ_AND_ROUTED)
def test_ml_as_read_and_the_routing_agree_for_odd_sparkversions(
    spark_version: str, ml: bool | None, mode: Mode
) -> None:
    """An odd sparkVersion is read as ML/standard/unknown and routed the way that reading says."""
    inputs = read_inputs(_Session({CONF_SPARK_VERSION: spark_version}), environ={})
    decision = route(_Session({CONF_SPARK_VERSION: spark_version}), environ={})
    assert (inputs.ml, decision.ml, decision.mode) == (ml, ml, mode)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("dlt:", id="dlt-empty"),
        pytest.param("abc", id="letters"),
        pytest.param("", id="empty"),
    ],
)
def test_read_inputs_raises_on_unparseable_argument(text: str) -> None:
    """A runtime_version the user passed that cannot be parsed is an error naming the argument."""
    with pytest.raises(InvalidRuntimeVersion) as info:
        read_inputs(None, runtime_version=text, environ={ENV_RUNTIME_VERSION: "15.4"})
    assert repr(text) in str(info.value)
    assert ARG_SOURCE in str(info.value)


# --- read_inputs: the flags -----------------------------------------------------------------------


def test_read_inputs_passes_flag_strings_through_unparsed() -> None:
    """The two flags are read from the Spark conf as the raw strings the user set."""
    conf = {CONF_TRACK: " TRUE ", CONF_AUTOLOG: "false"}
    inputs = read_inputs(_Session(conf), environ={})
    assert (inputs.track, inputs.autolog) == (" TRUE ", "false")


def test_read_inputs_counts_refused_conf_keys_as_unset_with_debug_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A conf key the session refuses to read counts as unset and is logged at DEBUG."""
    caplog.set_level(logging.DEBUG, logger="legacy_mllib_tracking")
    conf = {CONF_TRACK: "true", CONF_AUTOLOG: "true", CONF_SPARK_VERSION: "13.3.x-scala2.12"}
    session = _Session(conf, refused=frozenset({CONF_TRACK, CONF_SPARK_VERSION}))
    inputs = read_inputs(session, environ={})
    assert (inputs.track, inputs.autolog) == (None, "true")
    assert (inputs.runtime, inputs.databricks) == (None, False)
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any(CONF_TRACK in line for line in logged)
    assert any(CONF_SPARK_VERSION in line for line in logged)


def test_read_inputs_survives_a_conf_that_refuses_everything() -> None:
    """A session whose conf.get always raises reads as not-Databricks with both flags unset."""
    session = _Session({}, refused=frozenset({CONF_TRACK, CONF_AUTOLOG, CONF_SPARK_VERSION}))
    inputs = read_inputs(session, environ={ENV_RUNTIME_VERSION: "10.4"})
    assert inputs.runtime == RuntimeVersion(10, 4)
    assert (inputs.track, inputs.autolog, inputs.ml) == (None, None, None)
