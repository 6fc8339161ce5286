"""The fault table in docs/failures.md ("What happens when ...") and the tests match one to one:
every row names integration tests that exist, and every test in tests/integration/test_faults.py
is in a row."""

from __future__ import annotations

import ast
import fnmatch
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Tests in test_faults.py that are not a fault (they check the baseline the rows build on).
NOT_FAULTS = {"test_contract_over_a_real_tracking_server"}


def _table_rows() -> list[list[str]]:
    text = (ROOT / "docs" / "failures.md").read_text()
    section = text.split("## What happens when ...", 1)[1].split("\n#", 1)[0]
    return [
        [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| when") and "---" not in line
    ]


def _tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def test_every_row_names_existing_tests_and_every_fault_test_has_a_row() -> None:
    rows = _table_rows()
    assert len(rows) >= 10, rows
    integration = ROOT / "tests" / "integration"
    tests = set().union(*(_tests(path) for path in integration.glob("test_*.py")))
    named: set[str] = set()
    for row in rows:
        patterns = re.findall(r"`(test_[^`\[]*)(?:\[[^`]*\])?`", row[-1])
        assert patterns, f"row {row[0]!r} names no test"
        for pattern in patterns:
            found = fnmatch.filter(tests, pattern)
            assert found, f"row {row[0]!r} names {pattern!r}, which tests/integration lacks"
            named.update(found)
    missing = _tests(integration / "test_faults.py") - named - NOT_FAULTS
    assert not missing, f"fault tests without a row in docs/failures.md: {sorted(missing)}"
