"""The routing table of SPEC 3: decide() as a pure function of already-read inputs."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from legacy_mllib_tracking.errors import (
    InvalidRuntimeVersion,
    LegacyTrackingDeprecationWarning,
    RoutingAdvice,
    TrackingWarning,
)
from legacy_mllib_tracking.keys import CONF_AUTOLOG, CONF_TRACK
from legacy_mllib_tracking.routing import Decision, Flag, FlagSource, Mode, decide
from legacy_mllib_tracking.runtime import parse_runtime_version

from .fresh import run_python

CONF = FlagSource.CONF
DEFAULT = FlagSource.DEFAULT
DEPRECATED = LegacyTrackingDeprecationWarning
BOTH_ON = RoutingAdvice


def _categories(decision: Decision) -> list[type[Warning]]:
    return [category for category, _ in decision.warnings]


# One row per case, in the order of SPEC 3's table; then the unknown Databricks runtime (SPEC 2).
# (decide() keyword arguments, mode, (track value, source), (autolog value, source), warnings)
# fmt: off
ROUTING_TABLE = [
    # DBR < 5.4: opt-in via track=true.
    pytest.param({"runtime": "5.3"}, Mode.OFF, (False, DEFAULT), (False, DEFAULT), [],
                 id="dbr-5.3-default"),
    pytest.param({"runtime": "5.3", "track": "true"}, Mode.LEGACY, (True, CONF), (False, DEFAULT),
                 [], id="dbr-5.3-track-opt-in"),
    # 5.4 <= DBR < 10.1: legacy on by default, ML and standard.
    pytest.param({"runtime": "5.4"}, Mode.LEGACY, (True, DEFAULT), (False, DEFAULT), [],
                 id="dbr-5.4-default"),
    pytest.param({"runtime": "9.1.x-cpu-ml-scala2.12"}, Mode.LEGACY, (True, DEFAULT),
                 (False, DEFAULT), [], id="dbr-9.1-ml-default"),
    pytest.param({"runtime": "9.1.x-photon-scala2.12"}, Mode.LEGACY, (True, DEFAULT),
                 (False, DEFAULT), [], id="dbr-9.1-standard-default"),
    pytest.param({"runtime": "10.0 ML"}, Mode.LEGACY, (True, DEFAULT), (False, DEFAULT), [],
                 id="dbr-10.0-ml-default"),
    pytest.param({"runtime": "9.1 ML", "track": "false"}, Mode.OFF, (False, CONF),
                 (False, DEFAULT), [], id="dbr-9.1-ml-track-off"),
    # 10.1 <= DBR < 10.2: legacy still on, deprecated.
    pytest.param({"runtime": "10.1 ML"}, Mode.LEGACY, (True, DEFAULT), (False, DEFAULT),
                 [DEPRECATED], id="dbr-10.1-deprecated"),
    pytest.param({"runtime": "10.1.x-scala2.12"}, Mode.LEGACY, (True, DEFAULT), (False, DEFAULT),
                 [DEPRECATED], id="dbr-10.1-standard-deprecated"),
    # DBR >= 10.2, ML (and unknown, which counts as ML): Databricks Autologging on.
    pytest.param({"runtime": "10.2.x-cpu-ml-scala2.12"}, Mode.AUTOLOG, (False, DEFAULT),
                 (True, DEFAULT), [], id="dbr-10.2-ml-default"),
    pytest.param({"runtime": "10.4 LTS ML"}, Mode.AUTOLOG, (False, DEFAULT), (True, DEFAULT), [],
                 id="dbr-10.4-ml-default"),
    pytest.param({"runtime": "15.4"}, Mode.AUTOLOG, (False, DEFAULT), (True, DEFAULT), [],
                 id="dbr-15.4-unknown-flavour-counts-as-ml"),
    pytest.param({"runtime": "10.4 LTS ML", "track": "true"}, Mode.AUTOLOG, (True, CONF),
                 (True, DEFAULT), [BOTH_ON], id="dbr-10.4-ml-track-on-autolog-default"),
    pytest.param({"runtime": "10.4 LTS ML", "track": "true", "autolog": "false"}, Mode.LEGACY,
                 (True, CONF), (False, CONF), [DEPRECATED], id="dbr-10.4-ml-legacy-opt-in"),
    # DBR >= 10.2, standard: no autologging.
    pytest.param({"runtime": "10.2.x-scala2.12"}, Mode.OFF, (False, DEFAULT), (False, DEFAULT),
                 [], id="dbr-10.2-standard-default"),
    pytest.param({"runtime": "15.4.x-scala2.12"}, Mode.OFF, (False, DEFAULT), (False, DEFAULT),
                 [], id="dbr-15.4-standard-default"),
    pytest.param({"runtime": "15.4", "ml": False}, Mode.OFF, (False, DEFAULT), (False, DEFAULT),
                 [], id="dbr-15.4-standard-from-ml-argument"),
    pytest.param({"runtime": "14.x-scala2.12"}, Mode.OFF, (False, DEFAULT), (False, DEFAULT), [],
                 id="dbr-14.x-standard-default"),
    pytest.param({"runtime": "15.4.x-scala2.12", "autolog": "true"}, Mode.AUTOLOG,
                 (False, DEFAULT), (True, CONF), [], id="dbr-15.4-standard-autolog-on"),
    # Serverless: autologging is not started automatically.
    pytest.param({"runtime": "client.1.13"}, Mode.OFF, (False, DEFAULT), (False, DEFAULT), [],
                 id="serverless-default"),
    pytest.param({"runtime": "client.2", "track": "true"}, Mode.LEGACY, (True, CONF),
                 (False, DEFAULT), [DEPRECATED], id="serverless-track-on"),
    # Not Databricks: like the newest ML runtime.
    pytest.param({}, Mode.AUTOLOG, (False, DEFAULT), (True, DEFAULT), [], id="oss-default"),
    pytest.param({"track": "true", "autolog": "false"}, Mode.LEGACY, (True, CONF), (False, CONF),
                 [DEPRECATED], id="oss-legacy-opt-in"),
    pytest.param({"track": "true", "autolog": "true"}, Mode.AUTOLOG, (True, CONF), (True, CONF),
                 [BOTH_ON], id="oss-both-on"),
    # An unknown Databricks runtime (unreadable version): like the newest runtime.
    pytest.param({"runtime": None, "databricks": True}, Mode.AUTOLOG, (False, DEFAULT),
                 (True, DEFAULT), [], id="unknown-databricks"),
    pytest.param({"runtime": None, "databricks": True, "track": "true", "autolog": "false"},
                 Mode.LEGACY, (True, CONF), (False, CONF), [DEPRECATED],
                 id="unknown-databricks-legacy-opt-in"),
    # An unknown version on a runtime known to be standard: like the newest standard runtime.
    pytest.param({"runtime": None, "databricks": True, "ml": False}, Mode.OFF, (False, DEFAULT),
                 (False, DEFAULT), [], id="unknown-databricks-standard"),
    # A custom image or DLT sparkVersion: the version embedded in it.
    pytest.param({"runtime": "custom:13.3.x-scala2.12"}, Mode.OFF, (False, DEFAULT),
                 (False, DEFAULT), [], id="custom-13.3-standard"),
    pytest.param({"runtime": "dlt:12.2-delta-pipelines-dlt-release-2023.04-rc1-scala2.12"},
                 Mode.OFF, (False, DEFAULT), (False, DEFAULT), [], id="dlt-12.2-standard"),
]
# fmt: on


@pytest.mark.parametrize(("inputs", "mode", "track", "autolog", "warned"), ROUTING_TABLE)
def test_routing_table(
    inputs: dict[str, Any],
    mode: Mode,
    track: tuple[bool, FlagSource],
    autolog: tuple[bool, FlagSource],
    warned: list[type[Warning]],
) -> None:
    """Each SPEC 3 row gives its mode, flag values with their sources, and warning categories."""
    decision = decide(**inputs)
    assert decision.mode is mode
    assert decision.track == Flag(CONF_TRACK, *track)
    assert decision.autolog == Flag(CONF_AUTOLOG, *autolog)
    assert _categories(decision) == warned
    assert decision.forced is False


# --- every flag combination in every band -------------------------------------------------------

# (decide() keyword arguments, track default, autolog default, LEGACY warns of deprecation)
BANDS = [
    pytest.param({"runtime": "5.3"}, False, False, False, id="dbr-5.3"),
    pytest.param({"runtime": "9.1.x-cpu-ml-scala2.12"}, True, False, False, id="dbr-9.1-ml"),
    pytest.param({"runtime": "10.0"}, True, False, False, id="dbr-10.0"),
    pytest.param({"runtime": "10.1 ML"}, True, False, True, id="dbr-10.1-ml"),
    pytest.param({"runtime": "10.4 LTS ML"}, False, True, True, id="dbr-10.4-ml"),
    pytest.param({"runtime": "15.4"}, False, True, True, id="dbr-15.4-unknown-flavour"),
    pytest.param({"runtime": "13.3.x-scala2.12"}, False, False, True, id="dbr-13.3-standard"),
    pytest.param({"runtime": "client.1.13"}, False, False, True, id="serverless"),
    pytest.param({"runtime": None, "databricks": True}, False, True, True, id="unknown-databricks"),
    pytest.param({"runtime": None}, False, True, True, id="oss"),
]
FLAG_VALUES = {"unset": None, "true": "true", "false": "false"}
FLAG_COMBINATIONS = [
    pytest.param(FLAG_VALUES[t], FLAG_VALUES[a], id=f"track-{t}-autolog-{a}")
    for t, a in itertools.product(FLAG_VALUES, FLAG_VALUES)
]


@pytest.mark.parametrize(("track", "autolog"), FLAG_COMBINATIONS)
@pytest.mark.parametrize(("band", "track_default", "autolog_default", "legacy_warns"), BANDS)
def test_decision_rule_over_every_flag_combination(
    band: dict[str, Any],
    track_default: bool,
    autolog_default: bool,
    legacy_warns: bool,
    track: str | None,
    autolog: str | None,
) -> None:
    """Set flags override the band default; autolog wins over track; otherwise OFF."""
    decision = decide(**band, track=track, autolog=autolog)

    want_track = track_default if track is None else track == "true"
    want_autolog = autolog_default if autolog is None else autolog == "true"
    assert decision.track == Flag(CONF_TRACK, want_track, DEFAULT if track is None else CONF)
    assert decision.autolog == Flag(
        CONF_AUTOLOG, want_autolog, DEFAULT if autolog is None else CONF
    )
    if want_autolog:
        assert decision.mode is Mode.AUTOLOG
        assert _categories(decision) == ([BOTH_ON] if want_track else [])
    elif want_track:
        assert decision.mode is Mode.LEGACY
        assert _categories(decision) == ([DEPRECATED] if legacy_warns else [])
    else:
        assert decision.mode is Mode.OFF
        assert _categories(decision) == []


# --- warnings, reasons and the decision value ---------------------------------------------------


def test_both_flags_on_warns_that_legacy_needs_autologging_off() -> None:
    """With track and autolog both true the warning names autologging.enabled=false."""
    decision = decide("10.4 LTS ML", track="true", autolog="true")
    [(category, message)] = decision.warnings
    assert category is RoutingAdvice
    assert not issubclass(category, TrackingWarning), "advice is not data loss"
    assert f"{CONF_AUTOLOG}=false" in message
    assert CONF_TRACK in message


def test_legacy_on_new_runtime_warns_that_this_library_provides_the_layout() -> None:
    """LEGACY on DBR 10.1+ warns with a FutureWarning saying this library provides the layout."""
    decision = decide("13.3.x-scala2.12", track="true")
    [(category, message)] = decision.warnings
    assert issubclass(category, FutureWarning)
    assert "legacy-mllib-tracking" in message
    assert "DBR 13.3 standard" in message


def test_runtime_string_is_parsed_and_its_source_recorded() -> None:
    """A runtime string is parsed by decide() and the decision records where it was read."""
    decision = decide("10.4.x-cpu-ml-scala2.12", runtime_source="Spark conf sparkVersion")
    assert decision.runtime == parse_runtime_version("10.4 ML")
    assert decision.runtime_source == "Spark conf sparkVersion"
    assert (decision.databricks, decision.ml) == (True, True)


def test_runtime_string_without_source_is_the_argument() -> None:
    """A runtime string given without a source is recorded as the runtime_version argument."""
    assert decide("15.4").runtime_source == "argument runtime_version"


def test_unparseable_runtime_string_raises_naming_its_source() -> None:
    """decide() with an unreadable runtime string raises InvalidRuntimeVersion naming the source."""
    with pytest.raises(InvalidRuntimeVersion, match="env DATABRICKS_RUNTIME_VERSION"):
        decide("dlt:delta-pipelines", runtime_source="env DATABRICKS_RUNTIME_VERSION")


def test_explicit_ml_overrides_what_the_runtime_string_says() -> None:
    """ml=True on a standard sparkVersion routes the runtime as ML."""
    decision = decide("13.3.x-scala2.12", ml=True)
    assert (decision.ml, decision.mode) == (True, Mode.AUTOLOG)


def test_no_runtime_defaults_to_not_databricks() -> None:
    """Without a runtime and without databricks=, the process is open-source Spark."""
    decision = decide()
    assert (decision.runtime, decision.databricks, decision.ml) == (None, False, None)
    assert "not Databricks" in decision.reason


def test_bool_flags_decide_like_their_strings() -> None:
    """Python bools for the flags give the same decision as the strings 'true'/'false'."""
    assert decide("10.4 ML", track=True, autolog=False) == decide(
        "10.4 ML", track=" TRUE ", autolog="false"
    )


def test_reason_is_one_sentence_naming_runtime_and_flags() -> None:
    """The reason names the runtime and both flags, and str() leads with the mode."""
    decision = decide("10.4 LTS ML")
    assert "DBR 10.4 ML" in decision.reason
    assert f"{CONF_TRACK}=false (default)" in decision.reason
    assert f"{CONF_AUTOLOG}=true (default)" in decision.reason
    assert "\n" not in decision.reason
    assert str(decision) == f"AUTOLOG: {decision.reason}"


# (decide() keyword arguments, whether the reason says the Spark conf decided)
EXPLICIT = [
    pytest.param(
        {"runtime": "15.4", "track": "true", "autolog": "false"},
        True,
        id="conf-turns-autolog-off-and-legacy-on",
    ),
    pytest.param(
        {"runtime": "13.3.x-scala2.12", "autolog": "true"},
        True,
        id="conf-turns-autolog-on-on-standard",
    ),
    pytest.param({"runtime": "9.1", "track": "false"}, True, id="conf-turns-legacy-off"),
    pytest.param({"runtime": "15.4", "autolog": "true"}, False, id="conf-equal-to-default"),
    pytest.param({"runtime": "15.4"}, False, id="defaults"),
]


@pytest.mark.parametrize(("inputs", "explicit"), EXPLICIT)
def test_reason_says_when_a_spark_conf_flag_decided(inputs: dict[str, Any], explicit: bool) -> None:
    """A flag set in the conf against the runtime's default is named as what decided the mode."""
    reason = decide(**inputs).reason
    assert ("decided by the Spark conf setting" in reason) is explicit, reason
    assert "\n" not in reason


