"""Layout normalisation and diffs on hand-built layouts (no Spark, no MLflow store)."""

from __future__ import annotations

import json
import os

import pytest

from legacy_mllib_tracking import (
    RunLayout,
    RunView,
    assert_same_layout,
    diff_layouts,
    normalize_layout,
    simulate_runtime,
)
from legacy_mllib_tracking.keys import TAG_FIT_ID, TAG_MODE, TAG_TUNED_PARAMS

UUID = "0123456789abcdef0123456789abcdef"


def _run(run_id: str, params: dict[str, str], metrics: dict[str, float], **tags: str) -> RunView:
    return RunView(run_id, f"name-{run_id}", "FINISHED", params, metrics, tags, 0, 1)


def _layout(mode: str, *, extra: bool = False, depth: str = "5", suffix: bool = False) -> RunLayout:
    parent_params = {
        "numFolds": "3",
        "seed": "1",
        "estimator": "DecisionTreeClassifier",
        "evaluator": "MulticlassClassificationEvaluator",
        "metricName": "f1",
    }
    if suffix:
        parent_params.update({f"{k}_{UUID}": v for k, v in list(parent_params.items())})
    if extra:
        parent_params.update({"foldCol": "", "MulticlassClassificationEvaluator.beta": "1.0"})
    children = []
    for i, (d, bins) in enumerate([(depth, "8"), ("3", "8")]):
        params = {"maxDepth": d, "maxBins": bins}
        if extra:
            params["DecisionTreeClassifier.maxDepth"] = d
        children.append(
            _run(
                f"c{mode}{i}",
                params,
                {"avg_f1": 0.5 + i / 10, "std_f1": 0.01},
                **{TAG_TUNED_PARAMS: json.dumps(["maxBins", "maxDepth"]), TAG_FIT_ID: "f"},
            )
        )
    parent = _run(
        f"p{mode}",
        parent_params,
        {"best_avg_f1": 0.6},
        **{TAG_MODE: mode, "estimator_name": "CrossValidator"},
    )
    return RunLayout(parent, tuple(children))


def test_contract_ignores_autologs_extras_and_volatile_values() -> None:
    """Extra autolog params, an unset foldCol, run ids, names and the mode tag are no difference."""
    assert diff_layouts(_layout("legacy"), _layout("autolog", extra=True)) == []


def test_full_scope_names_the_extras() -> None:
    """The full scope reports params only one side has."""
    full = diff_layouts(_layout("legacy"), _layout("autolog", extra=True), scope="full")
    assert "parent params: 'MulticlassClassificationEvaluator.beta' only in B" in full


def test_different_grid_names_the_children() -> None:
    """A child keyed by other tuned values shows up as only in A / only in B."""
    diff = diff_layouts(_layout("legacy"), _layout("legacy", depth="7"))
    assert "child {maxBins=8,maxDepth=5}: only in A" in diff
    assert "child {maxBins=8,maxDepth=7}: only in B" in diff
    with pytest.raises(AssertionError, match="maxDepth=7"):
        assert_same_layout(_layout("legacy"), _layout("legacy", depth="7"))


def test_uuid_suffixes_are_normalised() -> None:
    """Names suffixed by a repeated fit compare equal whatever the uuid."""
    a = normalize_layout(_layout("legacy", suffix=True))
    assert "numFolds_<uuid>" in a.params
    assert diff_layouts(a, _layout("legacy", suffix=True)) == []


def test_metric_values_compared_only_with_a_tolerance() -> None:
    """Metric values matter only when metric_tolerance is given."""
    a, b = _layout("legacy"), _layout("legacy")
    b = RunLayout(
        b.parent.__class__(**{**b.parent.__dict__, "metrics": {"best_avg_f1": 0.7}}), b.children
    )
    assert diff_layouts(a, b) == []
    assert diff_layouts(a, b, metric_tolerance=0.05) == [
        "parent metrics: 'best_avg_f1' is 0.6 in A, 0.7 in B"
    ]
    assert diff_layouts(a, b, metric_tolerance=0.2) == []


@pytest.mark.parametrize("tolerance", [-1.0, float("nan"), float("inf"), "0.1", True])
def test_metric_tolerance_must_be_a_finite_number_not_below_zero(tolerance: object) -> None:
    """A negative, NaN, infinite or non-number tolerance is a ValueError quoting it."""
    with pytest.raises(ValueError, match="finite number >= 0") as info:
        diff_layouts(_layout("a"), _layout("a"), metric_tolerance=tolerance)  # type: ignore[arg-type]
    assert repr(tolerance) in str(info.value)


