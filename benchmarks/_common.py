"""What every benchmark part shares: interleaved repetitions, summaries, the machine's facts.

Timings use ``time.perf_counter``. A *case* is one variant of one measurement (``cv/legacy``,
``sqlite/floor/100``); :func:`interleave` runs all cases of a part once per round, in the same
order every round (A B C D A B C D ...), so noise from other processes on the machine hits every
case alike, and drops the warm-up rounds.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Case:
    """One variant to measure: ``run()`` does its own setup and returns its timings (seconds).

    The returned dict has at least ``"wall"``; a part may add more (``"inner"``: time spent in
    Spark's own ``_fit``).
    """

    name: str
    run: Callable[[], Mapping[str, float]]
    group: str = ""


@dataclass
class Series:
    """The measured repetitions of one case (warm-up excluded)."""

    name: str
    group: str = ""
    samples: list[dict[str, float]] = field(default_factory=list)

    def values(self, key: str = "wall") -> list[float]:
        return [s[key] for s in self.samples if key in s]

    def median(self, key: str = "wall") -> float:
        return statistics.median(self.values(key))

    def summary(self, key: str = "wall") -> dict[str, Any]:
        return summarize(self.values(key))


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """Median, min, max, count and the values themselves (rounded), as results.json keeps them."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
        "values": [round(v, 6) for v in values],
    }


def interleave(
    cases: Sequence[Case],
    *,
    reps: int,
    warmup: int,
    label: str,
    on_sample: Callable[[str, int, Mapping[str, float]], None] | None = None,
) -> dict[str, Series]:
    """Run ``warmup`` discarded rounds, then ``reps`` measured rounds of all ``cases`` in order."""
    series = {c.name: Series(c.name, c.group) for c in cases}
    total = warmup + reps
    for round_number in range(total):
        measured = round_number >= warmup
        tag = f"rep {round_number - warmup + 1}/{reps}" if measured else "warm-up"
        for case in cases:
            started = time.perf_counter()
            sample = dict(case.run())
            took = time.perf_counter() - started
            note = ", ".join(f"{k} {v:.3f} s" for k, v in sample.items())
            log(f"  {label} {tag} {case.name}: {note} (case took {took:.1f} s)")
            if measured:
                series[case.name].samples.append(sample)
                if on_sample is not None:
                    on_sample(case.name, round_number - warmup, sample)
    return series


def ratio(numerator: Series, denominator: Series, key: str = "wall") -> float:
    """Ratio of the medians of two series."""
    return numerator.median(key) / denominator.median(key)


def paired_ratios(numerator: Series, denominator: Series, key: str = "wall") -> list[float]:
    """Per-round ratios (round i of one case over round i of the other)."""
    return [a / b for a, b in zip(numerator.values(key), denominator.values(key), strict=False)]


def log(message: str) -> None:
    """Progress on stderr, so stdout carries only the table."""
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Swallow stdout (mlflow prints "View run ... at" per run it ends against a server)."""
    saved = sys.stdout
    sys.stdout = io.StringIO()
    try:
        yield
    finally:
        sys.stdout = saved


def loadavg() -> float | None:
    """The 1-minute load average, or ``None`` where the OS has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _run(command: Sequence[str]) -> str:
    try:
        done = subprocess.run(
            list(command), capture_output=True, text=True, timeout=30, check=False, cwd=REPO
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout + done.stderr


def _version(module: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """The facts BENCHMARKS.md reports: cores, memory, OS, Python, Java, library versions."""
    memory_gib = None
    with contextlib.suppress(OSError, ValueError):
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory_gib = round(pages / 2**30, 1)
    java = _run(["java", "-version"]).splitlines()[:1] if shutil.which("java") else []
    commit = _run(["git", "rev-parse", "--short", "HEAD"]).strip()
    dirty = _run(["git", "status", "--porcelain", "--", "legacy_mllib_tracking"])
    return {
        "cpus": os.cpu_count(),
        "memory_gib": memory_gib,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "java": java[0] if java else None,
        "pyspark": _version("pyspark"),
        "mlflow": _version("mlflow"),
        "legacy_mllib_tracking": _version("legacy-mllib-tracking"),
        "git_commit": commit or None,
        "library_modified_files": [line[3:] for line in dirty.splitlines() if line.strip()],
        "loadavg_start": loadavg(),
    }


def child_env(**extra: str) -> dict[str, str]:
    """Environment for the subprocesses: this checkout first on the path, bytecode cached."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env.update(extra)
    return env
