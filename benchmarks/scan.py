"""Notebook scan speed and memory (ISSUE 10): ``scan`` against the floor on a generated tree.

The tree holds 2,000 notebooks in mixed formats (Databricks source, ``.ipynb``, ``.dbc`` with two
notebooks each, HTML exports, plain scripts), in four folders of 500. The *floor* is the least any
scanner must do: read every file, unpack it (JSON, zip, base64), split it into cells and
``ast.parse`` every Python cell. ``scan`` is :func:`legacy_mllib_tracking.notebooks.scan` plus the
JSON report the CLI prints. Both run interleaved in one process (one warm-up round dropped); the
target is scan <= 2x the floor. Peak RSS is measured for 500 and 2,000 notebooks, each in a fresh
subprocess (its ``VmHWM`` after the scan, and its RSS before it).

    python benchmarks/scan.py               # 2,000 notebooks, 3 reps
    python benchmarks/scan.py --reps 5 --notebooks 2000
    python benchmarks/scan.py --quick       # 200 notebooks, 1 rep (a smoke run)

Imports neither pyspark nor mlflow. Prints a Markdown table on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import ast
import base64
import contextlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from _common import REPO, child_env, log

sys.path.insert(0, str(REPO))

from legacy_mllib_tracking.cli import main as cli

# --- the generated tree ------------------------------------------------------------------------

IMPORTS = """import mlflow
from pyspark.ml import Pipeline
from pyspark.ml.classification import DecisionTreeClassifier, LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import VectorAssembler, StringIndexer
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder, TrainValidationSplit"""

PREP = """df = spark.read.table("{table}")
indexer = StringIndexer(inputCol="category", outputCol="category_idx")
assembler = VectorAssembler(inputCols=[c for c in df.columns if c != "label"], outputCol="features")
train, test = df.randomSplit([0.8, 0.2], seed={seed})
for column in ["a", "b", "c"]:
    df = df.withColumn(column + "_sq", df[column] * df[column])