def test_bad_scope_is_rejected() -> None:
    """scope must be 'contract' or 'full'."""
    with pytest.raises(ValueError, match="'everything'"):
        diff_layouts(_layout("a"), _layout("b"), scope="everything")  # type: ignore[arg-type]


def test_simulate_runtime_env_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a SparkSession, simulate_runtime sets and restores the environment only."""
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "7.3")
    monkeypatch.delenv("MLR_PYTHONPATH", raising=False)
    with simulate_runtime("10.4 LTS ML", spark=None):
        assert os.environ["DATABRICKS_RUNTIME_VERSION"] == "10.4"
        assert os.environ["MLR_PYTHONPATH"]
        with simulate_runtime("oss", spark=None):
            assert "DATABRICKS_RUNTIME_VERSION" not in os.environ
        assert os.environ["DATABRICKS_RUNTIME_VERSION"] == "10.4"
    assert os.environ["DATABRICKS_RUNTIME_VERSION"] == "7.3"
    assert "MLR_PYTHONPATH" not in os.environ


def test_simulate_runtime_rejects_what_it_cannot_do(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad version, conf without a session, or a standard runtime without a session are errors."""
    from legacy_mllib_tracking import InvalidRuntimeVersion, simulate

    # No SparkSession at all, even when an integration test left one active in this process.
    monkeypatch.setattr(simulate, "_session", lambda spark: None)

    with pytest.raises(InvalidRuntimeVersion, match="'ten'"), simulate_runtime("ten", spark=None):
        pass
    with pytest.raises(ValueError, match="needs a SparkSession"):
        with simulate_runtime("9.1", conf={"k": "v"}, spark=None):
            pass
    with pytest.raises(ValueError, match="standard runtime"):
        with simulate_runtime("13.3.x-scala2.12", spark=None):
            pass


def _with(
    layout: RunLayout,
    *,
    parent_params: dict[str, str] | None = None,
    tuned: list[str] | None = None,
) -> RunLayout:
    """``layout`` with extra parent params and/or the children's tuned_params tag replaced."""
    parent = layout.parent
    if parent_params:
        parent = RunView(**{**parent.__dict__, "params": {**parent.params, **parent_params}})
    children = layout.children
    if tuned is not None:
        children = tuple(
            RunView(**{**c.__dict__, "tags": {**c.tags, TAG_TUNED_PARAMS: json.dumps(tuned)}})
            for c in children
        )
    return RunLayout(parent, children)


def test_contract_compares_the_winning_values_on_the_parent() -> None:
    """best_<tuned param> is in the contract scope (name and value, also suffixed); autolog's
    best_<Stage.param> is not."""
    winner = {"best_maxDepth": "5", "best_maxBins": "8"}
    a = _with(_layout("legacy"), parent_params=winner)
    b = _with(
        _layout("autolog", extra=True),
        parent_params={**winner, "best_DecisionTreeClassifier.maxDepth": "5"},
    )
    assert diff_layouts(a, b) == []
    assert diff_layouts(a, _layout("legacy")) == [
        "parent params: 'best_maxBins' only in A",
        "parent params: 'best_maxDepth' only in A",
    ]
    other = _with(_layout("legacy"), parent_params={**winner, "best_maxDepth": "3"})
    assert diff_layouts(a, other) == ["parent params: 'best_maxDepth' is '5' in A, '3' in B"]
    second = _with(a, parent_params={f"best_maxDepth_{UUID}": "3"})
    assert diff_layouts(second, a) == ["parent params: 'best_maxDepth_<uuid>' only in A"]


def test_children_match_in_any_order_and_are_named_in_the_grids_order() -> None:
    """Children match whatever order their tuned params are listed in (an earlier version's
    sorted tag against the grid's order), and a difference names them in the grid's order."""
    grid = ["maxDepth", "maxBins"]
    assert diff_layouts(_with(_layout("legacy"), tuned=grid), _layout("autolog")) == []
    diff = diff_layouts(_with(_layout("legacy"), tuned=grid), _layout("legacy", depth="7"))
    assert "child {maxDepth=5,maxBins=8}: only in A" in diff
    assert normalize_layout(_with(_layout("legacy"), tuned=grid)).children[0].key == (
        ("maxDepth", "3"),
        ("maxBins", "8"),
    )
