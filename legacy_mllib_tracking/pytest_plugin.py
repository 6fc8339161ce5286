"""pytest plugin (entry point ``pytest11``): prove a runtime upgrade keeps the run layout.

- Marker ``@pytest.mark.databricks_runtime("9.1", "15.4", autolog_options={...})`` runs the test
  once per runtime, inside :func:`~legacy_mllib_tracking.simulate.simulate_runtime`, with
  ``configure()`` applied before the test and ``reset()`` after. The session comes from a fixture
  named ``spark`` when the test uses one, else the active session, else none (env only).
- Fixture ``databricks_runtime``: the :class:`~legacy_mllib_tracking.Decision` in force.
- Fixture ``tuning_layouts``: record the layout each runtime produced and compare them; records
  are kept per test function for the whole session, so the last runtime compares with all the
  earlier ones::

      @pytest.mark.databricks_runtime("9.1", "15.4")
      def test_upgrade_keeps_layout(spark, train, tuning_layouts):
          with mlflow.start_run() as run:
              make_cross_validator().fit(train)
          tuning_layouts.record(run.info.run_id)
          tuning_layouts.assert_all_same(scope="contract")
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

MARKER = "databricks_runtime"

_STORE_KEY = pytest.StashKey[dict[str, list[tuple[str, Any]]]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*versions, autolog_options=None, conf=None): run the test once per Databricks "
        "runtime version, with legacy_mllib_tracking.configure() applied under that simulated "
        "runtime and reset() after (legacy-mllib-tracking)",
    )
    config.stash[_STORE_KEY] = {}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None:
        return
    versions = [str(v) for v in marker.args]
    if not versions:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: @pytest.mark.{MARKER}() needs at least one runtime "
            "version, e.g. @pytest.mark.databricks_runtime('9.1', '15.4')"
        )
    metafunc.fixturenames.append("_legacy_mllib_runtime_version")
    metafunc.parametrize(
        "_legacy_mllib_runtime_version",
        versions,
        ids=[f"dbr-{v}" for v in versions],
        scope="function",
    )


@pytest.fixture
def _legacy_mllib_runtime_version() -> str:  # replaced by pytest_generate_tests' parameters
    raise pytest.UsageError(f"use @pytest.mark.{MARKER}(...) to choose runtime versions")


def _spark_for(request: pytest.FixtureRequest) -> Any:
    if "spark" in request.fixturenames:
        return request.getfixturevalue("spark")
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    return SparkSession.getActiveSession()


@pytest.fixture(autouse=True)
def _legacy_mllib_runtime(request: pytest.FixtureRequest) -> Iterator[Any]:
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        yield None
        return
    from legacy_mllib_tracking import configure, reset
    from legacy_mllib_tracking.simulate import simulate_runtime

    version = request.getfixturevalue("_legacy_mllib_runtime_version")
    spark = _spark_for(request)
    conf = marker.kwargs.get("conf")
    with simulate_runtime(version, conf=conf, spark=spark):
        decision = configure(spark, autolog_options=marker.kwargs.get("autolog_options"))
        try:
            yield decision
        finally:
            reset()


@pytest.fixture
def databricks_runtime(_legacy_mllib_runtime: Any) -> Any:
    """The Decision that ``configure()`` made for this test's simulated runtime."""
    if _legacy_mllib_runtime is None:
        raise pytest.UsageError(f"the databricks_runtime fixture needs @pytest.mark.{MARKER}(...)")
    return _legacy_mllib_runtime


@dataclass
class TuningLayouts:
    """The layouts recorded by one test function, across its runtime parameters."""

    test: str
    runtime: str | None
    records: list[tuple[str, Any]] = field(default_factory=list)
    #: How many runs of this test function (one per runtime) the session still runs after this.
    later: int = 0

    def record(self, run_id: str) -> Any:
        """Read the tree under ``run_id`` and record it for this runtime; return the layout."""
        from legacy_mllib_tracking.layout import inspect_run_layout

        layout = inspect_run_layout(run_id)
        self.records.append((self.runtime or "default", layout))
        return layout

    def assert_all_same(self, **options: Any) -> None:
        """Assert every recorded layout matches the first one (options of ``diff_layouts``).

        Called in the run of the first runtime it compares nothing yet and passes when runs of
        other runtimes of this test are still to come; it fails when fewer than two layouts
        could ever be compared (one runtime selected, e.g. with ``-k``).
        """
        from legacy_mllib_tracking.layout import diff_layouts

        if not self.records:
            raise AssertionError(f"{self.test}: no layout recorded; call record(run_id) first")
        if len(self.records) < 2:
            if self.later:
                return  # the runs of the later runtimes compare with this layout
            raise AssertionError(
                f"{self.test}: nothing was compared: only runtime {self.records[0][0]!r} recorded "
                "a layout, and assert_all_same needs layouts from at least two runtimes (were "
                "the others deselected, e.g. with -k?)"
            )
        first_runtime, first = self.records[0]
        problems = []
        for runtime, layout in self.records[1:]:
            for line in diff_layouts(first, layout, **options):
                problems.append(f"{first_runtime} vs {runtime}: {line}")
        if problems:
            raise AssertionError(
                f"run layouts differ across runtimes ({len(problems)}):\n  " + "\n  ".join(problems)
            )


@pytest.fixture
def tuning_layouts(request: pytest.FixtureRequest) -> TuningLayouts:
    """Record and compare the run layouts a test produced under each simulated runtime."""
    store = request.config.stash[_STORE_KEY]
    test = request.node.originalname if hasattr(request.node, "originalname") else request.node.name
    key = f"{request.node.path}::{test}"
    runtime = None
    if request.node.get_closest_marker(MARKER) is not None:
        runtime = request.getfixturevalue("_legacy_mllib_runtime_version")
    records = store.setdefault(key, [])
    items = request.session.items
    position = items.index(request.node) if request.node in items else len(items)
    later = sum(
        1
        for item in items[position + 1 :]
        if f"{item.path}::{getattr(item, 'originalname', item.name)}" == key
    )
    return TuningLayouts(test=key, runtime=runtime, records=records, later=later)
