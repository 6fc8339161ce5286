"""The rewrites of autolog's client calls (``_autolog_client``) on a plain stand-in client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from legacy_mllib_tracking import _autolog_client
from legacy_mllib_tracking._autolog_client import Fix
from legacy_mllib_tracking._patching import PatchSet
from legacy_mllib_tracking._writer import FitContext
from legacy_mllib_tracking.keys import TAG_MODE

FIT_ID = "0123456789abcdef0123456789abcdef"


class Client:
    """Records its calls; the two artifact methods have ``MlflowClient``'s signatures."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def log_dict(self, run_id: str, dictionary: dict[str, Any], artifact_file: str) -> None:
        self.calls.append(("log_dict", run_id, artifact_file))

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> None:
        path = Path(local_path)
        self.calls.append(("log_artifact", run_id, f"{path.name}={path.read_text()}"))


def _context(*, repeated: bool) -> FitContext:
    taken = frozenset({TAG_MODE}) if repeated else frozenset()
    return FitContext(None, "parent", "0", "autolog", fit_id=FIT_ID, taken_tags=taken)


@pytest.fixture
def client() -> Iterator[Client]:
    """The stand-in with both artifact rewrites installed (undone after the test)."""
    patches = PatchSet()
    _autolog_client._patch(patches, Client, "log_dict", _autolog_client._log_dict)
    _autolog_client._patch(patches, Client, "log_artifact", _autolog_client._log_artifact)
    try:
        yield Client()
    finally:
        patches.undo()
        _autolog_client._parents.clear()


def _fitting(ctx: FitContext) -> None:
    _autolog_client._parents[ctx.parent_run_id] = Fix(ctx, [], [])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("estimator_info.json", f"estimator_info_{FIT_ID}.json", id="extension"),
        pytest.param("search.results.csv", f"search.results_{FIT_ID}.csv", id="last-dot"),
        pytest.param("metrics", f"metrics_{FIT_ID}", id="no-extension"),
    ],
)
def test_suffixed_puts_the_fit_id_before_the_extension(name: str, expected: str) -> None:
    """A repeated fit's artifact name gets ``_<fit_id>`` before its last extension."""
    assert _autolog_client._suffixed(_context(repeated=True), name) == expected


def test_repeated_fit_renames_both_kinds_of_artifact_on_its_parent(
    client: Client, tmp_path: Path
) -> None:
    """log_dict and log_artifact on a repeated fit's parent write suffixed names, same content."""
    _fitting(_context(repeated=True))
    local = tmp_path / "search_results.csv"
    local.write_text("a,b")
    client.log_dict("parent", {}, "estimator_info.json")
    client.log_artifact("parent", str(local))
    assert client.calls == [
        ("log_dict", "parent", f"estimator_info_{FIT_ID}.json"),
        ("log_artifact", "parent", f"search_results_{FIT_ID}.csv=a,b"),
    ]
    assert local.read_text() == "a,b"


def test_first_fit_other_runs_and_no_fit_pass_through(client: Client, tmp_path: Path) -> None:
    """A first fit's parent, another run, and calls outside any fit keep their names."""
    local = tmp_path / "best_parameters.json"
    local.write_text("{}")
    client.log_dict("parent", {}, "estimator_info.json")  # no fit in progress
    _fitting(_context(repeated=False))
    client.log_dict("parent", {}, "estimator_info.json")
    client.log_artifact("parent", str(local))
    _fitting(_context(repeated=True))
    client.log_dict("other", {}, "estimator_info.json")
    client.log_artifact("other", str(local))
    assert [call[2] for call in client.calls] == [
        "estimator_info.json",
        "estimator_info.json",
        "best_parameters.json={}",
        "estimator_info.json",
        "best_parameters.json={}",
    ]
