"""Spark boolean flags, forced modes and the error tree (SPEC 2, 3 and 6)."""

from __future__ import annotations

import warnings

import pytest

from legacy_mllib_tracking.errors import (
    InvalidAutologOption,
    InvalidFlagValue,
    InvalidModeError,
    InvalidRuntimeVersion,
    LegacyTrackingDeprecationWarning,
    LegacyTrackingError,
    NotATuningEstimator,
    RoutingAdvice,
    RunNotFound,
    RuntimeVersionWarning,
    TrackingNotice,
    TrackingWarning,
)
from legacy_mllib_tracking.keys import CONF_AUTOLOG, CONF_TRACK
from legacy_mllib_tracking.routing import FlagSource, Mode, decide, parse_flag, parse_mode

# --- flags --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("true", True, id="true"),
        pytest.param(" TRUE ", True, id="upper-padded"),
        pytest.param("True", True, id="title"),
        pytest.param("tRuE\t", True, id="mixed-tab"),
        pytest.param("false", False, id="false"),
        pytest.param("False\n", False, id="title-newline"),
        pytest.param("  FALSE", False, id="upper-leading-spaces"),
        pytest.param(None, None, id="unset"),
        pytest.param(True, True, id="bool-true"),
        pytest.param(False, False, id="bool-false"),
    ],
)
def test_parse_flag_reads_spark_booleans(value: object, expected: bool | None) -> None:
    """A trimmed, case-insensitive 'true'/'false' reads as a bool; None stays unset."""
    assert parse_flag(CONF_TRACK, value) is expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("yes", id="yes"),
        pytest.param("1", id="one"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("on", id="on"),
        pytest.param("t", id="t"),
        pytest.param("true true", id="twice"),
        pytest.param("'true'", id="quoted"),
        pytest.param(1, id="int"),
    ],
)
def test_parse_flag_rejects_anything_else_naming_key_value_and_accepted(value: object) -> None:
    """A non-boolean flag raises InvalidFlagValue naming the key, the value and 'true'/'false'."""
    with pytest.raises(InvalidFlagValue) as info:
        parse_flag(CONF_AUTOLOG, value)
    message = str(info.value)
    assert repr(CONF_AUTOLOG) in message
    assert repr(value) in message
    assert "'true'" in message
    assert "'false'" in message


def test_parse_flag_names_its_source() -> None:
    """The flag error says where the value was read."""
    with pytest.raises(InvalidFlagValue, match=r"^CLI option "):
        parse_flag(CONF_TRACK, "yes", source="CLI option")


@pytest.mark.parametrize(
    ("track", "autolog", "bad_key", "bad_value"),
    [
        pytest.param("yes", None, CONF_TRACK, "yes", id="track"),
        pytest.param(None, "on", CONF_AUTOLOG, "on", id="autolog"),
        pytest.param("true", "1", CONF_AUTOLOG, "1", id="autolog-with-valid-track"),
    ],
)
def test_decide_rejects_bad_flag_naming_the_key(
    track: str | None, autolog: str | None, bad_key: str, bad_value: str
) -> None:
    """decide() raises InvalidFlagValue naming the key and value of the bad flag."""
    with pytest.raises(InvalidFlagValue) as info:
        decide("10.4 ML", track=track, autolog=autolog)
    assert repr(bad_key) in str(info.value)
    assert repr(bad_value) in str(info.value)


def test_bad_flag_is_an_error_even_when_mode_is_forced() -> None:
    """A forced mode does not hide a non-boolean flag in the conf."""
    with pytest.raises(InvalidFlagValue):
        decide("10.4 ML", track="enabled", mode="legacy")


# --- modes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("legacy", Mode.LEGACY, id="legacy"),
        pytest.param("AUTOLOG", Mode.AUTOLOG, id="upper-autolog"),
        pytest.param(" Off ", Mode.OFF, id="padded-off"),
        pytest.param(Mode.OFF, Mode.OFF, id="enum-off"),
        pytest.param(Mode.LEGACY, Mode.LEGACY, id="enum-legacy"),
    ],
)
def test_parse_mode_reads_names_and_members(value: Mode | str, expected: Mode) -> None:
    """A mode's value in any case, or the Mode itself, names that mode."""
    assert parse_mode(value) is expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("auto", id="auto"),
        pytest.param("", id="empty"),
        pytest.param("LEGACY_MODE", id="member-name-like"),
        pytest.param("on", id="on"),
        pytest.param(1, id="int"),
        pytest.param(None, id="none"),
    ],
)
def test_parse_mode_rejects_unknown_modes_listing_accepted(value: object) -> None:
    """A value naming no mode raises InvalidModeError naming it and listing the three modes."""
    with pytest.raises(InvalidModeError) as info:
        parse_mode(value)  # type: ignore[arg-type]
    message = str(info.value)
    assert repr(value) in message
    for mode in ("'legacy'", "'autolog'", "'off'"):
        assert mode in message


def test_decide_rejects_unknown_forced_mode() -> None:
    """decide(mode=...) with a bad mode raises InvalidModeError."""
    with pytest.raises(InvalidModeError, match="'automatic'"):
        decide("10.4 ML", mode="automatic")