def test_reason_names_ml_from_argument_when_runtime_string_is_silent() -> None:
    """A runtime string that says nothing of ML is described with the ml= that was passed."""
    assert "DBR 15.4 standard" in decide("15.4", ml=False).reason
    assert "DBR 15.4 ML" in decide("15.4", ml=True).reason


@pytest.mark.parametrize(
    ("runtime", "ml", "named", "not_named"),
    [
        pytest.param("13.3.x-scala2.12", True, "DBR 13.3 ML", "standard", id="standard-as-ml"),
        pytest.param("10.4 LTS ML", False, "DBR 10.4 standard", " ML", id="ml-as-standard"),
    ],
)
def test_reason_names_ml_as_routed_when_ml_overrides_runtime_string(
    runtime: str, ml: bool, named: str, not_named: str
) -> None:
    """When ml= contradicts the version string, the reason describes the runtime as routed."""
    reason = decide(runtime, ml=ml).reason
    where = reason.split(",")[0]
    assert named in where
    assert not_named not in where


def test_to_dict_is_json_ready_and_complete() -> None:
    """to_dict() survives a JSON round trip and carries mode, runtime, flags and warnings."""
    decision = decide("10.4 LTS ML", track="true", runtime_source="argument runtime_version")
    data = json.loads(json.dumps(decision.to_dict()))
    assert data == {
        "mode": "autolog",
        "reason": decision.reason,
        "runtime": "DBR 10.4 ML",
        "runtime_raw": "10.4 LTS ML",
        "runtime_source": "argument runtime_version",
        "databricks": True,
        "ml": True,
        "forced": False,
        "flags": {
            CONF_TRACK: {"value": True, "source": "conf"},
            CONF_AUTOLOG: {"value": True, "source": "default"},
        },
        "warnings": [decision.warnings[0][1]],
    }


