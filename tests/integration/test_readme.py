"""The README's quick start runs as written, so it never rots."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from legacy_mllib_tracking import Decision, inspect_run_layout

from .builders import tuner

README = Path(__file__).resolve().parents[2] / "README.md"


def _quickstart() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- quickstart.*?-->\s*```python\n(.*?)```", text, re.DOTALL)
    assert match, "README lost its quick-start block"
    return match.group(1)


def test_readme_quickstart_runs(spark: Any, experiment: str, data: Any) -> None:
    """The quick-start block configures, fits and leaves one parent run with its children."""
    code = _quickstart()
    assert len(code.strip().splitlines()) == 3
    namespace: dict[str, Any] = {"spark": spark, "cv": tuner("cv"), "train": data}
    exec(compile(code, str(README), "exec"), namespace)
    assert isinstance(namespace["decision"], Decision)
    parents = MlflowClient().search_runs(
        [experiment], filter_string="tags.`legacy_mllib_tracking.mode` != ''"
    )
    assert len(parents) == 1
    assert len(inspect_run_layout(parents[0].info.run_id).children) == 4
    # Not on Databricks the quick start routes to AUTOLOG, and autolog's own artifacts are kept.
    assert namespace["decision"].mode.value == "autolog"
    artifacts = {a.path for a in MlflowClient().list_artifacts(parents[0].info.run_id)}
    assert "estimator_info.json" in artifacts, artifacts


def _upgrade_example() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- upgrade-example.*?-->\s*```python\n(.*?)```", text, re.DOTALL)
    assert match, "README lost its upgrade example"
    return match.group(1)


@pytest.mark.slow
def test_readme_upgrade_example_passes_and_catches_a_break(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's upgrade test passes as written, and fails when 15.4 logs another grid."""
    # mlflow 3.17's set_experiment exports MLFLOW_EXPERIMENT_ID; a fresh user shell has none.
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    code = _upgrade_example()
    broken = code.replace(
        "grid = ParamGridBuilder().addGrid(lr.regParam, [0.01, 0.1]).build()",
        "grid = ParamGridBuilder().addGrid(lr.regParam, [0.01, 0.1]).build()\n"
        "    if tuning_layouts.runtime == '15.4':\n"
        "        grid = ParamGridBuilder().addGrid(lr.regParam, [0.01, 0.2]).build()",
    )
    assert broken != code
    # One pytest session (one Spark JVM) runs both: the file as written and the broken copy.
    pytester.makepyfile(test_upgrade=code, test_upgrade_broken=broken)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-W", "ignore", "-rA")
    result.assert_outcomes(passed=3, failed=1)
    for line in (
        "PASSED test_upgrade.py::test_upgrade_keeps_the_run_layout[[]*9.1[]]",
        "PASSED test_upgrade.py::test_upgrade_keeps_the_run_layout[[]*15.4[]]",
        "PASSED test_upgrade_broken.py::test_upgrade_keeps_the_run_layout[[]*9.1[]]",
        "FAILED test_upgrade_broken.py::test_upgrade_keeps_the_run_layout[[]*15.4[]]*",
        "*9.1 vs 15.4: child {regParam=0.1}: only in A*",
    ):
        result.stdout.fnmatch_lines([line])