display(df.limit(10))"""

TUNERS = [
    "lr = LogisticRegression(maxIter=50)\n"
    "grid = (ParamGridBuilder().addGrid(lr.regParam, [0.1, 0.01])\n"
    "        .addGrid(lr.elasticNetParam, [0.0, 0.5]).build())\n"
    "cv = CrossValidator(estimator=lr, estimatorParamMaps=grid,\n"
    "                    evaluator=BinaryClassificationEvaluator(), numFolds=3)",
    "dt = DecisionTreeClassifier()\n"
    "pipe = Pipeline(stages=[indexer, assembler, dt])\n"
    "grid = ParamGridBuilder().addGrid(dt.maxBins, [8, 16]).addGrid(dt.maxDepth, [2, 4]).build()\n"
    "cv = CrossValidator(estimator=pipe, estimatorParamMaps=grid,\n"
    "                    evaluator=BinaryClassificationEvaluator())",
    "lr = LogisticRegression()\n"
    "grid = ParamGridBuilder().addGrid(lr.regParam, [0.1, 0.01]).build()\n"
    "cv = TrainValidationSplit(estimator=lr, estimatorParamMaps=grid,\n"
    "                          evaluator=BinaryClassificationEvaluator(), trainRatio=0.75)",
]

FITS = [
    "cvModel = cv.fit(train)",
    "with mlflow.start_run():\n    cvModel = cv.setParallelism(2).fit(train)",
    "stages = [indexer, assembler]\nstages.append(cv)\nmodel = Pipeline(stages=stages).fit(train)",
    "model = lr.fit(train)\npredictions = model.transform(test)",
]

EXTRA = [
    "%md\n## Results\nCompare `params.maxDepth` and `metrics.avg_areaUnderROC` in the MLflow UI.",
    "runs = mlflow.search_runs(filter_string=\"params.maxDepth = '4'\")\ndisplay(runs)",
    "%scala\nval n = spark.range(10).count()\nprintln(n)",
    "%sql\nSELECT category, count(*) FROM events GROUP BY category",
    '# spark.conf.set("spark.databricks.mlflow.trackMLlib.enabled", "true")\nx = 1',
    "def summarize(frame):\n    rows = frame.collect()\n    return {r[0]: r[1] for r in rows}\n"
    "summary = summarize(df.groupBy('label').count())",
]


def _cells(rng: random.Random, index: int) -> list[str]:
    cells = [IMPORTS, PREP.format(table=f"db.t{index}", seed=index)]
    for _ in range(rng.randint(2, 5)):
        cells.append(rng.choice(EXTRA))
    if rng.random() < 0.7:
        cells.append(rng.choice(TUNERS))
        cells.append(rng.choice(FITS))
    for _ in range(rng.randint(2, 6)):
        cells.append(rng.choice(EXTRA))
    return cells


def _source(cells: list[str]) -> str:
    parts = []
    for cell in cells:
        lines = cell.split("\n")
        if lines[0].startswith("%"):
            lines = ["# MAGIC " + line for line in lines]
        parts.append("\n".join(lines))
    return "# Databricks notebook source\n" + "\n\n# COMMAND ----------\n\n".join(parts) + "\n"


def _model(name: str, cells: list[str], rng: random.Random) -> dict[str, Any]:
    positions = list(range(len(cells)))
    commands = [
        {
            "version": "CommandV1",
            "origId": i,
            "position": float(p),
            "command": cell,
            "subtype": "command",
            "commandTitle": "",
            "results": None,
        }
        for i, (p, cell) in enumerate(zip(positions, cells, strict=True))
    ]
    rng.shuffle(commands)  # real archives store commands out of order
    return {
        "version": "NotebookV1",
        "origId": rng.randrange(10**9),
        "name": name,
        "language": "python",
        "commands": commands,
    }


def generate(root: Path, notebooks: int, seed: int = 7) -> dict[str, int]:
    """Write ``notebooks`` notebooks under ``root`` in folders of 500; return counts per format."""
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    written = 0
    while written < notebooks:
        folder = root / f"part{written // 500}"
        folder.mkdir(parents=True, exist_ok=True)
        roll = rng.random()
        cells = _cells(rng, written)
        if roll < 0.40:
            kind = "databricks-source"
            (folder / f"nb{written}.py").write_text(_source(cells))
            written += 1
        elif roll < 0.65:
            kind = "ipynb"
            document = {
                "nbformat": 4,
                "nbformat_minor": 5,
                "metadata": {},
                "cells": [
                    {
                        "cell_type": "markdown" if c.startswith("%md") else "code",
                        "metadata": {},
                        "source": c.splitlines(keepends=True),
                        "outputs": [],
                        "execution_count": None,
                    }
                    for c in cells
                ],
            }
            (folder / f"nb{written}.ipynb").write_text(json.dumps(document, indent=1))
            written += 1
        elif roll < 0.75 and notebooks - written >= 2:
            kind = "dbc"
            second = _cells(rng, written + 1)
            with zipfile.ZipFile(folder / f"ws{written}.dbc", "w") as archive:
                archive.writestr("manifest.mf", "Manifest-Version: 1.0\n")
                archive.writestr(f"F/a{written}.python", json.dumps(_model("a", cells, rng)))
                archive.writestr(f"F/b{written}.python", json.dumps(_model("b", second, rng)))
            written += 2
        elif roll < 0.80:
            kind = "databricks-html"
            model = base64.b64encode(quote(json.dumps(_model("h", cells, rng))).encode()).decode()
            (folder / f"nb{written}.html").write_text(
                '<html><head><meta name="databricks-html-version" content="1"></head><body>'
                f"<script>var __DATABRICKS_NOTEBOOK_MODEL = '{model}';</script></body></html>\n"
            )
            written += 1
        else:
            kind = "python"
            code = "\n\n".join(c for c in cells if not c.startswith("%"))
            (folder / f"script{written}.py").write_text(code + "\n")
            written += 1
        counts[kind] = counts.get(kind, 0) + (2 if kind == "dbc" else 1)
    return counts


# --- the floor -----------------------------------------------------------------------------------

_MODEL = re.compile(r"__DATABRICKS_NOTEBOOK_MODEL\s*=\s*'([^']*)'")


def _parse_all(cells: list[str]) -> int:
    parsed = 0
    for cell in cells:
        if cell.lstrip().startswith("%"):
            continue
        with contextlib.suppress(SyntaxError):
            ast.parse(cell)
        parsed += 1
    return parsed


def floor(root: Path) -> int:
    """Read every file, unpack it, split it into cells, ast.parse every Python cell."""
    parsed = 0
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        suffix = path.suffix
        if suffix == ".dbc":
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    if name.endswith(".python"):
                        model = json.loads(archive.read(name))
                        commands = sorted(model["commands"], key=lambda c: c["position"])
                        parsed += _parse_all([c["command"] for c in commands])
            continue
        text = path.read_text()
        if suffix == ".ipynb":
            cells = [
                "".join(c["source"]) for c in json.loads(text)["cells"] if c["cell_type"] == "code"
            ]
        elif suffix == ".html":
            match = _MODEL.search(text)
            model = json.loads(unquote(base64.b64decode(match.group(1)).decode())) if match else {}
            cells = [
                c["command"] for c in sorted(model.get("commands", []), key=lambda c: c["position"])
            ]
        elif text.startswith("# Databricks notebook source"):
            cells = [
                c
                for c in text.split("\n# COMMAND ----------\n")[0:]
                if not c.lstrip().startswith("# MAGIC")
            ]
            cells[0] = cells[0].split("\n", 1)[1]
        else:
            cells = [text]
        parsed += _parse_all(cells)
    return parsed


def scan_and_render(root: Path) -> int:
    """``legacy-mllib-tracking scan ROOT --format json``, its output thrown away."""
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        return cli(["scan", str(root), "--format", "json", "--fail-on", "never"])


# --- memory in a fresh process -------------------------------------------------------------------

CHILD = r"""
import contextlib, json, os, sys
from pathlib import Path
from legacy_mllib_tracking.cli import main
def status_kib(key):
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec from the parent.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0
before = status_kib("VmRSS")
with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
    main(["scan", *sys.argv[1:], "--format", "json", "--fail-on", "never"])
