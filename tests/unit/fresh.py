"""Run Python in a fresh interpreter, for what only a new process shows (imports, ``-m``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_python(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python *args`` with this interpreter in ``cwd``; return its exit code and output."""
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=cwd, timeout=60, check=False
    )
