"""Names MLflow rejects are mapped deterministically, never dropped (docs/failures.md)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mlflow.exceptions import MlflowException
from mlflow.utils.validation import _validate_metric_name, _validate_param_name

from legacy_mllib_tracking._limits import MAX_ENTITY_KEY_LENGTH, safe_key


@pytest.mark.parametrize(
    "key", ["avg_f1", "maxDepth", "best_avg_weightedPrecision", "a/b", "ok:colon", "x y", "é-ü"]
)
def test_accepted_names_are_kept(key: str) -> None:
    assert safe_key(key) == (key, None)


@pytest.mark.parametrize("key", ["F1 (macro)", "a/../b", "/abs", "..", "", "a//b", "tr/", "a|b"])
def test_rejected_names_are_mapped_and_explained(key: str) -> None:
    with pytest.raises(MlflowException):
        _validate_param_name(key)
    name, why = safe_key(key)
    _validate_param_name(name)
    _validate_metric_name(name)
    assert why is not None and repr(key[:40]) in why and name[:20] in why


def test_mapping_keeps_distinct_names_distinct() -> None:
    assert safe_key("F1 (macro)")[0] != safe_key("F1 [macro]")[0]
    assert safe_key("F1 (macro)")[0].startswith("F1 _macro_")


@given(st.text(max_size=300))
def test_any_name_maps_to_one_mlflow_accepts_and_always_the_same(key: str) -> None:
    name, why = safe_key(key)
    _validate_param_name(name)
    _validate_metric_name(name)
    assert len(name) <= MAX_ENTITY_KEY_LENGTH
    assert safe_key(key) == (name, why)
    assert (why is None) == (name == key)
