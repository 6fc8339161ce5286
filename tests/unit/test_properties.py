"""Property tests: the parsers and the router never fail with anything but their own errors."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from legacy_mllib_tracking.errors import InvalidFlagValue, InvalidRuntimeVersion
from legacy_mllib_tracking.keys import CONF_AUTOLOG, CONF_TRACK
from legacy_mllib_tracking.routing import Decision, FlagSource, Mode, decide, parse_flag
from legacy_mllib_tracking.runtime import RuntimeVersion, parse_runtime_version

# No example database: unit tests leave nothing behind in the working tree.
PROPERTY = settings(database=None, max_examples=150, deadline=None)

# Text that looks like a runtime version often enough to reach every branch of the parser.
# fmt: off
_PIECES = st.sampled_from(
    ["1", "10", "4", "999", "1000", ".", ".", "x", "X", "-", "cpu", "ml", "-ml-", "gpu", "photon",
     "scala", "2.12", " ", "\t", "LTS", "ML", "GPU", "(Beta)", "client", "client.", "dlt:",
     "custom:", ":"]
)
# fmt: on
VERSION_LIKE = st.lists(_PIECES, max_size=10).map("".join)
ANY_TEXT = st.one_of(st.text(), VERSION_LIKE)
# 'true'/'false' in any case with any whitespace around them.
_WHITESPACE = st.text(alphabet=" \t\n\r\f\v", max_size=3)
SPARK_BOOLEAN = st.tuples(
    _WHITESPACE,
    st.sampled_from(["true", "false"]).flatmap(
        lambda word: st.tuples(*(st.sampled_from([c.lower(), c.upper()]) for c in word)).map(
            "".join
        )
    ),
    _WHITESPACE,
)


@PROPERTY
@given(ANY_TEXT)
def test_parse_runtime_version_returns_version_or_raises_its_own_error(text: str) -> None:
    """Any text parses to a RuntimeVersion or raises InvalidRuntimeVersion quoting it."""
    try:
        version = parse_runtime_version(text, source="property")
    except InvalidRuntimeVersion as error:
        assert repr(text) in str(error)
        assert "property" in str(error)
    else:
        assert isinstance(version, RuntimeVersion)
        assert version.raw == text
        assert 0 <= version.major <= 999
        assert version.ml in (True, False, None)
        assert str(version)  # every parsed version can name itself


@PROPERTY
@given(
    st.integers(0, 999),
    st.integers(0, 999),
    st.integers(0, 999),
    st.integers(0, 999),
)
def test_sort_key_orders_like_the_numbers(a: int, b: int, c: int, d: int) -> None:
    """Numbered versions sort like (major, minor) tuples; 'x' tops its major, below the next."""
    one = parse_runtime_version(f"{a}.{b}")
    other = parse_runtime_version(f"{c}.{d}")
    assert (one.sort_key() < other.sort_key()) == ((a, b) < (c, d))
    latest = parse_runtime_version(f"{a}.x")
    assert one.sort_key() < latest.sort_key()
    if a < 999:
        assert latest.sort_key() < parse_runtime_version(f"{a + 1}.0").sort_key()


@PROPERTY
@given(ANY_TEXT)
def test_parse_flag_returns_bool_or_raises_its_own_error(text: str) -> None:
    """Any text is read as True or False, or raises InvalidFlagValue naming key and value."""
    try:
        value = parse_flag(CONF_TRACK, text)
    except InvalidFlagValue as error:
        assert repr(CONF_TRACK) in str(error)
        assert repr(text) in str(error)
    else:
        assert value is (text.strip().lower() == "true")
        assert text.strip().lower() in ("true", "false")


@PROPERTY
@given(SPARK_BOOLEAN)
def test_parse_flag_accepts_any_case_and_surrounding_whitespace(
    parts: tuple[str, str, str],
) -> None:
    """'true'/'false' in any case, padded with any whitespace, reads as that bool."""
    before, word, after = parts
    assert parse_flag(CONF_AUTOLOG, before + word + after) is (word.lower() == "true")


@PROPERTY
@given(
    st.one_of(st.none(), ANY_TEXT, SPARK_BOOLEAN.map("".join)),
    st.one_of(st.none(), ANY_TEXT, SPARK_BOOLEAN.map("".join)),
    st.sampled_from([None, "5.3", "9.1 ML", "10.1", "10.4 LTS ML", "13.3.x-scala2.12", "client.2"]),
    st.booleans(),
)
def test_decide_with_any_flag_text_gives_decision_or_flag_error(
    track: str | None, autolog: str | None, runtime: str | None, databricks: bool
) -> None:
    """decide() with arbitrary flag text returns a Decision or raises InvalidFlagValue."""
    try:
        decision = decide(runtime, databricks=databricks or None, track=track, autolog=autolog)
    except InvalidFlagValue:
        bad = [v for v in (track, autolog) if v is not None]
        assert any(v.strip().lower() not in ("true", "false") for v in bad)
    else:
        assert isinstance(decision, Decision)
        assert decision.mode in Mode
        assert decision.track.source is (FlagSource.DEFAULT if track is None else FlagSource.CONF)
        assert decision.autolog.source is (
            FlagSource.DEFAULT if autolog is None else FlagSource.CONF
        )
        if decision.autolog.value:
            assert decision.mode is Mode.AUTOLOG
        elif decision.track.value:
            assert decision.mode is Mode.LEGACY
        else:
            assert decision.mode is Mode.OFF
