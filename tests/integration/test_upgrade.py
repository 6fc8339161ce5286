"""Runtime-upgrade testing (issue 3): simulated runtimes, layout diffs, the plugin, the CLI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import mlflow
import pytest

from legacy_mllib_tracking import (
    Mode,
    assert_same_layout,
    configure,
    diff_layouts,
    reset,
    simulate_runtime,
)
from legacy_mllib_tracking.cli import main
from legacy_mllib_tracking.keys import CONF_AUTOLOG, CONF_SPARK_VERSION, CONF_TRACK

from .builders import tuner
from .helpers import LEAN


def _fit_under(spark: Any, version: str, estimator: Any, frame: Any) -> tuple[str, Mode]:
    with simulate_runtime(version, spark=spark):
        decision = configure(spark, autolog_options=LEAN)
        try:
            with mlflow.start_run() as run:
                estimator.fit(frame)
        finally:
            reset()
    return run.info.run_id, decision.mode


@pytest.mark.parametrize(
    ("kind", "pipeline"), [("cv", False), ("tvs", True)], ids=["cv-estimator", "tvs-pipeline"]
)
def test_legacy_9_1_and_autolog_15_4_have_the_same_contract_layout(
    spark: Any, experiment: str, data: Any, raw_data: Any, kind: str, pipeline: bool
) -> None:
    """The same tuning code under DBR 9.1 (LEGACY) and 15.4 (AUTOLOG) has one contract layout."""
    frame = raw_data if pipeline else data
    old, old_mode = _fit_under(spark, "9.1", tuner(kind, pipeline=pipeline), frame)
    new, new_mode = _fit_under(spark, "15.4", tuner(kind, pipeline=pipeline), frame)
    assert (old_mode, new_mode) == (Mode.LEGACY, Mode.AUTOLOG)
    assert diff_layouts(old, new, scope="contract") == []
    assert_same_layout(old, new, scope="contract", metric_tolerance=1e-9)
    # the full scope sees AUTOLOG's extra params (autolog logs every estimator param)
    full = diff_layouts(old, new, scope="full")
    assert any("maxIter" in line and "only in B" in line for line in full), full


def test_different_grid_is_named_in_the_diff(spark: Any, experiment: str, data: Any) -> None:
    """A deliberately different grid gives a diff naming the child that is missing."""
    from pyspark.ml.tuning import ParamGridBuilder

    changed = tuner("cv")
    lr = changed.getEstimator()
    changed.setEstimatorParamMaps(
        ParamGridBuilder()
        .addGrid(lr.regParam, [0.01, 0.2])
        .addGrid(lr.elasticNetParam, [0.0, 1.0])
        .build()
    )
    a, _ = _fit_under(spark, "9.1", tuner("cv"), data)
    b, _ = _fit_under(spark, "9.1", changed, data)
    differences = diff_layouts(a, b)
    # children are named by their tuned params in the grid's order, as their run names are
    assert "child {regParam=0.5,elasticNetParam=0.0}: only in A" in differences
    assert "child {regParam=0.2,elasticNetParam=0.0}: only in B" in differences
    with pytest.raises(AssertionError, match=r"regParam=0\.2"):
        assert_same_layout(a, b)


def test_simulate_runtime_restores_env_and_conf_after_error(spark: Any) -> None:
    """simulate_runtime leaves no env variable or Spark conf behind, also when the block raises."""
    spark.conf.set(CONF_SPARK_VERSION, "13.3.x-scala2.12")
    os.environ.pop("DATABRICKS_RUNTIME_VERSION", None)
    before_env = {k: os.environ.get(k) for k in ("DATABRICKS_RUNTIME_VERSION", "MLR_PYTHONPATH")}
    try:
        with pytest.raises(RuntimeError, match="boom"):
            with simulate_runtime("10.4 LTS ML", conf={CONF_TRACK: "true"}, spark=spark):
                assert os.environ["DATABRICKS_RUNTIME_VERSION"] == "10.4"
                assert os.environ["MLR_PYTHONPATH"]
                assert spark.conf.get(CONF_TRACK) == "true"
                assert spark.conf.get(CONF_SPARK_VERSION) == "10.4.x-cpu-ml-scala2.12"
                with simulate_runtime("oss", conf={CONF_AUTOLOG: False}, spark=spark):
                    assert "DATABRICKS_RUNTIME_VERSION" not in os.environ
                    assert spark.conf.get(CONF_SPARK_VERSION, None) is None
                    with pytest.warns(FutureWarning, match="provided by legacy-mllib-tracking"):
                        decision = configure(spark)
                    assert decision.mode is Mode.LEGACY  # track from the outer block, autolog off
                assert os.environ["DATABRICKS_RUNTIME_VERSION"] == "10.4"
                assert spark.conf.get(CONF_AUTOLOG, None) is None
                raise RuntimeError("boom")
        after_env = {k: os.environ.get(k) for k in before_env}
        assert after_env == before_env
        assert spark.conf.get(CONF_TRACK, None) is None
        assert spark.conf.get(CONF_SPARK_VERSION) == "13.3.x-scala2.12"
    finally:
        spark.conf.unset(CONF_SPARK_VERSION)
        reset()


@pytest.mark.databricks_runtime("9.1", "15.4", autolog_options=LEAN)
def test_plugin_upgrade_keeps_layout(
    spark: Any, experiment: str, data: Any, databricks_runtime: Any, tuning_layouts: Any
) -> None:
    """The README's upgrade test: one CrossValidator under 9.1 and 15.4, same contract layout."""
    assert databricks_runtime.mode in (Mode.LEGACY, Mode.AUTOLOG)
    with mlflow.start_run() as run:
        tuner("cv").fit(data)
    tuning_layouts.record(run.info.run_id)
    tuning_layouts.assert_all_same(scope="contract")


