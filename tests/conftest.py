"""Shared pytest configuration: every test starts and ends with the library unconfigured."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import legacy_mllib_tracking

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _reset_library() -> Iterator[None]:
    """Reset the library after each test, so no patch or autolog state leaks into the next."""
    yield
    legacy_mllib_tracking.reset()
