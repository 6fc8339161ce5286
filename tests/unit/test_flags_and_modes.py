"""Spark boolean flags, forced modes and the error tree (SPEC 2, 3 and 6)."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from legacy_mllib_tracking import configure, errors, is_configured
from legacy_mllib_tracking.errors import (
    InvalidAutologOption,
    InvalidFlagValue,
    InvalidModeError,
    InvalidOption,
    InvalidRuntimeVersion,
    LegacyTrackingDeprecationWarning,
    LegacyTrackingError,
    NotASparkSession,
    NotATuningEstimator,
    NotebookReadError,
    RewriteError,
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
        pytest.param(NotASparkSession, TypeError, id="NotASparkSession"),
        pytest.param(RunNotFound, LookupError, id="RunNotFound"),
        pytest.param(NotebookReadError, ValueError, id="NotebookReadError"),
        pytest.param(RewriteError, ValueError, id="RewriteError"),
    ],
)
def test_each_error_is_the_builtin_it_refines(
    error: type[LegacyTrackingError], builtin: type[Exception]
) -> None:
    """Each concrete error derives from LegacyTrackingError and from its builtin, and is
    documented in the tree of errors.py."""
    assert issubclass(error, LegacyTrackingError)
    assert f"{error.__name__} ({builtin.__name__})" in str(errors.__doc__)
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


# --- configure()'s options ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "timeout",
    [
        pytest.param(float("inf"), id="inf"),
        pytest.param(1e12, id="1e12"),
        pytest.param(86400.5, id="just-over-a-day"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(0, id="zero"),
        pytest.param(-1, id="negative"),
        pytest.param(True, id="bool"),
        pytest.param("30", id="string"),
    ],
)
def test_tracking_timeout_outside_a_day_is_rejected_naming_the_value(timeout: Any) -> None:
    """tracking_timeout must be in (0, 86400] or None; anything else is InvalidOption quoting it."""
    with pytest.raises(InvalidOption) as info:
        configure(None, mode="off", tracking_timeout=timeout)
    assert repr(timeout) in str(info.value) and "86400" in str(info.value)
    assert not is_configured()


@pytest.mark.parametrize("timeout", [0.001, 30, 86400, None])
def test_tracking_timeout_in_range_is_accepted(timeout: float | None) -> None:
    """The bounds of the accepted range and None (no deadline) configure fine."""
    assert configure(None, mode="off", tracking_timeout=timeout).mode is Mode.OFF


@pytest.mark.parametrize(
    "spark", [pytest.param("not a session", id="string"), pytest.param(42, id="int")]
)
def test_configure_with_something_that_is_no_session_is_a_type_error(spark: object) -> None:
    """configure(non-session) raises NotASparkSession (a TypeError) naming the value and type."""
    with pytest.raises(TypeError) as info:
        configure(spark, mode="off")
    assert isinstance(info.value, NotASparkSession)
    assert repr(spark) in str(info.value) and type(spark).__name__ in str(info.value)
    assert not is_configured()


# (autolog_options, key named, type named)
BAD_AUTOLOG_VALUES = [
    pytest.param({"log_models": "no"}, "'log_models'", "bool", id="bool-option-given-a-string"),
    pytest.param({"log_datasets": 0}, "'log_datasets'", "bool", id="bool-option-given-an-int"),
    pytest.param({"silent": None}, "'silent'", "bool", id="bool-option-given-none"),
    pytest.param({"extra_tags": "team=a"}, "'extra_tags'", "dict", id="extra-tags-a-string"),
    pytest.param(
        {"registered_model_name": 3}, "'registered_model_name'", "str", id="model-name-an-int"
    ),
    pytest.param(
        {"log_model_allowlist": [1]}, "'log_model_allowlist'", "list", id="allowlist-of-ints"
    ),
]


@pytest.mark.parametrize(("options", "key", "expected"), BAD_AUTOLOG_VALUES)
def test_autolog_option_of_the_wrong_type_names_key_value_and_type(
    options: dict[str, Any], key: str, expected: str
) -> None:
    """A value autolog's signature does not take is InvalidAutologOption naming all three."""
    with pytest.raises(InvalidAutologOption) as info:
        configure(None, mode="off", autolog_options=options)
    message = str(info.value)
    value = next(iter(options.values()))
    assert key in message and repr(value) in message and expected in message, message
    assert not is_configured()


def test_autolog_options_of_the_right_types_are_accepted() -> None:
    """Bools, None where autolog's default is None, and the documented types configure fine."""
    options = {
        "log_models": False,
        "silent": True,
        "registered_model_name": None,
        "extra_tags": {"team": "a"},
        "log_model_allowlist": ["pyspark.ml.classification.LogisticRegressionModel"],
    }
    assert configure(None, mode="off", autolog_options=options).mode is Mode.OFF


def test_notebook_errors_are_the_same_classes_everywhere_they_are_importable() -> None:
    """The notebook errors live in errors.py and are re-exported by the notebooks package and
    the top-level package (one class each, so ``except`` works whichever import was used)."""
    import legacy_mllib_tracking
    from legacy_mllib_tracking import notebooks

    assert (
        notebooks.NotebookReadError
        is legacy_mllib_tracking.NotebookReadError
        is (NotebookReadError)
    )
    assert notebooks.RewriteError is legacy_mllib_tracking.RewriteError is RewriteError
    assert NotebookReadError.__module__ == RewriteError.__module__ == "legacy_mllib_tracking.errors"
