"""The command line (legacy_mllib_tracking.cli): ``explain`` and ``render_tree``, no Spark."""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

import pytest

from legacy_mllib_tracking.cli import main
from legacy_mllib_tracking.keys import (
    CONF_AUTOLOG,
    CONF_TRACK,
    ENV_ML_PYTHONPATH,
    ENV_RUNTIME_VERSION,
    TAG_BEST,
    TAG_CHILD_KEY,
    TAG_ESTIMATOR_NAME,
    TAG_FIT_ID,
    TAG_LARGER_IS_BETTER,
    TAG_MAP_INDEX,
    TAG_TUNED_PARAMS,
)
from legacy_mllib_tracking.layout import RunLayout, RunView, render_tree

from .fresh import run_python
from .notebook_files import write_source


@pytest.fixture(autouse=True)
def _no_databricks_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the host's Databricks environment out of every test (and its subprocesses)."""
    monkeypatch.delenv(ENV_RUNTIME_VERSION, raising=False)
    monkeypatch.delenv(ENV_ML_PYTHONPATH, raising=False)


# --- explain: what it decides -------------------------------------------------------------------

# (argv after "explain", mode, runtime as printed in JSON, track flag, autolog flag)
# fmt: off
EXPLAIN_TABLE = [
    pytest.param(["--runtime", "9.1"], "legacy", "DBR 9.1",
                 (True, "default"), (False, "default"), id="dbr-9.1-legacy"),
    pytest.param(["--runtime", "15.4"], "autolog", "DBR 15.4",
                 (False, "default"), (True, "default"), id="dbr-15.4-unknown-ml-autolog"),
    pytest.param(["--runtime", "15.4.x-scala2.12"], "off", "DBR 15.4 standard",
                 (False, "default"), (False, "default"), id="dbr-15.4-standard-off"),
    pytest.param(["--conf", f"{CONF_AUTOLOG}=false", "--conf", f"{CONF_TRACK}=true"], "legacy",
                 None, (True, "conf"), (False, "conf"), id="no-runtime-flags-legacy"),
    pytest.param([], "autolog", None, (False, "default"), (True, "default"),
                 id="no-runtime-no-flags-autolog"),
]
# fmt: on


