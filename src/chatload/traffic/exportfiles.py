"""A traffic export as files: read (with one clear line per problem) and written.

``messages.csv`` (required): ``chat_id, message_id, from_user_id, to_user_id,
created_at``, optionally ``text_length, photo_count`` and ``owner_id`` (else a
``chats.csv`` with ``chat_id, owner_id``). ``reads.csv`` (optional): ``chat_id,
user_id, last_read_message_id, read_at``. ``sessions.csv`` (optional): ``user_id,
connected_at, disconnected_at``. Times are ISO 8601 (``2026-12-06T18:01:02.345Z``,
a missing zone is UTC) or Unix seconds. The reference server's database
(``--db``) gives the messages it was sent (not its provisioned history).

A problem is a :class:`~chatload.errors.ConfigError` naming the file, the line and
what is wrong: a missing column, a date that does not parse, message ids out of
order within a chat, fewer than ``MIN_MESSAGES`` messages, an empty file.
"""

from __future__ import annotations

import csv
import math
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import numpy as np

from chatload.errors import ConfigError
from chatload.traffic.observe import Export
from chatload.users_file import ROLES, Role

__all__ = ["MIN_MESSAGES", "read_db", "read_export", "write_export"]

MIN_MESSAGES: Final = 100
_MESSAGES: Final = ("chat_id", "message_id", "from_user_id", "to_user_id", "created_at")
_READS: Final = ("chat_id", "user_id", "last_read_message_id", "read_at")
_SESSIONS: Final = ("user_id", "connected_at", "disconnected_at")
_RUN_FLAGS: Final = ("answering", "carried_over", "cut_short")  # a run's own sessions
# The messages the reference server was sent, with their chat's other side and owner.
_SENT: Final = """
SELECT s.chat_key, s.message_id, s.from_user_id,
    CASE WHEN s.from_user_id = e.owner_id THEN c.requester_id ELSE e.owner_id END,
    s.date, length(s.text),
    CASE WHEN s.photos = '' THEN 0
        ELSE length(s.photos) - length(replace(s.photos, ',', '')) + 1 END,
    e.owner_id
FROM sent_messages AS s JOIN chats AS c ON c.chat_key = s.chat_key
JOIN events AS e ON e.id = c.event_id
ORDER BY s.chat_key, s.message_id
"""


