"""Supported versions: the configure() check, the declared bounds, the README table, the guard."""

from __future__ import annotations

import importlib.metadata
import re
import sys
import types
from collections.abc import Callable
from multiprocessing.pool import ThreadPool
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

from legacy_mllib_tracking import (
    LegacyTrackingError,
    UnsupportedVersion,
    _compat,
    _compat_tuning,
    configure,
    is_configured,
)

ROOT = Path(__file__).resolve().parents[2]

VERSIONS = [
    pytest.param("pyspark", "2.4.8", False, id="pyspark-2.4"),
    pytest.param("pyspark", "3.3.4", False, id="pyspark-3.3-dbr-12.2"),
    pytest.param("pyspark", "3.4.0", True, id="pyspark-3.4-oldest"),
    pytest.param("pyspark", "3.4.0.dev0", True, id="pyspark-3.4-dev-build"),
    pytest.param("pyspark", "3.4.1", True, id="pyspark-3.4-dbr-13.3"),
    pytest.param("pyspark", "3.5.0", True, id="pyspark-3.5-dbr-15.4"),
    pytest.param("pyspark", "3.10.0", True, id="pyspark-numeric-not-string-order"),
    pytest.param("pyspark", "4.3.0", True, id="pyspark-4.3-newest-tested"),
    pytest.param("pyspark", "5.0.0", True, id="pyspark-newer-than-tested"),
    pytest.param("pyspark", "3.3.2+databricks", False, id="pyspark-local-version-label"),
    pytest.param("pyspark", "3.5.0+databricks", True, id="pyspark-3.5-local-version-label"),
    pytest.param("pyspark", "custom-build", True, id="pyspark-unreadable-let-through"),
    pytest.param("pyspark", "3.3.0-SNAPSHOT", True, id="pyspark-not-pep440-let-through"),
    pytest.param("mlflow", "1.30.1", False, id="mlflow-1.x"),
    pytest.param("mlflow", "2.5.0", False, id="mlflow-2.5-dbr-13.3-ml"),
    pytest.param("mlflow", "2.8.1", False, id="mlflow-2.8"),
    pytest.param("mlflow", "2.9.0rc0", True, id="mlflow-2.9-release-candidate"),
    pytest.param("mlflow", "2.9.0", True, id="mlflow-2.9-oldest"),
    pytest.param("mlflow", "2.9.2", True, id="mlflow-2.9-dbr-14.3-ml"),
    pytest.param("mlflow", "2.17.2", True, id="mlflow-2.17-oldest-tested"),
    pytest.param("mlflow", "3.17.2", True, id="mlflow-3.17-newest-tested"),
    pytest.param("mlflow", "10.0", True, id="mlflow-two-digit-major"),
]


@pytest.mark.parametrize(("package", "version", "supported"), VERSIONS)
def test_supported_range(package: str, version: str, supported: bool) -> None:
    """pyspark >= 3.4 and mlflow >= 2.9 pass; older releases get a message naming the range."""
    message = _compat.unsupported_version_message(package, version)
    assert (message is None) is supported, message
    if not supported:
        floor = ".".join(map(str, _compat.MIN_VERSIONS[package]))
        assert message is not None
        assert f"{package} {version} is installed" in message
        assert f"{package} >= {floor}" in message


@pytest.mark.parametrize(("package", "version", "supported"), VERSIONS)
def test_check_versions_raises_unsupported_version(
    package: str, version: str, supported: bool
) -> None:
    """check_versions() raises UnsupportedVersion, an ImportError named after the package."""
    installed = {"pyspark": "4.3.0", "mlflow": "3.17.2", package: version}
    if supported:
        _compat.check_versions(installed)
        return
    with pytest.raises(UnsupportedVersion) as caught:
        _compat.check_versions(installed)
    assert isinstance(caught.value, LegacyTrackingError)
    assert isinstance(caught.value, ImportError)
    assert caught.value.name == package
    assert f"{package} {version}" in str(caught.value)


def test_a_missing_package_is_not_a_version_error() -> None:
    """pyspark is an optional peer: its absence is not reported as an unsupported version."""
    _compat.check_versions({"pyspark": None, "mlflow": "2.9.0"})