def test_to_dict_without_runtime_has_nulls() -> None:
    """to_dict() of an open-source Spark decision has null runtime fields."""
    data = decide().to_dict()
    assert (data["runtime"], data["runtime_raw"], data["runtime_source"]) == (None, None, None)
    assert data["databricks"] is False


# --- the import stays light ---------------------------------------------------------------------


def test_import_does_not_load_pyspark_or_mlflow(tmp_path: Any) -> None:
    """Importing legacy_mllib_tracking in a fresh interpreter imports neither pyspark nor mlflow."""
    code = (
        "import sys, legacy_mllib_tracking\n"
        "assert 'legacy_mllib_tracking.routing' in sys.modules\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'mlflow')))\n"
    )
    result = run_python("-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_scan_and_migrate_are_served_lazily_from_the_package(tmp_path: Any) -> None:
    """``legacy_mllib_tracking.scan`` / ``.migrate`` are the notebooks package's functions,
    imported on first access: ``import legacy_mllib_tracking`` does not load the notebook
    readers, and using them still imports neither pyspark nor mlflow."""
    code = (
        "import sys\n"
        "import legacy_mllib_tracking as package\n"
        "print('legacy_mllib_tracking.notebooks' in sys.modules)\n"
        "from legacy_mllib_tracking import migrate, scan\n"
        "from legacy_mllib_tracking import notebooks\n"
        "assert scan is package.scan is notebooks.scan\n"
        "assert migrate is package.migrate is notebooks.migrate\n"
        "assert 'scan' in vars(package)  # imported once, then a plain global\n"
        "print(scan(['.']).summary()['files'])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'mlflow')))\n"
    )
    result = run_python("-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["False", "0", "[]"]


def test_import_leaves_version_lookup_to_the_first_reader(tmp_path: Any) -> None:
    """``import legacy_mllib_tracking`` skips importlib.metadata; ``__version__`` still works."""
    code = (
        "import sys, importlib\n"
        "import legacy_mllib_tracking as package\n"
        "print('importlib.metadata' in sys.modules)\n"
        "from legacy_mllib_tracking import __version__\n"
        "from importlib.metadata import version\n"
        "assert __version__ == package.__version__ == version('legacy-mllib-tracking')\n"
        "assert '__version__' in vars(package)  # read once, then a plain global\n"
        "try:\n"
        "    package.no_such_name\n"
        "except AttributeError as error:\n"
        "    print(error)\n"
    )
    result = run_python("-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "False",
        "module 'legacy_mllib_tracking' has no attribute 'no_such_name'",
    ]
