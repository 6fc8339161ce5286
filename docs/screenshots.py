"""Screenshots of the MLflow UI over the demo's store, for the README (not part of CI).

Starts ``mlflow server`` on 127.0.0.1 (a free port, no job runners) over the demo's ``mlflow.db``,
drives headless Chromium with Playwright and writes into ``docs/images/``:

- ``runs-table.png``: the experiment's runs table, both demo parents expanded into their named
  children, with the tuned params, the CV metric and the winning ``best_*`` values as columns;
- ``compare-scatter.png``: the compare view of one parent's children, a scatter plot of
  ``regParam`` against ``avg_areaUnderROC``.

Regenerate (from the project root; Debian's ``chromium`` package, since Playwright cannot
download a browser everywhere)::

    apt-get install -y chromium
    .venv/bin/pip install --group screenshots
    rm -f mlflow.db && rm -rf mlartifacts
    ./dev demo && ./dev demo --runtime 9.1
    .venv/bin/python docs/screenshots.py

Options: ``--store`` (default ``mlflow.db``), ``--out`` (default ``docs/images``), ``--chromium``
(default ``/usr/bin/chromium``), ``--server-python`` (the Python whose mlflow serves the store;
default this one). The server is stopped when the script ends, and after ``--timeout`` seconds
(default 300) whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

EXPERIMENT = "legacy-mllib-tracking-demo"
HOST = "127.0.0.1"
VIEWPORT = {"width": 1500, "height": 860}
#: The columns shown in the runs table: the tuned params, the CV metric, the winner on the parent.
COLUMNS = (
    "regParam",
    "elasticNetParam",
    "avg_areaUnderROC",
    "best_regParam",
    "best_elasticNetParam",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def mlflow_server(python: str, store: Path, timeout: float) -> Iterator[str]:
    """``mlflow server`` over ``store`` on 127.0.0.1; yields its URL; stopped on exit and after
    ``timeout`` seconds at the latest."""
    port = _free_port()
    from legacy_mllib_tracking._ui import server_command  # the UI command's own server line

    process = subprocess.Popen(
        [python, *server_command(f"sqlite:///{store}", port)[1:]],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={
            **os.environ,
            "MLFLOW_TRACKING_URI": "",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "MLFLOW_DISABLE_TELEMETRY": "true",
        },
    )

    def stop() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    watchdog = threading.Timer(timeout, stop)
    watchdog.daemon = True
    watchdog.start()
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"mlflow server exited with status {process.returncode}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("mlflow server did not answer within 120 s") from None
                time.sleep(0.5)
        yield url
    finally:
        watchdog.cancel()
        stop()


def _api(url: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    if payload is None:
        request = urllib.request.Request(url + path)
    else:
        request = urllib.request.Request(
            url + path,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def demo_runs(url: str) -> tuple[str, dict[str, str], dict[str, list[str]]]:
    """The demo experiment's id, its parents (name -> id) and each parent's children's ids."""
    query = urllib.parse.urlencode({"experiment_name": EXPERIMENT})
    experiment = _api(url, f"/api/2.0/mlflow/experiments/get-by-name?{query}")["experiment"]
    runs = _api(
        url,
        "/api/2.0/mlflow/runs/search",
        {
            "experiment_ids": [experiment["experiment_id"]],
            "max_results": 1000,
        },
    ).get("runs", [])
    parents: dict[str, str] = {}
    children: dict[str, list[str]] = {}
    for run in runs:
        tags = {t["key"]: t["value"] for t in run["data"].get("tags", [])}
        parent = tags.get("mlflow.parentRunId")
        if parent is None:
            parents[run["info"]["run_name"]] = run["info"]["run_id"]
        else:
            children.setdefault(parent, []).append(run["info"]["run_id"])
    return experiment["experiment_id"], parents, children


def _dismiss(page: Any) -> None:
    """Close the assistant panel and first-visit popovers, where shown."""
    for name in ("Close", "Got it"):
        with contextlib.suppress(Exception):
            page.get_by_role("button", name=name, exact=True).first.click(timeout=1500)


