"""Every tag the library writes, on parent or child, in both modes, is listed in the README."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import mlflow
import pytest

from legacy_mllib_tracking import configure, inspect_run_layout

from .builders import tuner

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- tags: tests/integration/test_tags.py"
LEAN = {"log_models": False, "log_datasets": False}
_SUFFIX = re.compile(r"_[0-9a-f]{32}$")


def documented_tags() -> list[tuple[str, frozenset[str]]]:
    """The README's tag table: (name or glob, the runs it is on: "parent" / "child")."""
    lines = README.read_text().splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(MARKER))
    rows = []
    for line in lines[start + 3 :]:  # the marker, the header, the separator
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        where = frozenset(w for w in ("parent", "child") if w in cells[1])
        assert where, f"README tag row names neither parent nor child: {line}"
        rows.extend((name, where) for name in re.findall(r"`([^`]+)`", cells[0]))
    assert rows, "README has no tag table after its tags marker"
    return rows


def undocumented(tags: set[tuple[str, str]]) -> list[str]:
    """The (tag, run) pairs seen that no README row lists for that run."""
    table = documented_tags()
    return sorted(
        f"{name} on the {where}"
        for name, where in tags
        if not any(fnmatch.fnmatchcase(name, pattern) and where in on for pattern, on in table)
    )


def seen_tags(run_id: str) -> set[tuple[str, str]]:
    """Every tag key on the tree under ``run_id``, ``_<uuid>`` suffixes removed, with its run."""
    layout = inspect_run_layout(run_id)
    found = {(_SUFFIX.sub("", key), "parent") for key in layout.parent.tags}
    for child in layout.children:
        found |= {(_SUFFIX.sub("", key), "child") for key in child.tags}
    return found


def test_the_table_check_fails_on_a_tag_the_readme_does_not_list() -> None:
    """The check below can fail: a made-up tag, or a child-only tag on a parent, is reported."""
    assert undocumented({("legacy_mllib_tracking.made_up", "child")}) == [
        "legacy_mllib_tracking.made_up on the child"
    ]
    assert undocumented({("legacy_mllib_tracking.best", "parent")}) == [
        "legacy_mllib_tracking.best on the parent"
    ]
    assert undocumented({("legacy_mllib_tracking.best", "child")}) == []


@pytest.mark.parametrize("mode", ["legacy", "autolog"])
def test_every_tag_the_library_writes_is_in_the_readme(
    spark: Any, experiment: str, data: Any, mode: str
) -> None:
    """A CV and a TVS fit in one user run (a repeated fit) and a CV fit in a run the library
    creates write only tags the README's table lists, for the run they are on; every tag of the
    library's own namespace in the table is written."""
    configure(spark, mode=mode, autolog_options=LEAN if mode == "autolog" else None)
    with mlflow.start_run() as run:
        tuner("cv").fit(data)
        tuner("tvs").fit(data)
    tuner("cv").fit(data)
    created = mlflow.last_active_run()
    assert created is not None and created.info.run_id != run.info.run_id
    tags = seen_tags(run.info.run_id) | seen_tags(created.info.run_id)
    assert undocumented(tags) == []
    ours = {
        pattern for pattern, _ in documented_tags() if pattern.startswith("legacy_mllib_tracking.")
    }
    assert ours <= {name for name, _ in tags}, ours - {name for name, _ in tags}
