"""The history store: a directory of one immutable JSON summary per run.

::

    STORE/runs/20261206T231500Z-3f2a9c1d0b7e-1a2b3c4d.json   one run, never rewritten
    STORE/acks/...json          a change acknowledged (chatload history ack)
    STORE/reported/...json      the change points an analyze reported
    STORE/index.sqlite          the runs' summaries, rebuilt from runs/ when stale

Every file is written whole under a new name (a temporary file renamed), so that
parallel CI jobs adding runs never conflict. The index is a cache: it is brought
up to date from the JSON files whenever it lacks one or holds one that changed,
and deleting it loses nothing. A file that is not a run's summary is named and
skipped, and the rest is read.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from chatload.errors import ConfigError

__all__ = ["FORMAT", "Ack", "RunSummary", "Store", "now", "summaries_of"]

FORMAT: Final = "chatload-history/1"


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One run: where and what it ran (``meta``), and its figures."""

    name: str  # the file's name in runs/
    meta: dict[str, Any]
    figures: dict[str, float]

    @property
    def time(self) -> str:
        return str(self.meta.get("time", ""))

    @property
    def commit(self) -> str:
        return str(self.meta.get("commit") or "")

    @property
    def scenario(self) -> str:
        return str(self.meta.get("scenario") or "")

    @property
    def machine(self) -> str:
        return str((self.meta.get("machine") or {}).get("fingerprint") or "")

    @classmethod
    def parse(cls, name: str, text: str) -> RunSummary:
        """A summary from its file's text; ValueError saying why it is not one."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f'not a chatload run summary (no "format": "{FORMAT}")')
        meta, figures = data.get("run"), data.get("figures")
        if not isinstance(meta, dict) or not isinstance(figures, dict):
            raise ValueError('a summary needs a "run" object and a "figures" object')
        values = {}
        for figure, value in figures.items():
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValueError(f"figure {figure!r} is not a number: {value!r}")
            values[str(figure)] = float(value)
        return cls(name, meta, values)

    def to_json(self) -> str:
        return json.dumps(
            {"format": FORMAT, "run": self.meta, "figures": self.figures}, indent=1, sort_keys=True
        )


@dataclass(frozen=True, slots=True)
class Ack:
    commit: str
    series: str  # a pattern over "scenario:figure" (fnmatch)
    reason: str
    time: str


@dataclass
class Store:
    root: Path
    problems: list[str] = field(default_factory=list)  # files named and skipped

    def __post_init__(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"--store {self.root} is a file: give a directory")

    @property
    def location(self) -> str:
        return str(self.root)

    def add(self, summary: RunSummary) -> Path:
        """Write one run's summary under a new name; its path."""
        return _write_new(self.root / "runs", summary.name, summary.to_json())

    def runs(self) -> list[RunSummary]:
        """Every run's summary, through the index (brought up to date first)."""
        folder = self.root / "runs"
        files = {p.name: p.stat() for p in folder.glob("*.json")} if folder.is_dir() else {}
        if not files and not self.root.is_dir():
            raise ConfigError(f"no history store at {self.root}: record a run into it first")
        self.root.mkdir(parents=True, exist_ok=True)
        with _index(self.root / "index.sqlite") as index:
            known = {
                name: (size, mtime)
                for name, size, mtime in index.execute("SELECT name, size, mtime_ns FROM runs")
            }
            stale = [n for n, st in files.items() if known.get(n) != (st.st_size, st.st_mtime_ns)]
            gone = [name for name in known if name not in files]
            index.executemany("DELETE FROM runs WHERE name = ?", [(n,) for n in gone + stale])
            index.executemany(
                "INSERT INTO runs VALUES (?, ?, ?, ?)",
                [
                    (n, files[n].st_size, files[n].st_mtime_ns, self._text(folder / n))
                    for n in stale
                ],
            )
            rows = index.execute("SELECT name, body FROM runs WHERE body IS NOT NULL").fetchall()
        readable = {name for name, _ in rows}
        self.problems.extend(
            f"{folder / name}: skipped, unreadable" for name in files if name not in readable
        )
        return summaries_of(rows, lambda name: str(folder / name), self.problems)

    def _text(self, path: Path) -> str | None:
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def acks(self) -> list[Ack]:
        acks = []
        for path, data in self._records("acks"):
            try:
                acks.append(
                    Ack(
                        str(data["commit"]),
                        str(data["series"]),
                        str(data["reason"]),
                        str(data.get("time", "")),
                    )
                )
            except KeyError as exc:
                self.problems.append(f"{path}: skipped, an acknowledgement lacks {exc}")
        return acks

    def acknowledge(self, ack: Ack) -> Path:
        body = json.dumps(
            {"commit": ack.commit, "series": ack.series, "reason": ack.reason, "time": ack.time}
        )
        return _write_new(self.root / "acks", _stamped(ack.commit), body)

    def reported(self) -> set[tuple[str, str]]:
        """(series, commit) of every change point an analyze reported before."""
        points: set[tuple[str, str]] = set()
        for path, data in self._records("reported"):
            try:
                points.update((str(series), str(commit)) for series, commit in data["points"])
            except (KeyError, TypeError, ValueError):
                self.problems.append(f"{path}: skipped, not a list of reported change points")
        return points

    def report(self, points: list[tuple[str, str]]) -> None:
        if points:
            body = json.dumps({"time": now(), "points": points})
            _write_new(self.root / "reported", _stamped("analyze"), body)

    def _records(self, folder: str) -> list[tuple[Path, dict[str, Any]]]:
        records = []
        for path in sorted((self.root / folder).glob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
            except (OSError, ValueError) as exc:
                self.problems.append(f"{path}: skipped, {exc}")
                continue
            records.append((path, data))
        return records


def summaries_of(
    rows: list[tuple[str, str]], where: Callable[[str], str], problems: list[str]
) -> list[RunSummary]:
    """The summaries among (name, body) rows, in time order; each row that is not one
    named (``where``) in ``problems`` and skipped."""
    summaries = []
    for name, body in rows:
        try:
            summaries.append(RunSummary.parse(name, body))
        except ValueError as exc:
            problems.append(f"{where(name)}: skipped, {exc}")
    return sorted(summaries, key=lambda run: (run.time, run.name))


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamped(label: str) -> str:
    """A new file name: the time, a label, and a random part no other job shares."""
    time = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    safe = "".join(c if c.isalnum() else "-" for c in label)[:12] or "run"
    return f"{time}Z-{safe}-{uuid.uuid4().hex[:8]}.json"


def summary_name(commit: str) -> str:
    return _stamped(commit or "nocommit")


def _write_new(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    scratch = folder / f".{name}.{os.getpid()}.tmp"
    scratch.write_text(text + "\n", encoding="utf-8")
    scratch.replace(path)
    return path


class _index:  # noqa: N801 (a context manager read as a phrase)
    """The SQLite index, committed on leaving; a broken one is rebuilt."""

    def __init__(self, path: Path, connect: Callable[..., sqlite3.Connection] = sqlite3.connect):
        self.path, self.connect = path, connect

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.db = self._open()
        except sqlite3.DatabaseError:
            self.path.unlink(missing_ok=True)
            self.db = self._open()
        return self.db

    def _open(self) -> sqlite3.Connection:
        db = self.connect(self.path, timeout=30)
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS runs "
                "(name TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, body TEXT)"
            )
        except sqlite3.DatabaseError:
            db.close()  # not a database: closed before it is rebuilt
            raise
        return db

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.db.commit()
        self.db.close()
