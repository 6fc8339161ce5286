"""The rewrites of autolog's client calls (``_autolog_client``) on a plain stand-in client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from legacy_mllib_tracking import _autolog_client
from legacy_mllib_tracking._autolog_client import Fix
from legacy_mllib_tracking._patching import PatchSet
from legacy_mllib_tracking._writer import FitContext
from legacy_mllib_tracking.keys import TAG_MODE

FIT_ID = "0123456789abcdef0123456789abcdef"


class Client:
    """Records its calls; the artifact methods have ``MlflowClient``'s signatures."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        #: The parent's artifact paths; ``None``: listing them fails.
        self.on_parent: list[str] | None = ["estimator_info.json", "search_results.csv"]
        self.listed = 0

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[Any]:
        self.listed += 1
        if self.on_parent is None:
            raise ConnectionError("store down")
        return [SimpleNamespace(path=p) for p in self.on_parent if run_id == "parent"]

    def log_dict(self, run_id: str, dictionary: dict[str, Any], artifact_file: str) -> None:
        self.calls.append(("log_dict", run_id, artifact_file))

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> None:
        path = Path(local_path)
        self.calls.append(("log_artifact", run_id, f"{path.name}={path.read_text()}"))


def _context(client: Client | None = None, *, repeated: bool) -> FitContext:
    taken = frozenset({TAG_MODE}) if repeated else frozenset()
    return FitContext(client, "parent", "0", "autolog", fit_id=FIT_ID, taken_tags=taken)


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
    """log_dict and log_artifact of names the parent has write suffixed names, same content."""
    _fitting(_context(client, repeated=True))
    local = tmp_path / "search_results.csv"
    local.write_text("a,b")
    client.log_dict("parent", {}, "estimator_info.json")
    client.log_artifact("parent", str(local))
    assert client.calls == [
        ("log_dict", "parent", f"estimator_info_{FIT_ID}.json"),
        ("log_artifact", "parent", f"search_results_{FIT_ID}.csv=a,b"),
    ]
    assert local.read_text() == "a,b"
    assert client.listed == 1  # once per fit and folder


def test_repeated_fit_keeps_names_the_parent_does_not_have(client: Client, tmp_path: Path) -> None:
    """An earlier fit that left no file of that name (a plain estimator's): the name stays."""
    client.on_parent = ["estimator_info.json"]
    _fitting(_context(client, repeated=True))
    local = tmp_path / "search_results.csv"
    local.write_text("a,b")
    client.log_artifact("parent", str(local))
    client.log_dict("parent", {}, "best_parameters.json")
    assert [call[2] for call in client.calls] == ["search_results.csv=a,b", "best_parameters.json"]


def test_unlistable_parent_counts_every_name_as_taken(client: Client) -> None:
    """When the parent's artifacts cannot be listed, a repeated fit suffixes (never overwrites)."""
    client.on_parent = None
    _fitting(_context(client, repeated=True))
    client.log_dict("parent", {}, "best_parameters.json")
    assert client.calls == [("log_dict", "parent", f"best_parameters_{FIT_ID}.json")]


def test_first_fit_other_runs_and_no_fit_pass_through(client: Client, tmp_path: Path) -> None:
    """A first fit's parent, another run, and calls outside any fit keep their names."""
    local = tmp_path / "best_parameters.json"
    local.write_text("{}")
    client.log_dict("parent", {}, "estimator_info.json")  # no fit in progress
    _fitting(_context(client, repeated=False))
    client.log_dict("parent", {}, "estimator_info.json")
    client.log_artifact("parent", str(local))
    _fitting(_context(client, repeated=True))
    client.log_dict("other", {}, "estimator_info.json")
    client.log_artifact("other", str(local))
    assert [call[2] for call in client.calls] == [
        "estimator_info.json",
        "estimator_info.json",
        "best_parameters.json={}",
        "estimator_info.json",
        "best_parameters.json={}",
    ]
    assert client.listed == 0  # a first fit never lists the parent's artifacts


@pytest.mark.parametrize("name", ["mlflow.pyspark.ml", "mlflow.utils.autologging_utils"])
def test_autologs_warnings_about_a_stopped_fit_are_dropped_or_passed_on_as_debug(
    name: str,
) -> None:
    """A warning autolog logs while this context's fit budget is stopped is dropped (the fit's
    TrackingWarning covers it), or passed as DEBUG where the logger is enabled for DEBUG;
    before the stop, outside a fit, and at any other level, records pass unchanged."""
    import logging

    from legacy_mllib_tracking._autolog import _quiet_stopped_fits
    from legacy_mllib_tracking._compat_http import http_budget

    seen: list[tuple[int, str]] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append((record.levelno, record.getMessage()))

    logger = logging.getLogger(name)
    handler, level = Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    _quiet_stopped_fits()
    _quiet_stopped_fits()  # idempotent: one filter
    try:
        logger.warning("outside a fit")
        with http_budget(5.0) as budget:
            assert budget is not None
            logger.warning("before the stop")
            budget.stop("the server did not answer")
            logger.warning("after the stop")
            logger.error("an error after the stop")
            logger.info("info after the stop")
            logger.setLevel(logging.DEBUG)
            logger.warning("after the stop, DEBUG on")
        logger.warning("after the fit")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert seen == [
        (logging.WARNING, "outside a fit"),
        (logging.WARNING, "before the stop"),
        (logging.ERROR, "an error after the stop"),  # autolog's failed calls are warnings
        (logging.INFO, "info after the stop"),
        (logging.DEBUG, "after the stop, DEBUG on"),
        (logging.WARNING, "after the fit"),
    ]
    assert sum(type(f).__name__ == "_StoppedFitLogs" for f in logger.filters) == 1