@pytest.mark.parametrize(
    ("runtime", "mode", "expected"),
    [
        pytest.param("10.4 LTS ML", "legacy", Mode.LEGACY, id="legacy-over-autolog-default"),
        pytest.param("9.1", "AUTOLOG", Mode.AUTOLOG, id="autolog-over-legacy-default"),
        pytest.param("10.1 ML", Mode.OFF, Mode.OFF, id="off-over-deprecated-legacy"),
        pytest.param("client.2", "legacy", Mode.LEGACY, id="legacy-on-serverless"),
        pytest.param(None, "off", Mode.OFF, id="off-on-oss"),
    ],
)
def test_forced_mode_wins_and_says_forced(
    runtime: str | None, mode: Mode | str, expected: Mode
) -> None:
    """A forced mode is the decision's mode, with forced=True and a reason that says so."""
    decision = decide(runtime, mode=mode)
    assert decision.mode is expected
    assert decision.forced is True
    assert decision.reason.startswith(f"forced by configure(mode={expected.value!r})")


@pytest.mark.parametrize("mode", [pytest.param(m, id=m.value) for m in Mode])
def test_forced_mode_carries_no_warnings(mode: Mode) -> None:
    """Forcing a mode silences the routing warnings that both flags on would raise."""
    routed = decide("13.3.x-scala2.12", track="true", autolog="true")
    assert routed.warnings  # the routed decision would warn
    forced = decide("13.3.x-scala2.12", track="true", autolog="true", mode=mode)
    assert forced.warnings == ()


def test_forced_decision_still_records_effective_flags() -> None:
    """A forced decision keeps the flags routing would have used, with their sources."""
    decision = decide("10.4 LTS ML", track="true", mode="off")
    assert (decision.track.value, decision.track.source) == (True, FlagSource.CONF)
    assert (decision.autolog.value, decision.autolog.source) == (True, FlagSource.DEFAULT)
    assert str(decision.track) in decision.reason
    assert decision.to_dict()["forced"] is True


def test_mode_str_is_its_value() -> None:
    """str(Mode.X) is the lowercase name users pass to configure(mode=...)."""
    assert [str(m) for m in Mode] == ["legacy", "autolog", "off"]


# --- the error tree -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        pytest.param(InvalidRuntimeVersion, ValueError, id="InvalidRuntimeVersion"),
        pytest.param(InvalidFlagValue, ValueError, id="InvalidFlagValue"),
        pytest.param(InvalidModeError, ValueError, id="InvalidModeError"),
        pytest.param(InvalidAutologOption, ValueError, id="InvalidAutologOption"),
        pytest.param(NotATuningEstimator, TypeError, id="NotATuningEstimator"),
        pytest.param(RunNotFound, LookupError, id="RunNotFound"),
    ],
)
def test_each_error_is_the_builtin_it_refines(
    error: type[LegacyTrackingError], builtin: type[Exception]
) -> None:
    """Each concrete error derives from LegacyTrackingError and from its builtin."""
    assert issubclass(error, LegacyTrackingError)
    assert issubclass(error, builtin)
    with pytest.raises(builtin, match="boom"):
        raise error("boom")


@pytest.mark.parametrize(
    ("category", "bases"),
    [
        pytest.param(TrackingWarning, (UserWarning,), id="TrackingWarning"),
        pytest.param(TrackingNotice, (UserWarning,), id="TrackingNotice"),
        pytest.param(RoutingAdvice, (UserWarning,), id="RoutingAdvice"),
        pytest.param(
            LegacyTrackingDeprecationWarning,
            (RoutingAdvice, FutureWarning),
            id="LegacyTrackingDeprecationWarning",
        ),
        pytest.param(RuntimeVersionWarning, (RoutingAdvice,), id="RuntimeVersionWarning"),
    ],
)
def test_each_warning_has_its_own_filterable_category(
    category: type[Warning], bases: tuple[type[Warning], ...]
) -> None:
    """Each warning category derives from the categories users filter on."""
    for base in bases:
        assert issubclass(category, base)
    assert not issubclass(category, LegacyTrackingError)


@pytest.mark.parametrize(
    "category",
    [TrackingNotice, RoutingAdvice, LegacyTrackingDeprecationWarning, RuntimeVersionWarning],
)
def test_notices_and_advice_are_not_tracking_warnings(category: type[Warning]) -> None:
    """Only lost data is a TrackingWarning: ignoring notices and advice never hides it."""
    assert not issubclass(category, TrackingWarning)
    assert not issubclass(TrackingWarning, category)


@pytest.mark.parametrize(
    ("module", "fails"),
    [
        pytest.param("legacy_mllib_tracking._compat", True, id="this-library"),
        pytest.param("tests.integration.helpers", True, id="its-tests"),
        pytest.param("mlflow.store.tracking.sqlalchemy_store", False, id="mlflow"),
        pytest.param("pyspark.sql.pandas.conversion", False, id="pyspark"),
    ],
)
@pytest.mark.parametrize("category", [DeprecationWarning, PendingDeprecationWarning])
def test_suite_fails_on_this_librarys_deprecations_only(
    module: str, fails: bool, category: type[Warning]
) -> None:
    """pyproject's filterwarnings: a deprecation attributed to us or our tests is an error."""
    with warnings.catch_warnings():  # the filters pytest set for this test, restored after
        if fails:
            with pytest.raises(category, match="old API"):
                warnings.warn_explicit("old API", category, "x.py", 1, module=module)
        else:
            warnings.warn_explicit("old API", category, "x.py", 1, module=module)


def test_library_errors_are_caught_as_value_error() -> None:
    """A caller who only knows ValueError catches a bad flag from decide()."""
    with pytest.raises(ValueError, match="must be 'true' or 'false'"):
        decide(track="yes")