@pytest.mark.parametrize(("argv", "mode", "runtime", "track", "autolog"), EXPLAIN_TABLE)
def test_explain_prints_the_mode(
    argv: list[str],
    mode: str,
    runtime: str | None,
    track: tuple[bool, str],
    autolog: tuple[bool, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Plain ``explain`` exits 0 and prints the mode, the runtime, both flags and a reason."""
    assert main(["explain", *argv]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    fields = _fields(out)
    assert fields["mode"] == mode
    assert fields["runtime"].startswith(runtime or "not Databricks")
    for key, (value, source) in ((CONF_TRACK, track), (CONF_AUTOLOG, autolog)):
        assert f"{key}={str(value).lower()} ({source})" in out
    assert fields["reason"].startswith("on ")


def _fields(out: str) -> dict[str, str]:
    """``explain``'s lines as ``label -> text`` (a label is followed by a colon and spaces up to
    one column)."""
    lines = out.splitlines()
    starts = {
        len(line) - len(line[line.index(":") + 1 :].lstrip()) for line in lines if ":" in line
    }
    assert len(starts) == 1, out  # every value starts in the same column
    column = starts.pop()
    return {line[:column].strip().rstrip(":"): line[column:] for line in lines if line[0] != " "}


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        pytest.param(["--runtime", "15.4 ML"], "yes", id="ml"),
        pytest.param(["--runtime", "15.4.x-scala2.12"], "no (a standard runtime)", id="standard"),
        pytest.param(["--runtime", "15.4"], "unknown (counts as ML)", id="unknown"),
    ],
)
def test_explain_says_ml_runtime_in_words(
    argv: list[str], shown: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``explain`` prints whether the runtime is an ML runtime as yes / no / unknown, never a
    Python ``True``/``False``."""
    assert main(["explain", *argv]) == 0
    out = capsys.readouterr().out
    assert _fields(out)["ML runtime"] == shown
    assert "True" not in out and "False" not in out


def test_explain_names_the_runtime_argument_as_the_user_typed_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The runtime's source is ``--runtime``, the option the user gave, not the API's name."""
    assert main(["explain", "--runtime", "9.1"]) == 0
    assert _fields(capsys.readouterr().out)["runtime"] == "DBR 9.1 (from --runtime)"


@pytest.mark.parametrize("json_output", [False, True], ids=["text", "json"])
def test_explain_warns_about_an_unreadable_runtime_in_one_full_sentence(
    json_output: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unreadable DATABRICKS_RUNTIME_VERSION is one warning naming the value, where it came
    from, the accepted shapes and how it is routed, as configure() words it."""
    from legacy_mllib_tracking.runtime import ACCEPTED_SHAPES

    monkeypatch.setenv(ENV_RUNTIME_VERSION, "garbage")
    assert main(["explain", *(["--json"] if json_output else [])]) == 0
    out = capsys.readouterr().out
    if json_output:
        [message] = json.loads(out)["warnings"]
    else:
        [message] = [line[12:] for line in out.splitlines() if line.startswith("warning:")]
    assert "'garbage'" in message and f"env {ENV_RUNTIME_VERSION}" in message
    assert ACCEPTED_SHAPES in message
    assert message.endswith("routes this runtime like the newest Databricks ML runtime.")


@pytest.mark.parametrize(("argv", "mode", "runtime", "track", "autolog"), EXPLAIN_TABLE)
def test_explain_json_prints_one_object_with_mode_reason_runtime_and_flags(
    argv: list[str],
    mode: str,
    runtime: str | None,
    track: tuple[bool, str],
    autolog: tuple[bool, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``explain --json`` prints exactly one JSON object carrying the decision's fields."""
    assert main(["explain", "--json", *argv]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    payload = json.loads(out)  # the whole of stdout is one JSON document
    assert isinstance(payload, dict)
    assert payload["mode"] == mode
    assert payload["runtime"] == runtime
    assert isinstance(payload["reason"], str)
    assert payload["reason"]
    flags = payload["flags"]
    assert (flags[CONF_TRACK]["value"], flags[CONF_TRACK]["source"]) == track
    assert (flags[CONF_AUTOLOG]["value"], flags[CONF_AUTOLOG]["source"]) == autolog


def test_explain_reports_the_legacy_deprecation_as_a_warning_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """LEGACY off Databricks prints the deprecation as a ``warning:`` line, not a Python warning."""
    argv = ["explain", "--conf", f"{CONF_AUTOLOG}=false", "--conf", f"{CONF_TRACK}=true"]
    assert main(argv) == 0
    out, _ = capsys.readouterr()
    warning_lines = [line for line in out.splitlines() if line.startswith("warning:")]
    assert len(warning_lines) == 1
    assert "legacy-mllib-tracking" in warning_lines[0]

    assert main([*argv, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["warnings"]) == 1


def test_explain_runtime_argument_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--runtime`` is read instead of DATABRICKS_RUNTIME_VERSION when both are present."""
    monkeypatch.setenv(ENV_RUNTIME_VERSION, "15.4")
    assert main(["explain", "--json", "--runtime", "9.1"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert (payload["mode"], payload["runtime"]) == ("legacy", "DBR 9.1")


# --- explain: bad input -------------------------------------------------------------------------

# (argv after "explain", text the one stderr line must contain)
BAD_INPUT = [
    pytest.param(["--runtime", "bogus-9"], "'bogus-9'", id="bad-runtime"),
    pytest.param(["--conf", f"{CONF_TRACK}=yes"], "'yes'", id="bad-flag-value"),
    pytest.param(["--conf", CONF_TRACK], repr(CONF_TRACK), id="conf-without-equals"),
    pytest.param(["--conf", "spark.foo.bar=true"], "'spark.foo.bar'", id="unknown-conf-key"),
]


@pytest.mark.parametrize(("argv", "named"), BAD_INPUT)
def test_bad_input_exits_2_with_one_line_naming_the_value(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad ``explain`` input returns 2 and writes one stderr line naming the value, no traceback."""
    assert main(["explain", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert named in lines[0]
    assert lines[0].startswith("legacy-mllib-tracking explain: error: ")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "command", "unknown"),
    [
        pytest.param(["migrate", "nb.py", "--format", "json"], "migrate", "--format json"),
        pytest.param(["scan", "--tracking-uri", "x", "."], "scan", "--tracking-uri"),
        pytest.param(["explain", "--verbose"], "explain", "--verbose"),
        pytest.param(["--bogus", "tree", "abc"], "tree", "--bogus"),
    ],
)
def test_an_unknown_option_is_named_by_the_command_it_was_given_to(
    argv: list[str], command: str, unknown: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An option a command does not take: exit 2, one line starting with the command's name
    (not the program's alone, which reads as if the command were wrong), with its --help."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"legacy-mllib-tracking {command}: error: unrecognized arguments: {unknown} (see --help)\n"
    )


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        pytest.param(["--runtime", "bogus-9"], "'bogus-9'", id="bad-runtime"),
        pytest.param(["--conf", CONF_TRACK], repr(CONF_TRACK), id="conf-without-equals"),
        pytest.param(["--conf", f"{CONF_AUTOLOG}=maybe"], "'maybe'", id="bad-flag-value"),
    ],
)
def test_bad_input_through_python_dash_m_exits_2_with_one_line(
    argv: list[str], named: str, tmp_path: Path
) -> None:
    """``python -m legacy_mllib_tracking explain`` with bad input exits 2 with one stderr line."""
    result = run_python("-m", "legacy_mllib_tracking", "explain", *argv, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0]
    assert "Traceback" not in result.stderr


def test_python_dash_m_explain_json_succeeds(tmp_path: Path) -> None:
    """``python -m legacy_mllib_tracking explain --json`` exits 0 with one JSON object on stdout."""
    result = run_python(
        "-m", "legacy_mllib_tracking", "explain", "--json", "--runtime", "9.1", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert json.loads(result.stdout)["mode"] == "legacy"


# --- render_tree --------------------------------------------------------------------------------


def _run(
    run_id: str,
    *,
    params: dict[str, str] | None = None,
    metrics: dict[str, float] | None = None,
    tags: dict[str, str] | None = None,
) -> RunView:
    return RunView(
        run_id=run_id,
        name=run_id[:8],
        status="FINISHED",
        params=params or {},
        metrics=metrics or {},
        tags=tags or {},
        start_time=1_700_000_000_000,
        end_time=1_700_000_001_000,
    )


def _layout(
    metric: str,
    values: list[float],
    best: int | None,
    *,
    estimator_name: str = "CrossValidator",
) -> RunLayout:
    """A parent with one child per value, in map order; child ``i`` has ``maxDepth=i+2``."""
    parent = _run(
        "f" * 32,
        params={
            "estimator": "DecisionTreeClassifier",
            "evaluator": "BinaryClassificationEvaluator",
            "metricName": metric.removeprefix("avg_"),
            "numFolds": "3",
            "seed": "42",
        },
        tags={TAG_ESTIMATOR_NAME: estimator_name},
    )
    children = []
    for index, value in enumerate(values):
        tags = {TAG_MAP_INDEX: str(index)}
        if index == best:
            tags[TAG_BEST] = "true"
        children.append(
            _run(
                f"c{index:07d}" + "0" * 24,
                params={"maxDepth": str(index + 2), "maxBins": "32"},
                metrics={metric: value, "std_" + metric.removeprefix("avg_"): 0.01},
                tags=tags,
            )
        )
    return RunLayout(parent, tuple(children))


def _rows(text: str) -> list[str]:
    """The child rows of a rendered tree, in printed order."""
    return [line for line in text.splitlines() if line[4:5] == "c" and line[5:12].isdigit()]


def _row_indices(text: str) -> list[int]:
    return [int(row[5:12]) for row in _rows(text)]


@pytest.mark.parametrize(
    ("metric", "values", "best", "order"),
    [
        pytest.param("avg_areaUnderROC", [0.7, 0.9, 0.8], 1, [1, 2, 0], id="cv-larger-is-better"),
        pytest.param("f1", [0.6, 0.5, 0.9, 0.7], 2, [2, 3, 0, 1], id="tvs-larger-is-better"),
        pytest.param("avg_rmse", [0.5, 0.2, 0.9], 1, [1, 0, 2], id="cv-smaller-is-better"),
        pytest.param("rmse", [0.3, 0.8, 0.1, 0.4], 2, [2, 0, 3, 1], id="tvs-smaller-is-better"),
        pytest.param(
            "avg_rmse", [math.nan, 0.5, 0.2], 2, [2, 1, 0], id="smaller-is-better-nan-first"
        ),
        pytest.param(
            "avg_areaUnderROC", [0.8, math.nan, 0.9], 2, [2, 0, 1], id="larger-is-better-nan-last"
        ),
    ],
)
def test_render_tree_lists_the_marked_best_child_first_then_best_first(
    metric: str, values: list[float], best: int, order: list[int]
) -> None:
    """Rows are sorted best-first by the tuned metric, the ``*``-marked best child on top."""
    text = render_tree(_layout(metric, values, best))
    assert _row_indices(text) == order
    rows = _rows(text)
    assert rows[0].startswith("  * ")
    assert [row for row in rows if row.startswith("  * ")] == [rows[0]]
    assert f"{values[best]:.4f}" in rows[0]
    assert f"maxDepth={best + 2}" in rows[0]


def test_render_tree_shows_metric_header_tuned_params_and_footer() -> None:
    """The tree names the metric in its header, shows only tuned params and counts the children."""
    text = render_tree(_layout("avg_areaUnderROC", [0.7, 0.9], 1))
    lines = text.splitlines()
    assert lines[0].startswith(f"parent run {'f' * 32}  FINISHED  CrossValidator")
    assert lines[1].startswith("  estimator=DecisionTreeClassifier, evaluator=")
    header = next(i for i, line in enumerate(lines) if "tuned params" in line)
    assert "avg_areaUnderROC" in lines[header]
    assert all(line.startswith("  ") for line in lines[1:header])  # settings wrap, indented
    assert "maxBins" not in "\n".join(lines[header:])  # the same in every child: not tuned
    assert lines[-1] == "  2 child runs; * marks the best"


def test_render_tree_without_a_best_child_marks_nothing() -> None:
    """Without a best tag no row is marked and rows are still sorted larger-first."""
    text = render_tree(_layout("avg_areaUnderROC", [0.7, 0.9, 0.8], None))
    assert _row_indices(text) == [1, 2, 0]
    assert not any(row.startswith("  * ") for row in _rows(text))
    assert text.splitlines()[-1] == "  3 child runs"


def test_render_tree_lines_fit_80_columns() -> None:
    """Every line fits 80 columns, even with long param values and a long tuner class name."""
    layout = _layout(
        "avg_areaUnderROC",
        [0.7, 0.9, 0.8],
        1,
        estimator_name="MyTeamsCrossValidatorWithRetriesCachingAndExtraLogging",
    )
    children = tuple(
        RunView(
            c.run_id,
            c.name,
            c.status,
            {**c.params, "featuresCol": f"features_{i}_" + "z" * 60},
            c.metrics,
            c.tags,
            c.start_time,
            c.end_time,
        )
        for i, c in enumerate(layout.children)
    )
    text = render_tree(RunLayout(layout.parent, children))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80, text
    assert all(row.endswith("...") for row in _rows(text))
    assert _row_indices(text) == [1, 2, 0]


# --- every command: errors are one line, exit 2 ------------------------------------------------

# (argv, text the one stderr line must contain)
CLI_ERRORS = [
    pytest.param(["diff", "a", "b", "--metric-tolerance", "-1"], "'-1'", id="tolerance-negative"),
    pytest.param(["diff", "a", "b", "--metric-tolerance", "nan"], "'nan'", id="tolerance-nan"),
    pytest.param(["diff", "a", "b", "--metric-tolerance", "inf"], "'inf'", id="tolerance-inf"),
    pytest.param(
        ["tree", "abc", "--tracking-uri", "foo://bar"], "'foo://bar'", id="tree-bad-uri-scheme"
    ),
    pytest.param(
        ["diff", "a", "b", "--tracking-uri", "foo://bar"], "'foo://bar'", id="diff-bad-uri-scheme"
    ),
    pytest.param(
        ["replay", ".", "--tracking-uri", "foo://bar"], "'foo://bar'", id="replay-bad-uri-scheme"
    ),
    pytest.param(
        ["tree", "abc", "--tracking-uri", "http://u:pw-123@127.0.0.1:1"],
        "127.0.0.1:1",
        id="tree-server-down",
    ),
    pytest.param(["tree"], "RUN_ID", id="tree-without-run-id"),
    pytest.param(["nonsense"], "'nonsense'", id="unknown-command"),
    pytest.param(["demo", "--runtime", "banana"], "'banana'", id="demo-bad-runtime"),
    pytest.param(
        ["demo", "--tracking-uri", "sqlite:///"], "names no sqlite file", id="demo-sqlite-no-file"
    ),
    pytest.param(["demo", "--tracking-uri", "foo://bar"], "foo://", id="demo-bad-uri-scheme"),
    pytest.param(
        ["demo", "--tracking-uri", "sqlite:///typo-folder/mlflow.db"],
        "typo-folder",
        id="demo-store-in-a-missing-folder",
    ),
    pytest.param(["scan"], "PATH", id="scan-without-path"),
    pytest.param(["migrate"], "PATH", id="migrate-without-path"),
    pytest.param(["scan", ".", "--target", "banana"], "'banana'", id="scan-bad-target"),
    pytest.param(["explain", "--runtime", "banana"], "--runtime: ", id="explain-bad-runtime"),
    pytest.param(
        ["tree", "abc", "--tracking-uri", "sqlite:///"], "'sqlite:///'", id="tree-sqlite-no-file"
    ),
    pytest.param(["diff", "a", "b", "--tracking-uri", ""], "''", id="diff-empty-uri"),
    pytest.param(["replay", "--tracking-uri", " "], "' '", id="replay-blank-uri"),
    pytest.param(["ui", "--port", "http"], "'http'", id="ui-port-not-a-number"),
]


@pytest.mark.parametrize(("argv", "named"), CLI_ERRORS)
def test_cli_errors_are_one_line_exit_2(argv: list[str], named: str, tmp_path: Path) -> None:
    """Bad input to any command exits 2 with one stderr line naming the value, no traceback."""
    result = run_python("-m", "legacy_mllib_tracking", *argv, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0] and "error" in lines[0]
    assert "Traceback" not in result.stderr and "pw-123" not in result.stderr


@pytest.mark.parametrize("command", ["tree", "diff", "replay"])
def test_read_only_commands_refuse_a_store_that_does_not_exist(
    command: str, tmp_path: Path
) -> None:
    """tree, diff and replay exit 2 naming a missing sqlite store, and do not create it."""
    typo = tmp_path / "typo" / "mlflow.db"
    args = {"tree": ["abc"], "diff": ["a", "b"], "replay": [str(tmp_path)]}[command]
    result = run_python(
        "-m",
        "legacy_mllib_tracking",
        command,
        *args,
        "--tracking-uri",
        f"sqlite:///{typo}",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "does not exist" in lines[0] and str(typo) in lines[0], lines
    if command != "replay":  # the user gave --tracking-uri: no advice to give it
        assert lines[0].endswith("check the path") and "with --tracking-uri" not in lines[0]
    assert not (tmp_path / "typo").exists()


def test_tree_without_tracking_uri_does_not_create_mlflow_db(tmp_path: Path) -> None:
    """With no store configured, tree refuses MLflow's default store instead of creating it."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    result = run_python("-m", "legacy_mllib_tracking", "tree", "abc", cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "does not exist" in result.stderr
    assert "MLflow's default tracking URI" in result.stderr
    assert "with --tracking-uri" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_version_prints_the_package_mlflow_and_pyspark_versions(tmp_path: Path) -> None:
    """``--version`` exits 0 with one line naming this package, mlflow and pyspark."""
    result = run_python("-m", "legacy_mllib_tracking", "--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("legacy-mllib-tracking ")
    assert "mlflow " in lines[0] and "pyspark " in lines[0]


def test_demo_against_a_dead_server_fails_at_once_in_one_line(tmp_path: Path) -> None:
    """``demo --tracking-uri`` to a port nothing listens on exits 2 at once, before Spark starts."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_python(
        "-m",
        "legacy_mllib_tracking",
        "demo",
        "--tracking-uri",
        f"http://127.0.0.1:{port}",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "not reachable" in lines[0] and str(port) in lines[0]
    assert "starting local Spark" not in result.stdout


F1, F2 = "1" * 32, "2" * 32


def _two_fits(*, earlier_version: bool) -> RunLayout:
    """A parent holding two fits: a CV (larger is better) then a TVS scored by rmse (smaller is
    better). All children share one start time, as autolog's do; the second fit's end later.
    Grid order is maxDepth, then maxBins. ``earlier_version``: tags as version 0.1.0 wrote them
    (map_index, fit_id, tuned_params sorted by name)."""
    parent = RunView(
        "p" * 32,
        "p",
        "FINISHED",
        {"estimator": "DecisionTreeClassifier"},
        {},
        {
            TAG_ESTIMATOR_NAME: "CrossValidator",
            f"{TAG_ESTIMATOR_NAME}_{F2}": "TrainValidationSplit",
            TAG_LARGER_IS_BETTER: "true",
            f"{TAG_LARGER_IS_BETTER}_{F2}": "false",
        },
        1_000,
        9_000,
    )
    children = []
    for fit, metric, values, best, end in (
        (F2, "rmse", [0.4, 0.2, 0.3], 1, 8_000),  # listed first: order comes from the times
        (F1, "avg_areaUnderROC", [0.7, 0.9, 0.8], 1, 5_000),
    ):
        for index, value in enumerate(values):
            names = ["maxDepth", "maxBins"]
            if earlier_version:
                tags = {
                    TAG_MAP_INDEX: str(index),
                    TAG_FIT_ID: fit,
                    TAG_TUNED_PARAMS: json.dumps(sorted(names)),
                }
            else:
                tags = {TAG_CHILD_KEY: f"{fit}:{index}", TAG_TUNED_PARAMS: json.dumps(names)}
            if index == best:
                tags[TAG_BEST] = "true"
            children.append(
                RunView(
                    f"{fit[0]}{index}" + "0" * 30,
                    f"c{index}",
                    "FINISHED",
                    {"maxBins": "32", "maxDepth": str(index + 2)},
                    {metric: value},
                    tags,
                    1_000,
                    end,
                )
            )
    return RunLayout(parent, tuple(children))


@pytest.mark.parametrize("earlier_version", [False, True], ids=["current", "earlier-version"])
def test_render_tree_groups_children_by_fit_with_one_best_each(earlier_version: bool) -> None:
    """Two fits in one run: one group per fit in the order the fits ran, each sorted by its own
    metric and direction with one ``*``; runs of an earlier version render the same way."""
    text = render_tree(_two_fits(earlier_version=earlier_version))
    lines = text.splitlines()
    headings = [line for line in lines if line.startswith("  fit ")]
    assert headings == [
        "  fit 1 of 2: CrossValidator, 3 child runs, fit id 11111111",
        "  fit 2 of 2: TrainValidationSplit, 3 child runs, fit id 22222222",
    ]
    rows = [line for line in lines if line[4:5] in ("1", "2") and "=" in line]
    assert [row[4:6] for row in rows] == ["11", "12", "10", "21", "22", "20"]
    assert [row[:4] for row in rows] == ["  * ", "    ", "    "] * 2
    assert "avg_areaUnderROC" in lines[lines.index(headings[0]) + 1]
    assert "rmse" in lines[lines.index(headings[1]) + 1]
    assert lines[-1] == "  6 child runs; * marks the best of each fit"


def test_render_tree_shows_tuned_params_in_the_grids_order() -> None:
    """Tuned params are listed in the grid's order (the tuned_params tag), not by name."""
    layout = _two_fits(earlier_version=False)
    one_fit = RunLayout(layout.parent, tuple(c for c in layout.children if c.fit_id == F1))
    rows = [line for line in render_tree(one_fit).splitlines() if "maxDepth=" in line]
    assert rows and all(row.endswith(",maxBins=32") for row in rows)
    assert not any(line.startswith("  fit ") for line in render_tree(one_fit).splitlines())


@pytest.mark.parametrize("port", ["0", "65536", "99999", "-1", "abc"], ids=str)
def test_ui_port_out_of_range_exits_2_before_the_store_is_looked_at(
    port: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``ui --port`` outside 1..65535 exits 2 with one line naming the value and the range, even
    where there is no store (the port is checked first)."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(["ui", "--port", port])
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1 and f"from 1 to 65535, got {port!r}" in err, err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(
            ["--tracking-uri", "sqlite:////nonexistent/mlflow.db"],
            "no MLflow store at 'sqlite:////nonexistent/mlflow.db'",
            id="no-store",
        ),
        pytest.param(
            ["--tracking-uri", "http://127.0.0.1:5000"], "serves its own UI", id="a-server"
        ),
        pytest.param([], "no MLflow store at 'sqlite:///", id="no-demo-store-here"),
        pytest.param(["--tracking-uri", "foo://bar"], "is not a sqlite store", id="foo-scheme"),
        pytest.param(
            ["--tracking-uri", "file:///tmp/nope/mlruns"], "is not a sqlite store", id="file-store"
        ),
    ],
)
def test_ui_bad_store_exits_2_with_one_line(
    argv: list[str],
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``ui`` without a store to show exits 2 with one line naming the URI and what to do."""
    monkeypatch.chdir(tmp_path)
    assert main(["ui", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1 and expected in err, err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b"garbage\n", "the file is not a SQLite database", id="not-sqlite"),
        pytest.param(b"", "the file is empty", id="empty"),
        pytest.param(None, "a SQLite database without MLflow's tables", id="other-sqlite"),
        pytest.param("dir", "names a folder", id="a-folder"),
    ],
)
def test_ui_over_a_file_that_is_no_mlflow_store_exits_2_and_leaves_it_as_it_was(
    content: bytes | str | None,
    expected: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """mlflow server would print a traceback of 60 lines for a file that is not SQLite, and
    turn an empty file or another SQLite database into an MLflow store: one line, exit 2, the
    file unchanged."""
    import sqlite3

    path = tmp_path / "store.db"
    if content == "dir":
        path.mkdir()
    elif content is None:
        with contextlib.closing(sqlite3.connect(path)) as connection:
            connection.execute("CREATE TABLE notes (text)")
            connection.commit()
    else:
        assert isinstance(content, bytes)
        path.write_bytes(content)
    before = None if path.is_dir() else path.read_bytes()
    assert main(["ui", "--tracking-uri", f"sqlite:///{path}"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1 and expected in err, err
    assert before is None or path.read_bytes() == before


def test_ui_port_in_use_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``ui`` on a port something listens on exits 2 naming the port, before starting anything."""
    import socket
    import sqlite3

    monkeypatch.chdir(tmp_path)
    with contextlib.closing(sqlite3.connect(tmp_path / "mlflow.db")) as store:
        store.execute("CREATE TABLE experiments (experiment_id)")  # an MLflow store's shape
        store.commit()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["ui", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and f"port {port} on 127.0.0.1 is in use" in err, err


def test_the_demos_ui_command_runs_as_printed(tmp_path: Path) -> None:
    """The demo's last line names a ``ui`` command that runs from the demo's directory (here with
    ``--help``: no server), with ``--tracking-uri`` only for a store other than ./mlflow.db."""
    import shlex
    import subprocess

    from legacy_mllib_tracking.demo import ui_command

    command = ui_command(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path)
    assert command.endswith(" ui"), command
    done = subprocess.run(
        [*shlex.split(command), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "127.0.0.1" in done.stdout
    elsewhere = ui_command("sqlite:////elsewhere/my store.db", tmp_path)
    assert elsewhere.endswith(" ui --tracking-uri 'sqlite:////elsewhere/my store.db'")


@pytest.mark.parametrize("text", ['{"hello": 1}', "{not json", "#!/bin/sh\necho hi\n"])
def test_replay_of_a_named_file_that_is_no_spool_file_exits_2(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file named on its own that is no spool file (damaged, or another file) is an error,
    not "nothing to replay"; the file is left as it was."""
    path = tmp_path / "fit.json"
    path.write_text(text)
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "not a spool file" in err and str(path) in err
    assert path.read_text() == text


def test_tree_against_databricks_without_credentials_is_one_line_naming_the_store(
    tmp_path: Path,
) -> None:
    """``--tracking-uri databricks`` without credentials is one stderr line, exit 2, saying the
    store could not be read (not that the run was not found, nor mlflow's own log lines)."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "MLFLOW_"))}
    env["HOME"] = str(tmp_path)  # no ~/.databrickscfg
    argv = ["tree", "abc", "--tracking-uri", "databricks"]
    result = run_python("-m", "legacy_mllib_tracking", *argv, cwd=tmp_path, env=env, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot read run 'abc' from tracking store 'databricks' (--tracking-uri)" in lines[0]
    assert "not found" not in lines[0]


def test_tree_of_a_run_the_store_does_not_have_says_not_found_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run id the (existing) store does not have: one stderr line, exit 2, naming the id and
    the store, without mlflow's own message repeating it."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.MlflowClient(tracking_uri=uri).create_experiment("e")  # the store exists
    capsys.readouterr()  # mlflow's lines about creating it
    assert main(["tree", "abc", "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"run 'abc' not found in tracking store '{uri}'"), err
    assert len(err.splitlines()) == 1 and err.count("not found") == 1, err


@pytest.mark.parametrize("command", [["tree", "abc"], ["replay", "."]])
def test_a_tracking_uri_of_an_unknown_scheme_is_one_line_listing_what_is_accepted(
    command: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--tracking-uri ftp://...``: exit 2, one line naming the URI (credentials hidden) and
    the accepted kinds of store, not mlflow's message about its model registry."""
    monkeypatch.chdir(tmp_path)
    assert main([*command, "--tracking-uri", "ftp://user:secret@host/x"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "mlflow has no tracking store for ftp://" in err and "sqlite:///" in err, err
    assert "registry" not in err and "secret" not in err, err


# --- a path that does not exist: one wording, one line, exit 2 -----------------------------------

MISSING = ["nope.py", "nope.txt", "nope.dbc", "nope.ipynb", "no-folder"]


@pytest.mark.parametrize("command", ["scan", "migrate", "replay"])
@pytest.mark.parametrize("name", MISSING)
def test_a_missing_path_is_one_line_on_stderr_in_one_wording(
    command: str, name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """scan, migrate and replay given a path that does not exist exit 2 with one stderr line,
    worded the same whatever the command or the file's kind, and print nothing on stdout."""
    missing = tmp_path / name
    assert main([command, str(missing)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"legacy-mllib-tracking {command}: error: PATH {str(missing)!r}: no such file or directory"
    ]


def test_every_missing_path_is_named_in_the_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two missing paths among real ones: nothing is scanned, one line names both."""
    (tmp_path / "real.py").write_text("x = 1\n")
    argv = ["scan", str(tmp_path / "a.py"), str(tmp_path / "real.py"), str(tmp_path / "b")]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    [line] = err.splitlines()
    assert f"{str(tmp_path / 'a.py')!r}, {str(tmp_path / 'b')!r}: no such file" in line


# --- a reader that leaves early -----------------------------------------------------------------

OSS = ["--target", "oss"]
#: A notebook that relied on the retired tracker: a CrossValidator fit in a run of its own.
TUNING_CELLS = [
    "import mlflow\nfrom pyspark.ml.classification import LogisticRegression\n"
    "from pyspark.ml.evaluation import BinaryClassificationEvaluator\n"
    "from pyspark.ml.tuning import CrossValidator, ParamGridBuilder",
    "lr = LogisticRegression()\ngrid = ParamGridBuilder().addGrid(lr.regParam, [0.1]).build()\n"
    "cv = CrossValidator(estimator=lr, estimatorParamMaps=grid,\n"
    "                    evaluator=BinaryClassificationEvaluator())",
    "with mlflow.start_run():\n    model = cv.fit(train)",
]


@pytest.mark.parametrize(
    ("argv", "status"),
    [
        pytest.param(["explain", "--runtime", "9.1"], 0, id="explain"),
        pytest.param(["scan", "{folder}", *OSS, "--format", "json"], 1, id="scan-json-migrate"),
        pytest.param(["scan", "{folder}", *OSS, "--format", "sarif"], 1, id="scan-sarif"),
        pytest.param(["migrate", "{folder}", *OSS], 1, id="migrate-diff-pending"),
        pytest.param(["explain", "--help"], 0, id="help"),
    ],
)
def test_a_closed_stdout_is_quiet_and_keeps_the_commands_own_status(
    argv: list[str], status: int, tmp_path: Path
) -> None:
    """With stdout closed before the first line, a command ends without a word on stderr and
    with the status it has when every line is read (no 141, no timing)."""
    import os
    import subprocess
    import sys

    folder = tmp_path / "ws"
    folder.mkdir()
    for i in range(3):
        write_source(folder / f"nb{i}.py", TUNING_CELLS)
    words = [word.format(folder=folder) for word in argv]
    command = [sys.executable, "-m", "legacy_mllib_tracking", *words]
    read = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert read.returncode == status, read.stderr
    repo = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader leaves before the first line
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == status, err
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert err == read.stderr.replace("\r\n", "\n"), err


def test_replay_with_nothing_to_replay_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No spool folder yet, or an empty one: exit 0, and the line names the folder it read."""
    spool = tmp_path / "spool"
    monkeypatch.setenv("LEGACY_MLLIB_TRACKING_SPOOL_DIR", str(spool))
    assert main(["replay"]) == 0
    assert capsys.readouterr().out == f"nothing to replay in {spool}\n"
    spool.mkdir()
    assert main(["replay", str(spool)]) == 0
    assert capsys.readouterr().out == f"nothing to replay in {spool}\n"


def test_demo_refuses_a_read_only_store_before_spark_starts(tmp_path: Path) -> None:
    """A sqlite store that refuses writes (read-only for root too: write version 3 in its
    header) is one line and exit 2 before Spark starts, not tracebacks after it; a writable
    store is not touched by the check."""
    import sqlite3

    store = tmp_path / "ro.db"
    with contextlib.closing(sqlite3.connect(store)) as connection:
        connection.execute("CREATE TABLE experiments (experiment_id)")
        connection.commit()
    with store.open("r+b") as file:
        file.seek(18)
        file.write(b"\x03")
    result = run_python(
        "-m", "legacy_mllib_tracking", "demo", "--tracking-uri", f"sqlite:///{store}", cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert "attempt to write a readonly database" in line and "--tracking-uri" in line, line
    assert "Traceback" not in result.stderr and result.stdout == ""