peak = status_kib("VmHWM")
notebooks = sum(1 for p in Path(sys.argv[1]).rglob("*") if p.is_file())
print(json.dumps({"before_kib": before, "peak_kib": peak, "files": notebooks}))
"""


def memory(roots: list[Path]) -> dict[str, Any]:
    """Scan ``roots`` in a fresh interpreter; return its RSS before and its peak after."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD, *map(str, roots)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=600,
        check=True,
    )
    data: dict[str, Any] = json.loads(result.stdout)
    return data


# --- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Generate the tree, time floor and scan interleaved, measure memory; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--notebooks", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 notebooks, 1 rep")
    args = parser.parse_args(argv)
    notebooks, reps = (200, 1) if args.quick else (args.notebooks, args.reps)
    with tempfile.TemporaryDirectory(prefix="scan-bench-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        counts = generate(root, notebooks)
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        log(
            f"generated {notebooks} notebooks ({counts}), {size / 2**20:.1f} MiB, "
            f"in {time.perf_counter() - started:.1f} s"
        )
        cases = {"floor": floor, "scan": scan_and_render}
        samples: dict[str, list[float]] = {name: [] for name in cases}
        cpu: dict[str, list[float]] = {name: [] for name in cases}
        for round_ in range(reps + 1):
            for name, run in cases.items():
                started, started_cpu = time.perf_counter(), time.process_time()
                run(root)
                seconds = time.perf_counter() - started
                if round_:
                    samples[name].append(seconds)
                    cpu[name].append(time.process_time() - started_cpu)
                log(f"round {round_}{' (warm-up)' if not round_ else ''} {name}: {seconds:.3f} s")
        parts = sorted(p for p in root.iterdir() if p.is_dir())
        small = memory(parts[:1]) if len(parts) > 1 else None
        large = memory([root])
    floor_s = statistics.median(samples["floor"])
    scan_s = statistics.median(samples["scan"])
    print(
        f"### Notebook scan ({notebooks} notebooks: "
        + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        + f"; {size / 2**20:.1f} MiB; {reps} reps after 1 warm-up, interleaved)\n"
    )
    floor_cpu = statistics.median(cpu["floor"])
    print("| case | median s | min s | max s | per notebook ms | vs floor | CPU s | CPU vs floor |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in cases:
        values = samples[name]
        median = statistics.median(values)
        cpu_median = statistics.median(cpu[name])
        print(
            f"| {name} | {median:.3f} | {min(values):.3f} | {max(values):.3f} | "
            f"{1000 * median / notebooks:.2f} | {median / floor_s:.2f}x | {cpu_median:.3f} | "
            f"{cpu_median / floor_cpu:.2f}x |"
        )
    print()
    print("| notebooks | files | RSS before scan MiB | peak RSS MiB |")
    print("| --- | --- | --- | --- |")
    for count, data in ((500, small), (notebooks, large)):
        if data is not None:
            print(
                f"| {count} | {data['files']} | {data['before_kib'] / 1024:.1f} | "
                f"{data['peak_kib'] / 1024:.1f} |"
            )
    # The verdict: the median of each round's own scan/floor CPU ratio. The two cases of a round
    # run back to back, so a load that changes over the run hits both; CPU time leaves out the
    # waits a shared machine adds to wall time (the wall ratio is printed beside it).
    paired = [s / f for s, f in zip(cpu["scan"], cpu["floor"], strict=True)]
    cpu_ratio = statistics.median(paired)
    ratio = scan_s / floor_s
    print(
        f"\nscan / floor = {cpu_ratio:.2f} CPU (median of {len(paired)} rounds' ratios: "
        + ", ".join(f"{r:.2f}" for r in paired)
        + f"), {ratio:.2f} wall (target <= 2.00 CPU: {'met' if cpu_ratio <= 2 else 'missed'}); "
        "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())
    )
    if small is not None:
        growth = large["peak_kib"] / small["peak_kib"]
        print(f"peak RSS {notebooks} / 500 notebooks = {growth:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
