"""Shared pytest configuration: every test starts and ends with the library unconfigured."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

import legacy_mllib_tracking

pytest_plugins = ["pytester"]

# Spark starts its Python workers with `python3` from PATH unless told otherwise; in a venv of
# another Python minor (the old combination's 3.10 next to a 3.11 on PATH) pyspark refuses them
# with PYTHON_VERSION_MISMATCH. Every Spark the tests start (and pytester's) inherits this.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


@pytest.fixture(autouse=True)
def _reset_library() -> Iterator[None]:
    """Reset the library after each test, so no patch or autolog state leaks into the next."""
    yield
    legacy_mllib_tracking.reset()