def test_configure_rejects_an_old_mlflow_before_changing_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """configure() raises at once, naming package, version, where it came from and the range."""
    found = {"pyspark": ("3.5.0", None), "mlflow": ("2.8.1", "/opt/old-env/mlflow")}
    monkeypatch.setattr(_compat, "installed_version", found.get)
    with pytest.raises(
        UnsupportedVersion,
        match=r"needs mlflow >= 2\.9, but mlflow 2\.8\.1 is installed \(imported from "
        r"/opt/old-env/mlflow\)",
    ):
        configure(None, mode="off")
    assert not is_configured()


def test_the_imported_module_counts_not_pip_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pyspark on sys.path without pip metadata (a Databricks runtime's) is read and checked."""
    module = types.ModuleType("pyspark")
    module.__version__ = "3.3.2"  # type: ignore[attr-defined]
    module.__file__ = "/databricks/spark/python/pyspark/__init__.py"
    monkeypatch.setitem(sys.modules, "pyspark", module)
    assert _compat.installed_version("pyspark") == ("3.3.2", "/databricks/spark/python/pyspark")
    with pytest.raises(UnsupportedVersion, match=r"/databricks/spark/python/pyspark"):
        _compat.check_versions()


def _lower_bounds(requirements: list[str]) -> dict[str, set[str]]:
    bounds: dict[str, set[str]] = {}
    for text in requirements:
        requirement = Requirement(text)
        for spec in requirement.specifier:
            if spec.operator == ">=":
                bounds.setdefault(requirement.name, set()).add(spec.version)
    return bounds


def test_declared_bounds_match_the_check() -> None:
    """pyproject.toml declares the same lower bounds that configure() enforces."""
    bounds = _lower_bounds(importlib.metadata.requires("legacy-mllib-tracking") or [])
    for package, minimum in _compat.MIN_VERSIONS.items():
        assert bounds.get(package) == {".".join(map(str, minimum))}, (package, bounds)


def _pins(name: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / "ci" / name).read_text(encoding="utf-8").splitlines():
        package, sep, version = line.partition("==")
        if sep and not line.startswith("#"):
            pins[package.strip().lower()] = version.strip()
    return pins


def _readme_table() -> dict[str, list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Supported versions\n(.*?)(?=^## )", text, re.DOTALL | re.MULTILINE)
    assert section, "README lost its 'Supported versions' section"
    rows = {}
    for line in section.group(1).splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] and not cells[0].startswith("---"):
            rows[cells[0].split()[0].lower()] = cells[1:]
    return rows


def test_readme_supported_versions_match_ci() -> None:
    """The README's table names the pins CI tests (newest, oldest) and the declared bounds."""
    rows = _readme_table()
    newest, oldest = _pins("constraints.txt"), _pins("constraints-old.txt")
    for package, minimum in _compat.MIN_VERSIONS.items():
        assert rows[package][:3] == [
            newest[package],
            oldest[package],
            ">= " + ".".join(map(str, minimum)),
        ], rows[package]
    requires_python = importlib.metadata.metadata("legacy-mllib-tracking")["Requires-Python"]
    assert rows["python"][2].replace(" ", "") == requires_python.replace(" ", "")


def test_guard_stops_a_round_after_its_first_failure() -> None:
    """Run as pyspark runs them (one worker, imap_unordered): no task starts after a failure."""
    ran: list[int] = []

    def task(index: int, fail: bool = False) -> Callable[[], int]:
        def run() -> int:
            ran.append(index)
            if fail:
                raise RuntimeError(f"map {index} failed")
            return index

        return run

    pool = ThreadPool(1)
    try:
        tasks = _compat_tuning.guard_tasks([task(0), task(1, fail=True), task(2), task(3)])
        with pytest.raises(RuntimeError, match="map 1 failed"):
            for _ in pool.imap_unordered(lambda f: f(), tasks):
                pass
    finally:
        pool.close()
        pool.join()  # what pyspark never does: wait for the tasks still queued
    assert ran == [0, 1]


def test_guard_counts_any_exception_and_is_per_round() -> None:
    """A KeyboardInterrupt also stops the round; another round's tasks are not affected."""
    ran: list[str] = []

    def interrupt() -> Any:
        raise KeyboardInterrupt

    first = _compat_tuning.guard_tasks([interrupt, lambda: ran.append("first")])
    second = _compat_tuning.guard_tasks([lambda: ran.append("second")])
    with pytest.raises(KeyboardInterrupt):
        first[0]()
    with pytest.raises(_compat_tuning.AbandonedParamMap):
        first[1]()
    second[0]()
    assert ran == ["second"]
