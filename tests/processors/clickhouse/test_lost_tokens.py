"""A store killed inside an insert leaves a token without its part; the next open forgets the token.

The engine test rebuilds on chDB's own disk the state such a kill leaves (the table's
deduplication log names a part that is still `tmp_insert_…`) in each table of one insert's
chain, raw_events, a KPI's minute rollup and its hourly level, and shows that without the
mend the replay is dropped there for good, and with it the replay lands exactly once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from processors.clickhouse.lost_tokens import PartRange, forget_lost_tokens


def table_dir(root: Path, uuid: str, parts: list[str], log: str) -> Path:
    """A table directory as chDB keeps one, with its metadata file naming it."""
    path = root / "store" / uuid[:3] / uuid
    (path / "deduplication_logs").mkdir(parents=True)
    (path / "detached").mkdir()
    (path / "format_version.txt").write_text("1")
    for part in parts:
        (path / part).mkdir()
    (path / "deduplication_logs" / "deduplication_log_1.txt").write_text(log)
    (root / "metadata" / "db").mkdir(parents=True, exist_ok=True)
    (root / "metadata" / "db" / "t.sql").write_text(f"ATTACH TABLE _ UUID '{uuid}'\n(\n    `x` UInt8\n)\n")
    return path


UUID = "e919b718-c1d9-4e44-83f7-18258b37a0bd"


def test_a_token_whose_part_is_missing_is_forgotten_with_a_drop_record(tmp_path):
    log = "1\t202601_1_1_0\ttokA\n1\t202601_2_2_0\ttokB\n"
    path = table_dir(tmp_path, UUID, ["202601_1_1_0", "tmp_insert_202601_2_2_0"], log)

    lost = forget_lost_tokens(tmp_path)

    assert [(x.table, x.part, x.token) for x in lost] == [("db.t", "202601_2_2_0", "tokB")]
    assert (path / "deduplication_logs" / "deduplication_log_1.txt").read_text() == log  # untouched
    assert (path / "deduplication_logs" / "deduplication_log_2.txt").read_text() == "2\t202601_2_2_0\ttokB\n"
    assert forget_lost_tokens(tmp_path) == []  # forgotten once: the drop record is read back


def test_tokens_of_merged_mutated_and_dropped_parts_are_kept(tmp_path):
    log = (
        "1\t202601_1_1_0\tmerged\n"  # merged into 202601_1_3_1
        "1\t202601_3_3_0\tmutated\n"  # inside 202601_1_3_1_7 too
        "1\t202602_4_4_0\tdropped\n"
        "2\t202602_4_4_0\tdropped\n"  # ClickHouse dropped the part and its token itself
        "1\tall_5_5_0\tother_partition\n"  # partition `all` has no part: lost
    )
    table_dir(tmp_path, UUID, ["202601_1_3_1_7", "202602_9_9_0", "all_6_6_0"], log)

    assert [(x.part, x.token) for x in forget_lost_tokens(tmp_path)] == [("all_5_5_0", "other_partition")]


def test_a_log_cut_mid_line_gets_a_new_one_for_clickhouse_to_append_to(tmp_path):
    log = "1\t202601_1_1_0\ttokA\n1\t202601_2_2"  # a torn write: ClickHouse stops reading there
    path = table_dir(tmp_path, UUID, ["202601_1_1_0"], log)

    assert forget_lost_tokens(tmp_path) == []
    logs = path / "deduplication_logs"
    assert sorted(p.name for p in logs.iterdir()) == ["deduplication_log_1.txt", "deduplication_log_2.txt"]
    assert (logs / "deduplication_log_1.txt").read_text() == log
    assert (logs / "deduplication_log_2.txt").read_text() == ""
    assert forget_lost_tokens(tmp_path) == []  # the new log ends whole: nothing more
    assert len(list(logs.iterdir())) == 2


def test_a_store_open_in_another_process_is_left_alone(tmp_path):
    log = "1\t202601_1_1_0\ttokA\n1\t202601_2_2_0\ttokB\n"  # tokB's part is being renamed right now
    path = table_dir(tmp_path, UUID, ["202601_1_1_0", "tmp_insert_202601_2_2_0"], log)
    owner = subprocess.Popen(  # holds the status file's lock as chDB does while it has the store open
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
            " fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
            str(tmp_path / "status"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "locked"
        assert forget_lost_tokens(tmp_path) is None
    finally:
        owner.kill()
        owner.wait()
    assert sorted(p.name for p in (path / "deduplication_logs").iterdir()) == ["deduplication_log_1.txt"]
    assert [x.token for x in forget_lost_tokens(tmp_path) or []] == ["tokB"]  # once it is closed
    assert (tmp_path / "status").exists()  # the owner's, left by its kill: chDB reads it at start


def test_a_status_file_replaced_under_the_lock_counts_as_open(tmp_path, monkeypatch):
    """chDB deletes its status file as it closes; a lock on the deleted one proves nothing."""
    table_dir(tmp_path, UUID, ["202601_1_1_0"], "1\t202601_1_1_0\ttokA\n1\t202601_2_2_0\ttokB\n")
    plain_stat = os.stat

    def replaced(path, *args, **kwargs):
        if str(path) == str(tmp_path / "status"):  # a new chDB made its own after this one's open
            (tmp_path / "status").unlink()
            (tmp_path / "status").write_text("")
        return plain_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", replaced)
    assert forget_lost_tokens(tmp_path) is None
    monkeypatch.setattr(os, "stat", plain_stat)
    assert [x.token for x in forget_lost_tokens(tmp_path) or []] == ["tokB"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("202601_1_3_1", PartRange("202601", 1, 3)),
        ("all_5_5_0_12", PartRange("all", 5, 5)),
        ("tmp_insert_202601_2_2_0", None),
        ("detached", None),
        ("format_version.txt", None),
        ("202601_1_x_0", None),
    ],
)
def test_part_names(name, expected):
    assert PartRange.parse(name) == expected


# --- the engine: chDB's own files, in processes of their own (one data path per process) ---


def chdb_step(data_dir: Path, step: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "tests.processors.clickhouse.lost_tokens_steps", str(data_dir), step],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).parents[3],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "stderr": done.stderr}


def kill_inside_the_insert(table: Path) -> str:
    """The part the insert made, back to the temporary name it had when its token was logged."""
    [part] = [p for p in table.iterdir() if PartRange.parse(p.name) is not None]
    part.rename(table / f"tmp_insert_{part.name}")
    return part.name


@pytest.mark.slow
@pytest.mark.parametrize("level", ["raw_events", "minute", "hourly"])
def test_a_block_whose_part_a_kill_lost_lands_on_replay_once(tmp_path, level):
    data = tmp_path / "okrstream"
    landed = chdb_step(data, "land")
    assert landed["counts"] == {"raw_events": 50, "minute": 50, "hourly": 50}

    part = kill_inside_the_insert(Path(landed["paths"][level]))
    lost = dict(landed["counts"], **{level: 0})  # the other tables landed their parts
    unmended = tmp_path / "unmended"
    shutil.copytree(data, unmended, symlinks=True)

    # Without the mend, the table keeps the token and drops every replay: the block is lost.
    assert chdb_step(unmended, "replay")["counts"] == lost

    mended = chdb_step(data, "mend")
    assert mended["counts"] == {"raw_events": 50, "minute": 50, "hourly": 50}
    assert f"for part {part}, which never landed" in mended["stderr"]
