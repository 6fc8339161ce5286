"""Spool files: written atomically without secrets, read back with their version checked (no
Spark, no MLflow store)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from legacy_mllib_tracking._spool import (
    ENV_SPOOL_DIR,
    SPOOL_VERSION,
    NotSpoolFile,
    default_spool_dir,
    read_record,
    rewrite_record,
    write_spool,
)


def test_spool_file_is_json_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spool record is written atomically as JSON, with secrets redacted."""
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-abcdef")
    path = write_spool(
        {"fit_id": "f" * 32, "tracking_uri": "https://u:dapi-abcdef@h", "children": []},
        tmp_path,
    )
    text = path.read_text()
    assert "dapi-abcdef" not in text
    record = json.loads(text)
    assert record["version"] == SPOOL_VERSION and record["fit_id"] == "f" * 32
    assert not list(tmp_path.glob("*.tmp"))


def test_two_spool_files_of_one_fit_in_one_second_are_both_kept(tmp_path: Path) -> None:
    """A fit's layout and its run's end, spooled in the same second, land in two files."""
    first = write_spool({"fit_id": "f" * 32, "children": [{"index": 0}]}, tmp_path)
    second = write_spool({"fit_id": "f" * 32, "children": [], "end_parent": "FINISHED"}, tmp_path)
    assert first != second
    assert json.loads(first.read_text())["children"] == [{"index": 0}]
    assert json.loads(second.read_text())["end_parent"] == "FINISHED"
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".json"]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        pytest.param("{not json", "not JSON", id="not-json"),
        pytest.param('{"name": "x", "version": "1.0"}', "no spool file version", id="package-json"),
        pytest.param(
            '{"fit_id": "f", "version": true}', "no spool file version", id="bool-version"
        ),
        pytest.param('{"fit_id": "f", "version": 1, "children": {}}', "children", id="shape"),
    ],
)
def test_read_record_refuses_files_that_are_no_spool_files(
    tmp_path: Path, text: str, why: str
) -> None:
    """A file without a spool file's version, fit_id and shape is no spool file, and says why."""
    path = tmp_path / "other.json"
    path.write_text(text)
    with pytest.raises(NotSpoolFile, match=why):
        read_record(path)


def test_read_record_reads_known_versions_and_names_an_unknown_one(tmp_path: Path) -> None:
    """Every version up to the current one is read; a newer one is a ValueError naming it."""
    written = write_spool({"fit_id": "f" * 32, "children": []}, tmp_path)
    assert read_record(written)["fit_id"] == "f" * 32
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"fit_id": "e" * 32, "version": 1}))
    assert read_record(old)["version"] == 1
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({"fit_id": "d" * 32, "version": SPOOL_VERSION + 1}))
    with pytest.raises(ValueError, match=f"version {SPOOL_VERSION + 1} is not one"):
        read_record(newer)


def test_rewrite_record_replaces_the_record_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    """A record written back into its file is read back as written, with no *.tmp left over."""
    path = write_spool({"fit_id": "f" * 32, "children": []}, tmp_path)
    record = read_record(path)
    record["parent_run_id"] = "r" * 32
    rewrite_record(path, record)
    assert read_record(path)["parent_run_id"] == "r" * 32
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_default_spool_dir_follows_its_env_then_the_user_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spool folder is $LEGACY_MLLIB_TRACKING_SPOOL_DIR, else under $XDG_CACHE_HOME."""
    monkeypatch.setenv(ENV_SPOOL_DIR, str(tmp_path / "here"))
    assert default_spool_dir() == tmp_path / "here"
    monkeypatch.delenv(ENV_SPOOL_DIR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_spool_dir() == tmp_path / "cache" / "legacy-mllib-tracking" / "spool"


def test_a_spool_folder_is_replayed_by_one_replay_at_a_time(tmp_path: Path) -> None:
    """replay's folder lock: free -> held; held by another open file (another replay) ->
    not held; free again once that one closes; a folder where the lock file cannot be created
    -> replayed unlocked."""
    from legacy_mllib_tracking.replay import _folder_lock

    with _folder_lock(tmp_path) as first:
        assert first is True
        with _folder_lock(tmp_path) as second:  # another open file description
            assert second is False
    with _folder_lock(tmp_path) as again:
        assert again is True
    assert (tmp_path / ".replay.lock").is_file()
    with _folder_lock(tmp_path / "no such folder") as unlocked:
        assert unlocked is True