def runs_table(page: Any, url: str, experiment_id: str, out: Path) -> None:
    """The runs table, every parent expanded, showing :data:`COLUMNS`."""
    page.goto(f"{url}/#/experiments/{experiment_id}/runs?workflowType=machine_learning")
    page.get_by_role("button", name="Columns", exact=True).wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    _dismiss(page)
    page.get_by_role("button", name="Columns", exact=True).click()
    search = page.get_by_placeholder("Search columns")
    wanted = {name: False for name in ("Dataset", "Source", "Models")}  # shown by default
    wanted.update(dict.fromkeys(COLUMNS, True))
    for name, shown in wanted.items():
        search.fill(name)
        # the column chooser is a checkable tree (MLflow 3.17): one node per column
        title = page.locator("[class*='tree-title']", has_text=re.compile(f"^{re.escape(name)}$"))
        node = page.locator("[class*='tree-treenode']").filter(has=title).first
        node.wait_for(timeout=10_000)
        if ("tree-treenode-checkbox-checked" in (node.get_attribute("class") or "")) != shown:
            node.locator("[class*='tree-checkbox']").first.click()
    page.keyboard.press("Escape")
    page.wait_for_timeout(500)
    expanders = page.locator("button[data-component-id*='runnamecellrenderer']")
    for index in range(expanders.count()):
        expanders.nth(index).click()
        page.wait_for_timeout(500)
    # size the run-name and param columns to their content (ag-grid: double-click on the
    # header's resize handle), so that the children's names show whole
    headers = page.locator("[role=columnheader][col-id]")
    for index in range(headers.count()):
        header = headers.nth(index)
        column = header.get_attribute("col-id") or ""
        if "Run Name" in column or column.startswith("params."):
            header.hover()
            header.locator(".ag-header-cell-resize").dblclick()
            page.wait_for_timeout(300)
    page.mouse.click(5, VIEWPORT["height"] - 5)  # no focus ring on a cell
    page.wait_for_timeout(1500)
    grid = page.locator("[role=treegrid], [role=grid]").first.bounding_box()
    bottom = page.evaluate(
        "Math.max(...Array.from(document.querySelectorAll('[role=row][row-index]'),"
        " row => row.getBoundingClientRect().bottom))"
    )
    page.screenshot(
        path=str(out),
        clip={
            "x": max(grid["x"] - 8, 0),
            "y": max(grid["y"] - 8, 0),
            "width": min(grid["width"] + 16, VIEWPORT["width"]),
            "height": min(bottom, VIEWPORT["height"]) - grid["y"] + 16,
        },
    )


def compare_scatter(page: Any, url: str, experiment_id: str, runs: list[str], out: Path) -> None:
    """The compare view of ``runs``: a scatter plot of regParam against avg_areaUnderROC."""
    query = urllib.parse.urlencode(
        {"runs": json.dumps(runs), "experiments": json.dumps([experiment_id])}
    )
    page.goto(f"{url}/#/compare-runs?{query}")
    page.get_by_text("Scatter Plot", exact=True).wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    _dismiss(page)
    page.get_by_text("Scatter Plot", exact=True).click()
    page.wait_for_timeout(1000)
    label = page.get_by_text("X-axis:", exact=True)
    label.locator("xpath=following::*[@role='combobox'][1]").click()
    page.keyboard.type("regParam")
    page.get_by_role("option", name="regParam", exact=True).click()
    page.wait_for_timeout(1500)
    top = page.get_by_text("Visualizations", exact=True).bounding_box()
    bottom = page.get_by_text("Run details", exact=True).bounding_box()
    page.screenshot(
        path=str(out),
        clip={
            "x": top["x"] - 40,
            "y": top["y"] - 12,
            "width": VIEWPORT["width"] - top["x"] + 20,
            "height": bottom["y"] - top["y"],
        },
    )


def main(argv: list[str] | None = None) -> int:
    """Write the screenshots; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, default=Path("mlflow.db"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "images")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--server-python", default=sys.executable)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    store = args.store.resolve()
    if not store.is_file():
        print(
            f"screenshots: no store {str(store)!r}; run ./dev demo and ./dev demo --runtime 9.1 "
            "first",
            file=sys.stderr,
        )
        return 2
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with mlflow_server(args.server_python, store, args.timeout) as url:
        experiment_id, parents, children = demo_runs(url)
        autolog = next((i for n, i in parents.items() if n.startswith("autolog")), None)
        if autolog is None or not parents.keys() - {n for n in parents if n.startswith("autolog")}:
            print(
                f"screenshots: the store needs an autolog and a legacy demo run, has "
                f"{sorted(parents)}",
                file=sys.stderr,
            )
            return 2
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=args.chromium, args=["--no-sandbox"]
            )
            try:
                page = browser.new_page(viewport=VIEWPORT)
                runs_table(page, url, experiment_id, args.out / "runs-table.png")
                compare_scatter(
                    page,
                    url,
                    experiment_id,
                    sorted(children[autolog]),
                    args.out / "compare-scatter.png",
                )
            finally:
                browser.close()
    for name in ("runs-table.png", "compare-scatter.png"):
        path = args.out / name
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
