"""Part 3: ``import legacy_mllib_tracking`` time and ``configure()`` time, each in fresh processes.

Both run in subprocesses of this interpreter with bytecode cached under a temporary
``PYTHONPYCACHEPREFIX`` (a warm-up process writes it; an installed package has its ``.pyc``
files too), this checkout first on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from _common import child_env, log, summarize

# Writes the bytecode of everything configure() imports lazily, so no measured process compiles.
WARMUP_SNIPPET = r"""
import importlib, pkgutil
import legacy_mllib_tracking
for info in pkgutil.walk_packages(legacy_mllib_tracking.__path__, "legacy_mllib_tracking."):
    if not info.name.endswith("__main__"):
        importlib.import_module(info.name)
import mlflow.pyspark.ml, pyspark.ml.tuning, pyspark.sql
print("{}")
"""

IMPORT_SNIPPET = r"""
import json, sys, time
started = time.perf_counter()
import legacy_mllib_tracking
seconds = time.perf_counter() - started
heavy = {"pyspark", "mlflow", "py4j", "pandas", "numpy", "sqlalchemy"}
heavy = sorted({m.split(".")[0] for m in sys.modules} & heavy)
print(json.dumps({"seconds": seconds, "heavy": heavy}))
"""

# One fresh process per sample: imports first (not measured), a local[2] SparkSession that has
# run one job (a notebook's session has; see COLD below), then configure() timed.
CONFIGURE_SNIPPET = r"""
import json, logging, sys, time, warnings
warnings.simplefilter("ignore")
mode, fresh = sys.argv[1], sys.argv[2] == "fresh"
started = time.perf_counter()
import mlflow
import pyspark.ml
from pyspark.ml.tuning import CrossValidator, TrainValidationSplit
from pyspark.sql import SparkSession
import legacy_mllib_tracking as lib
imports = time.perf_counter() - started
logging.getLogger("mlflow").setLevel(logging.WARNING)
spark = (SparkSession.builder.master("local[2]").appName("bench-configure")
         .config("spark.ui.enabled", "false").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
if not fresh:
    spark.range(10).count()
forced = None if mode == "route" else mode
started = time.perf_counter()
decision = lib.configure(spark, mode=forced)
first = time.perf_counter() - started
again = []
for _ in range(20):
    started = time.perf_counter()
    lib.configure(spark, mode=forced)
    again.append(time.perf_counter() - started)
lib.reset()
spark.stop()
print(json.dumps({"imports": imports, "first": first, "again": sorted(again)[len(again) // 2],
                  "mode": decision.mode.value}))
"""


def _python(snippet: str, args: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", snippet, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"benchmark subprocess failed (exit {done.returncode}): {done.stderr[-2000:]}"
        )
    return dict(json.loads(lines[-1]))


def measure(*, quick: bool, workdir: Path) -> dict[str, Any]:
    """Measure import and configure() times; return the part's JSON-ready results."""
    env = child_env(
        PYTHONPYCACHEPREFIX=str(workdir / "pycache"),
        MLFLOW_TRACKING_URI=f"sqlite:///{workdir / 'configure.db'}",
    )
    import_reps = 3 if quick else 15
    log(f"startup: import legacy_mllib_tracking, 1 warm-up + {import_reps} fresh processes")
    _python(WARMUP_SNIPPET, [], env, 300)  # writes the bytecode cache, not measured
    imports = [_python(IMPORT_SNIPPET, [], env, 120) for _ in range(import_reps)]
    heavy = sorted({m for sample in imports for m in sample["heavy"]})
    result: dict[str, Any] = {
        "import": {**summarize([s["seconds"] for s in imports]), "heavy_modules": heavy},
        "configure": {},
    }
    configure_reps = 1 if quick else 3
    kinds = [("legacy", "used"), ("route", "used")] + ([] if quick else [("route", "fresh")])
    samples: dict[str, list[dict[str, Any]]] = {f"{m}/{c}": [] for m, c in kinds}
    for rep in range(configure_reps):
        for mode, session in kinds:  # interleaved, like every other part
            sample = _python(CONFIGURE_SNIPPET, [mode, session], env, 300)
            samples[f"{mode}/{session}"].append(sample)
            log(
                f"  startup rep {rep + 1}/{configure_reps} configure {mode}/{session}: first "
                f"{sample['first'] * 1e3:.1f} ms, again {sample['again'] * 1e3:.2f} ms "
                f"-> {sample['mode']}"
            )
    for key, values in samples.items():
        result["configure"][key] = {
            "mode": values[0]["mode"],
            "first": summarize([v["first"] for v in values]),
            "again": summarize([v["again"] for v in values]),
            "imports_before": summarize([v["imports"] for v in values]),
        }
    return result
