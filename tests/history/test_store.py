"""The history store: immutable summaries, an index rebuilt from them, bad files skipped."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from chatload.errors import ConfigError
from chatload.history.store import Ack, RunSummary, Store, summary_name


def _summary(commit: str, time: str, p99: float) -> RunSummary:
    meta = {"time": time, "commit": commit, "scenario": "smoke", "machine": {"fingerprint": "m1"}}
    return RunSummary(summary_name(commit), meta, {"send_ack.p99_ms": p99})


def test_runs_come_back_in_time_order_through_the_index(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    for i, time in enumerate(("2026-12-03", "2026-12-01", "2026-12-02")):
        store.add(_summary(f"c{i}", time, 10.0 + i))
    runs = store.runs()
    assert [run.commit for run in runs] == ["c1", "c2", "c0"]
    assert runs[0].figures == {"send_ack.p99_ms": 11.0} and runs[0].machine == "m1"
    assert (tmp_path / "store" / "index.sqlite").exists()
    # The index is a cache: rows it holds for files gone are dropped, new files read.
    (tmp_path / "store" / "runs" / runs[0].name).unlink()
    store.add(_summary("c3", "2026-12-04", 13.0))
    assert [run.commit for run in Store(tmp_path / "store").runs()] == ["c2", "c0", "c3"]


def test_a_missing_or_broken_index_is_rebuilt(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.add(_summary("a", "2026-12-01", 10.0))
    store.runs()
    (tmp_path / "index.sqlite").write_bytes(b"not a database at all" * 100)
    assert [run.commit for run in Store(tmp_path).runs()] == ["a"]
    (tmp_path / "index.sqlite").unlink()
    assert [run.commit for run in Store(tmp_path).runs()] == ["a"]
    with closing(sqlite3.connect(tmp_path / "index.sqlite")) as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (1,)


def test_a_corrupt_or_foreign_file_is_named_and_skipped(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.add(_summary("a", "2026-12-01", 10.0))
    runs = tmp_path / "runs"
    (runs / "corrupt.json").write_text('{"format": "chatload-history/1", "run": {', "utf-8")
    (runs / "foreign.json").write_text(json.dumps({"name": "someone else's"}), "utf-8")
    (runs / "words.json").write_text(
        json.dumps({"format": "chatload-history/1", "run": {}, "figures": {"x.p50_ms": "fast"}}),
        "utf-8",
    )
    assert [run.commit for run in store.runs()] == ["a"]
    named = "\n".join(store.problems)
    assert "corrupt.json: skipped" in named and "foreign.json: skipped, not a chatload" in named
    assert "words.json: skipped, figure 'x.p50_ms' is not a number" in named


def test_acks_and_reported_points_are_kept_as_files_of_their_own(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.acknowledge(Ack("abc1234", "smoke:*", "a new CI machine", "2026-12-06"))
    store.report([("smoke:send_ack.p99_ms@m1", "abc1234")])
    store.report([("smoke:delivery.p99_ms@m1", "def5678")])
    assert store.acks() == [Ack("abc1234", "smoke:*", "a new CI machine", "2026-12-06")]
    assert store.reported() == {
        ("smoke:send_ack.p99_ms@m1", "abc1234"),
        ("smoke:delivery.p99_ms@m1", "def5678"),
    }
    assert len(list((tmp_path / "reported").glob("*.json"))) == 2  # never rewritten


def test_no_store_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no history store at .*: record a run into it first"):
        Store(tmp_path / "nothing").runs()
    (tmp_path / "file").write_text("x", "utf-8")
    with pytest.raises(ConfigError, match="is a file: give a directory"):
        Store(tmp_path / "file")