def parse_time(path: Path, line: int, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{path}, line {line}: {text!r} is not a date (ISO 8601 or Unix seconds)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class _Chunk:
    """Up to ``_CHUNK_ROWS`` rows of a file as columns of text, with each row's line."""

    def __init__(self, path: Path, header: list[str], rows: list[list[str]], lines: list[int]):
        self.path, self.lines = path, lines
        self._at = {name: index for index, name in enumerate(header)}
        self._columns = list(zip(*rows, strict=True)) if rows else [() for _ in header]

    def __len__(self) -> int:
        return len(self.lines)

    def has(self, column: str) -> bool:
        return column in self._at

    def text(self, column: str) -> tuple[str, ...]:
        return tuple(self._columns[self._at[column]])

    def integers(self, column: str) -> np.ndarray:
        values = self.text(column)
        try:
            return np.array(values, dtype=np.int64).astype(float)
        except ValueError:
            for line, value in zip(self.lines, values, strict=True):
                _integer(self.path, line, {column: value}, column)
            raise  # unreachable: one of them did not parse

    def given_integers(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """The rows where an optional whole-number column is not blank, and its values."""
        values = self.text(column)
        given = [i for i, value in enumerate(values) if value]
        try:
            return np.array(given, dtype=np.intp), np.array(
                [values[i] for i in given], dtype=np.int64
            )
        except ValueError:
            for i in given:
                _integer(self.path, self.lines[i], {column: values[i]}, column)
            raise

    def times(self, column: str) -> np.ndarray:
        values = self.text(column)
        try:
            return np.array(values, dtype=float)  # Unix seconds, at C speed
        except ValueError:
            return np.array(
                [parse_time(self.path, line, v) for line, v in zip(self.lines, values, strict=True)]
            )

    def numbers(self, column: str) -> np.ndarray:
        """An optional column: blank is NaN."""
        if not self.has(column):
            return np.full(len(self), math.nan)
        values = self.text(column)
        try:
            return np.array([v if v != "" else "nan" for v in values], dtype=float)
        except ValueError:
            for line, value in zip(self.lines, values, strict=True):
                try:
                    float(value or "nan")
                except ValueError:
                    raise ConfigError(
                        f"{self.path}, line {line}: {column} {value!r} is not a number"
                    ) from None
            raise


_CHUNK_ROWS: Final = 65_536


def _chunks(path: Path, columns: tuple[str, ...]) -> Iterator[_Chunk]:
    """A CSV file in chunks of columns: its values converted a column at a time (the
    conversion of a million rows one by one was most of a fit's time), and a problem
    still named by its line."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ConfigError(f"{path}: empty: expected a header with {', '.join(columns)}")
        missing = [c for c in columns if c not in header]
        if missing:
            raise ConfigError(
                f"{path}: no column {', '.join(missing)} (the header has {', '.join(header)})"
            )
        rows: list[list[str]] = []
        lines: list[int] = []
        for row in reader:
            if not row:
                continue  # a blank line
            if len(row) != len(header):
                raise ConfigError(
                    f"{path}, line {reader.line_num}: {len(row)} values where the header "
                    f"has {len(header)}"
                )
            rows.append(row)
            lines.append(reader.line_num)
            if len(rows) == _CHUNK_ROWS:
                yield _Chunk(path, header, rows, lines)
                rows, lines = [], []
        if rows:
            yield _Chunk(path, header, rows, lines)


def _integer(path: Path, line: int, row: dict[str, str], column: str) -> int:
    try:
        return int(row[column])
    except (TypeError, ValueError):
        raise ConfigError(
            f"{path}, line {line}: {column} {row[column]!r} is not a whole number"
        ) from None


class _Keys:
    """Chat ids (any text) as small integers."""

    def __init__(self) -> None:
        self.of: dict[str, int] = {}

    def __call__(self, chat_id: str) -> int:
        return self.of.setdefault(chat_id, len(self.of) + 1)


def _messages(path: Path, keys: _Keys) -> tuple[np.ndarray, dict[int, int], bool, bool]:
    parts: list[np.ndarray] = []
    owners: dict[int, int] = {}
    has_length = has_photos = False
    for chunk in _chunks(path, _MESSAGES):
        chat = np.array([keys(chat_id) for chat_id in chunk.text("chat_id")], dtype=float)
        parts.append(
            np.column_stack(
                [
                    chat,
                    chunk.integers("message_id"),
                    chunk.integers("from_user_id"),
                    chunk.integers("to_user_id"),
                    chunk.times("created_at"),
                    chunk.numbers("text_length"),
                    chunk.numbers("photo_count"),
                    np.array(chunk.lines, dtype=float),
                ]
            )
        )
        has_length, has_photos = chunk.has("text_length"), chunk.has("photo_count")
        if chunk.has("owner_id"):
            given, owner_ids = chunk.given_integers("owner_id")
            owners.update(zip(chat[given].astype(int).tolist(), owner_ids.tolist(), strict=True))
    table = np.concatenate(parts) if parts else np.empty((0, 8))
    if len(table) < MIN_MESSAGES:
        raise ConfigError(f"{path}: {len(table)} messages; a fit needs at least {MIN_MESSAGES}")
    order = np.lexsort((table[:, 1], table[:, 0]))
    table = table[order]
    same = table[1:, 0] == table[:-1, 0]
    bad = same & ((table[1:, 1] <= table[:-1, 1]) | (table[1:, 4] < table[:-1, 4]))
    if bad.any():
        at = int(np.flatnonzero(bad)[0]) + 1
        raise ConfigError(
            f"{path}, line {int(table[at, 7])}: message {int(table[at, 1])} of its chat is "
            "out of order (ids must grow with created_at, once each)"
        )
    return table, owners, has_length, has_photos


def read_export(
    messages: Path,
    *,
    chats: Path | None = None,
    reads: Path | None = None,
    sessions: Path | None = None,
    time_scale: float = 1.0,
) -> Export:
    """An export from its files; times multiplied by ``time_scale`` (a run played K
    times faster, read back in the model's time)."""
    keys = _Keys()
    table, owners, has_length, has_photos = _messages(messages, keys)
    if chats is not None:
        for chunk in _chunks(chats, ("chat_id", "owner_id")):
            chat_keys = [keys(chat_id) for chat_id in chunk.text("chat_id")]
            owners.update(
                zip(chat_keys, chunk.integers("owner_id").astype(int).tolist(), strict=True)
            )
    unowned = sorted(set(table[:, 0].astype(int).tolist()) - set(owners))
    if unowned:
        name = next(k for k, v in keys.of.items() if v == unowned[0])
        raise ConfigError(
            f"{messages}: chat {name!r} has no owner: add an owner_id column or --chats chats.csv"
        )
    read_rows = _table(reads, _READS, keys, time_columns=(3,)) if reads else None
    session_rows = _sessions_table(sessions) if sessions else None
    return _export(
        table,
        owners,
        reads=read_rows,
        sessions=session_rows,
        has_length=has_length,
        has_photos=has_photos,
        time_scale=time_scale,
    )


def _sessions_table(path: Path) -> np.ndarray:
    """sessions.csv; with a run's own flags (``answering``, then ``carried_over`` and
    ``cut_short``), those too, each given for every session or for none."""
    parts = []
    for chunk in _chunks(path, _SESSIONS):
        columns = [
            chunk.integers("user_id"),
            chunk.times("connected_at"),
            chunk.times("disconnected_at"),
        ]
        for flag in _RUN_FLAGS:
            blank = (
                sum(value == "" for value in chunk.text(flag)) if chunk.has(flag) else len(chunk)
            )
            if blank not in (0, len(chunk)):
                raise ConfigError(f"{path}: {flag} is given for some sessions and not others")
            if blank:
                break  # a flag without the ones before it is not read
            columns.append(chunk.integers(flag))
        parts.append(np.column_stack(columns))
    if len({part.shape[1] for part in parts}) > 1:
        raise ConfigError(f"{path}: answering is given for some sessions and not others")
    return np.concatenate(parts) if parts else np.empty((0, 3))


def _table(
    path: Path, columns: tuple[str, ...], keys: _Keys | None, time_columns: tuple[int, ...]
) -> np.ndarray:
    parts = []
    for chunk in _chunks(path, columns):
        values = []
        for index, column in enumerate(columns):
            if index in time_columns:
                values.append(chunk.times(column))
            elif column == "chat_id" and keys is not None:
                values.append(np.array([keys(c) for c in chunk.text(column)], dtype=float))
            else:
                values.append(chunk.integers(column))
        parts.append(np.column_stack(values))
    return np.concatenate(parts) if parts else np.empty((0, len(columns)))


def _export(
    table: np.ndarray,
    owners: dict[int, int],
    *,
    reads: np.ndarray | None,
    sessions: np.ndarray | None,
    has_length: bool,
    has_photos: bool,
    time_scale: float,
) -> Export:
    origin = float(table[:, 4].min())
    if sessions is not None and len(sessions):
        origin = min(origin, float(sessions[:, 1].min()))
    # Kept on the model's clock: the hour of day of the origin stays where it was.
    base = origin - origin % 86400
    created = base + (table[:, 4] - base) * time_scale
    if reads is not None:
        reads = reads.copy()
        reads[:, 3] = base + (reads[:, 3] - base) * time_scale
    if sessions is not None:
        sessions = sessions.copy()
        sessions[:, 1:3] = base + (sessions[:, 1:3] - base) * time_scale
    roles: dict[int, Role] = {}
    owner_ids = set(owners.values())
    users = set(table[:, 2].astype(int).tolist()) | set(table[:, 3].astype(int).tolist())
    if sessions is not None:
        users |= set(sessions[:, 0].astype(int).tolist())
    for user in users:
        roles[user] = "owner" if user in owner_ids else "requester"
    ends = [created.max()]
    if sessions is not None and len(sessions):
        ends.append(float(sessions[:, 2].max()))
    if reads is not None and len(reads):
        ends.append(float(reads[:, 3].max()))
    return Export(
        chat=table[:, 0].astype(np.int64),
        message_id=table[:, 1].astype(np.int64),
        sender=table[:, 2].astype(np.int64),
        created=created,
        text_length=table[:, 5] if has_length else None,
        photos=table[:, 6] if has_photos else None,
        owner_of_chat=owners,
        roles=roles,
        reads=reads,
        sessions=sessions,
        start=float(origin - base) * time_scale + base,
        end=float(max(ends)),
        people={r: sum(1 for v in roles.values() if v == r) for r in ROLES},
        recipient=table[:, 3].astype(np.int64),
    )


def read_db(path: Path, *, time_scale: float = 1.0) -> Export:
    """The messages the reference server at ``path`` was sent (``sent_messages``)."""
    if not path.exists():
        raise ConfigError(f"--db {path}: no such database")
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            rows = db.execute(_SENT).fetchall()
    except sqlite3.Error as exc:
        raise ConfigError(
            f"--db {path}: not a chatload reference server database ({exc})"
        ) from None
    if len(rows) < MIN_MESSAGES:
        raise ConfigError(
            f"--db {path}: {len(rows)} messages sent; a fit needs at least {MIN_MESSAGES}"
        )
    owners = {int(r[0]): int(r[7]) for r in rows}
    table = np.array(
        [(r[0], r[1], r[2], r[3], parse_time(path, 0, r[4]), r[5], r[6], 0) for r in rows],
        dtype=float,
    )
    return _export(
        table,
        owners,
        reads=None,
        sessions=None,
        has_length=True,
        has_photos=True,
        time_scale=time_scale,
    )


def write_export(
    export: Export, directory: Path, chat_ids: dict[int, str] | None = None, *, stem: str = ""
) -> None:
    """``messages.csv``, ``reads.csv``, ``sessions.csv`` of ``export`` in ``directory``
    (each name after ``stem``)."""
    directory.mkdir(parents=True, exist_ok=True)
    name = (lambda key: chat_ids[key]) if chat_ids else str
    with (directory / f"{stem}messages.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow((*_MESSAGES, "text_length", "photo_count", "owner_id"))
        for i in np.lexsort((export.message_id, export.chat)).tolist():
            key = int(export.chat[i])
            owner = export.owner_of_chat[key]
            sender = int(export.sender[i])
            writer.writerow(
                (
                    name(key),
                    int(export.message_id[i]),
                    sender,
                    0 if export.recipient is None else int(export.recipient[i]),
                    f"{export.created[i]:.3f}",
                    "" if export.text_length is None else int(export.text_length[i]),
                    "" if export.photos is None else int(export.photos[i]),
                    owner,
                )
            )
    if export.reads is not None:
        _write_rows(
            directory / f"{stem}reads.csv",
            _READS,
            [(name(int(c)), int(u), int(m), f"{t:.3f}") for c, u, m, t in export.reads.tolist()],
        )
    if export.sessions is not None:
        flags = _RUN_FLAGS[: max(0, export.sessions.shape[1] - 3)]  # a run's own
        _write_rows(
            directory / f"{stem}sessions.csv",
            (*_SESSIONS, *flags),
            [
                (int(row[0]), f"{row[1]:.3f}", f"{row[2]:.3f}", *(int(v) for v in row[3:]))
                for row in export.sessions.tolist()
            ],
        )


def _write_rows(path: Path, columns: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