def test_cli_tree_and_diff(
    spark: Any, experiment: str, data: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tree` shows the best child first and marked; `diff` exits 0 same, 1 differ, 2 unknown."""
    a, _ = _fit_under(spark, "9.1", tuner("cv"), data)
    b, _ = _fit_under(spark, "15.4", tuner("cv"), data)
    c, _ = _fit_under(spark, "9.1", tuner("tvs"), data)
    capsys.readouterr()
    assert main(["tree", a]) == 0
    out = capsys.readouterr().out
    rows = [
        line
        for line in out.splitlines()
        if line[:4] in ("  * ", "    ") and "tuned params" not in line and "=" in line
    ]
    assert rows and rows[0].startswith("  * "), out
    assert all(len(line) <= 80 for line in out.splitlines())
    assert main(["diff", a, b]) == 0
    assert "same layout" in capsys.readouterr().out
    assert main(["diff", a, c]) == 1
    assert "difference" in capsys.readouterr().out
    assert main(["diff", a, "0" * 32]) == 2
    err = capsys.readouterr().err
    assert "0" * 32 in err and "Traceback" not in err


PLUGIN_TEST = """
import os
import pytest

SEEN = []

@pytest.mark.databricks_runtime("9.1", "15.4", "5.3")
def test_runs_per_runtime(databricks_runtime):
    SEEN.append((os.environ.get("DATABRICKS_RUNTIME_VERSION"), databricks_runtime.mode.value))

def test_environment_restored_after_each():
    assert SEEN == [("9.1", "legacy"), ("15.4", "autolog"), ("5.3", "off")]
    assert "DATABRICKS_RUNTIME_VERSION" not in os.environ
    assert "MLR_PYTHONPATH" not in os.environ
    import legacy_mllib_tracking
    assert not legacy_mllib_tracking.is_configured()
"""

NO_VERSION_TEST = """
import pytest

@pytest.mark.databricks_runtime()
def test_needs_a_version():
    pass
"""


@pytest.mark.slow
def test_plugin_runs_once_per_runtime_and_restores(pytester: pytest.Pytester) -> None:
    """The pytest11 plugin runs a marked test per runtime and restores env and config after each."""
    pytester.makepyfile(test_upgrade_example=PLUGIN_TEST)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABRICKS_RUNTIME_VERSION", "MLR_PYTHONPATH")
    }
    pytester._monkeypatch.setattr(os, "environ", env)  # type: ignore[attr-defined]
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-W", "ignore")
    result.assert_outcomes(passed=4)
    pytester.makepyfile(test_upgrade_example=NO_VERSION_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*needs at least one runtime version*"])


ONE_RUNTIME_TEST = """
import mlflow
import pytest

@pytest.mark.databricks_runtime("9.1", "15.4")
def test_layout(tuning_layouts):
    with mlflow.start_run() as run:
        pass
    tuning_layouts.record(run.info.run_id)
    tuning_layouts.assert_all_same(scope="contract")
"""


def test_plugin_fails_when_only_one_runtime_ran(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """assert_all_same with one runtime selected (-k 15.4) fails saying nothing was compared;
    with both runtimes selected the same test passes."""
    pytester.makepyfile(test_upgrade_example=ONE_RUNTIME_TEST)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABRICKS_RUNTIME_VERSION", "MLR_PYTHONPATH")
        and not k.startswith("MLFLOW_EXPERIMENT")  # mlflow.set_experiment() sets the id in env
    }
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path / 'plugin.db'}"
    pytester._monkeypatch.setattr(os, "environ", env)  # type: ignore[attr-defined]
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-W", "ignore")
    result.assert_outcomes(passed=2)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-q", "-W", "ignore", "-k", "15.4"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*nothing was compared*only runtime '15.4'*"])
