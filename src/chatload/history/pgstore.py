"""The history store in a PostgreSQL database (``--store postgresql://...``).

The runs, acknowledgements and reported change points a directory store keeps as
files, kept as rows::

    chatload_history_runs      name (the file name a directory would give), body
                               (the summary's JSON text), added
    chatload_history_acks      commit, series, reason, time
    chatload_history_reported  series, commit, time

A run's row is inserted once, under a name no other job shares, and never updated:
parallel CI jobs only ever insert. The body is kept as the text a directory's file
holds, so a row that is not a run's summary is named and skipped as a file would be.
The tables are created when missing, under an advisory lock (two first jobs at once
would otherwise race to create them); once they are there, a connection only looks
(``to_regclass``), so that a job with a user that may only read and insert (an
analysis in CI) needs no right to create tables. psycopg, chatload's ``postgres``
extra, talks to the server.
"""

from __future__ import annotations

import urllib.parse
from typing import Any, Final

from chatload.errors import ConfigError
from chatload.history.store import Ack, RunSummary, now, summaries_of

__all__ = ["SCHEMES", "PostgresStore"]

SCHEMES: Final = ("postgresql://", "postgres://")
_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS chatload_history_runs "
    "(name TEXT PRIMARY KEY, body TEXT NOT NULL, added TIMESTAMPTZ NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS chatload_history_acks (id BIGSERIAL PRIMARY KEY, "
    "commit TEXT NOT NULL, series TEXT NOT NULL, reason TEXT NOT NULL, time TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS chatload_history_reported (id BIGSERIAL PRIMARY KEY, "
    "series TEXT NOT NULL, commit TEXT NOT NULL, time TEXT NOT NULL)",
)
_SCHEMA_LOCK: Final = 0x63686174  # "chat": the advisory lock the schema is created under
_TABLES: Final = ("chatload_history_runs", "chatload_history_acks", "chatload_history_reported")


class PostgresStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.location = _without_password(url)
        self.problems: list[str] = []  # rows named and skipped

    def add(self, summary: RunSummary) -> str:
        with self._connect() as db:
            db.execute(
                "INSERT INTO chatload_history_runs (name, body) VALUES (%s, %s)",
                (summary.name, summary.to_json()),
            )
        return f"{self.location} run {summary.name}"

    def runs(self) -> list[RunSummary]:
        with self._connect() as db:
            rows = db.execute("SELECT name, body FROM chatload_history_runs").fetchall()
        return summaries_of(rows, lambda name: f"{self.location} run {name}", self.problems)

    def acks(self) -> list[Ack]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT commit, series, reason, time FROM chatload_history_acks ORDER BY id"
            ).fetchall()
        return [Ack(*row) for row in rows]

    def acknowledge(self, ack: Ack) -> str:
        with self._connect() as db:
            row = db.execute(
                "INSERT INTO chatload_history_acks (commit, series, reason, time) "
                "VALUES (%s, %s, %s, %s) RETURNING id",
                (ack.commit, ack.series, ack.reason, ack.time),
            ).fetchone()
        return f"{self.location} acknowledgement {row[0] if row else '?'}"

    def reported(self) -> set[tuple[str, str]]:
        with self._connect() as db:
            rows = db.execute("SELECT series, commit FROM chatload_history_reported").fetchall()
        return {(str(series), str(commit)) for series, commit in rows}

    def report(self, points: list[tuple[str, str]]) -> None:
        if not points:
            return
        with self._connect() as db, db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO chatload_history_reported (series, commit, time) VALUES (%s, %s, %s)",
                [(series, commit, now()) for series, commit in points],
            )

    def _connect(self) -> Any:
        """A connection with the tables there, committed on leaving its ``with``."""
        try:
            import psycopg
        except ImportError:
            raise ConfigError(
                f"--store {self.location}: a PostgreSQL store needs psycopg; "
                "pip install 'chatload[postgres]'"
            ) from None
        try:
            db = psycopg.connect(self.url, connect_timeout=10)
        except psycopg.Error as exc:
            raise ConfigError(self._unusable(exc)) from None
        try:
            there = db.execute(
                "SELECT " + ", ".join(["to_regclass(%s) IS NOT NULL"] * len(_TABLES)), _TABLES
            ).fetchone()
            db.commit()  # the look's transaction: the tables' own is below
            if not (there and all(there)):
                with db.transaction():
                    db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                    for statement in _SCHEMA:
                        db.execute(statement)
        except psycopg.Error as exc:
            db.close()
            raise ConfigError(self._unusable(exc)) from None
        return db

    def _unusable(self, exc: Exception) -> str:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            f"--store {self.location}: {reason}; check the URL, and that the server runs "
            "and lets this user create tables"
        )


def _without_password(url: str) -> str:
    """The URL as messages show it: its password left out."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
