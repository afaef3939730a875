"""SQLite storage of the reference server (WAL mode).

Two connections to one database file: a reader used on the event loop for
start-up and history pages, and a writer used only by the commit thread. WAL
lets the reader see every committed batch while the writer commits the next.
Chats are keyed by an integer internally; ``chatId`` strings live in ``chats``.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from chatload.errors import ConfigError, StoreError
from chatload.protocol.chatstate import ChatState
from chatload.server.world import ChatRecord, EventRecord, UserRecord, WireMessage, World

__all__ = [
    "HISTORY_PHOTOS",
    "HISTORY_TEXTS",
    "SCHEMA_VERSION",
    "MessageRow",
    "ReadRow",
    "Store",
    "create_schema",
    "join_uuids",
    "split_uuids",
]

SCHEMA_VERSION: Final = "2"

# The provisioned history is not stored row by row: a big dataset has millions of
# messages, and writing (then reading back) gigabytes of them took minutes. Each
# chat keeps who wrote its first messages (``history_authors``, one letter each,
# ``o`` the owner, ``r`` the requester) and when they started; the view
# ``messages`` draws their texts, photos and dates from small pools with a hash of
# (chat, message id), the same every time, and adds the messages sent since
# (``sent_messages``). Reading the view is reading every message.
HISTORY_TEXTS: Final = 400  # rows of history_texts, ids 0..HISTORY_TEXTS-1
HISTORY_PHOTOS: Final = 1000  # rows of history_photos, ids 0..HISTORY_PHOTOS-1
HISTORY_STEP_MS: Final = 450_000  # a message every 7.5 min on average ...
HISTORY_JITTER_MS: Final = 400_000  # ... give or take; dates stay increasing

_SCHEMA: Final = f"""
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    image_uuid TEXT NOT NULL,
    token      TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'requester'))
);
CREATE TABLE IF NOT EXISTS events (
    id          INTEGER PRIMARY KEY,
    owner_id    INTEGER NOT NULL REFERENCES users(id),
    name        TEXT NOT NULL,
    icons       TEXT NOT NULL,
    location    TEXT NOT NULL,
    date_from_s INTEGER NOT NULL,
    date_to_s   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chats (
    chat_key          INTEGER PRIMARY KEY,
    chat_id           TEXT NOT NULL UNIQUE,
    event_id          INTEGER NOT NULL REFERENCES events(id),
    requester_id      INTEGER NOT NULL REFERENCES users(id),
    is_request_sended INTEGER NOT NULL,
    is_access_granted INTEGER NOT NULL,
    owner_read        INTEGER NOT NULL DEFAULT 0,
    requester_read    INTEGER NOT NULL DEFAULT 0,
    history_start_ms  INTEGER NOT NULL DEFAULT 0,
    history_authors   TEXT NOT NULL DEFAULT '' CHECK (ltrim(history_authors, 'or') = ''),
    UNIQUE (event_id, requester_id)
);
CREATE TABLE IF NOT EXISTS history_texts (
    id   INTEGER PRIMARY KEY,
    text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS history_photos (
    id     INTEGER PRIMARY KEY,
    photos TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS history_numbers (
    n INTEGER PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS sent_messages (
    chat_key     INTEGER NOT NULL,
    message_id   INTEGER NOT NULL,
    from_user_id INTEGER NOT NULL,
    text         TEXT NOT NULL,
    photos       TEXT NOT NULL,
    date         TEXT NOT NULL,
    PRIMARY KEY (chat_key, message_id)
) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS messages (chat_key, message_id, from_user_id, text, photos, date) AS
SELECT chat_key, message_id,
    CASE substr(history_authors, message_id, 1) WHEN 'o' THEN owner_id ELSE requester_id END,
    (SELECT text FROM history_texts WHERE id = hash % {HISTORY_TEXTS}),
    (SELECT photos FROM history_photos WHERE id = hash / 3 % {HISTORY_PHOTOS}),
    strftime(
        '%Y-%m-%dT%H:%M:%fZ',
        (history_start_ms + message_id * {HISTORY_STEP_MS} + hash / 7 % {HISTORY_JITTER_MS})
            / 1000.0,
        'unixepoch'
    )
FROM (
    SELECT c.chat_key AS chat_key, h.n AS message_id, c.history_authors AS history_authors,
        e.owner_id AS owner_id, c.requester_id AS requester_id,
        c.history_start_ms AS history_start_ms,
        (c.chat_key * 1103515245 + h.n * 12345) % 2147483647 * 48271 % 2147483647 AS hash
    FROM chats AS c CROSS JOIN history_numbers AS h JOIN events AS e ON e.id = c.event_id
    WHERE h.n <= length(c.history_authors)
)
UNION ALL
SELECT chat_key, message_id, from_user_id, text, photos, date FROM sent_messages;
"""

# (chat_key, message_id, from_user_id, text, photos joined by ",", date)
MessageRow = tuple[int, int, int, str, str, str]
# (read pointer, chat_key); the column is chosen by the reader's side
ReadRow = tuple[int, int]

_SYNCHRONOUS: Final = ("full", "normal")
# history_authors' letters as ChatState.restore's opening bytes: 1 the owner.
_OPENING: Final = bytes.maketrans(b"or", b"\x01\x00")


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA busy_timeout=5000")
    except sqlite3.Error as exc:
        connection.close()
        raise ConfigError(
            f"{path} is not a chatload database ({exc}): make one with chatload provision"
        ) from None
    return connection


def create_schema(connection: sqlite3.Connection) -> None:
    connection.executescript(_SCHEMA)
    connection.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
    )


def join_uuids(uuids: Sequence[str]) -> str:
    # Photos and icons are validated UUIDs, so a comma never occurs inside one.
    return ",".join(uuids)


def split_uuids(joined: str) -> list[str]:
    return joined.split(",") if joined else []


class Store:
    """The database of one server; ``commit`` runs on the commit thread only."""

    def __init__(self, path: Path, *, synchronous: str = "full") -> None:
        if synchronous not in _SYNCHRONOUS:
            raise StoreError(f"synchronous must be one of {', '.join(_SYNCHRONOUS)}")
        if not path.exists():
            raise ConfigError(
                f"database {path} does not exist: create it with "
                f"'chatload provision --db {path} --users-out users.csv'"
            )
        self.path = path
        self._reader = _connect(path)
        try:
            self._writer = _connect(path)
        except ConfigError:
            self._reader.close()
            raise
        try:
            self._writer.execute(f"PRAGMA synchronous={synchronous.upper()}")
            version = self._scalar("SELECT value FROM meta WHERE key = 'schema_version'")
            if version != SCHEMA_VERSION:
                raise ConfigError(
                    f"database {path} has schema version {version!r}, this server needs "
                    f"{SCHEMA_VERSION!r}: provision a new one"
                )
        except ConfigError:
            self.close()
            raise

    def _scalar(self, sql: str) -> object:
        try:
            row = self._reader.execute(sql).fetchone()
        except sqlite3.Error as exc:
            raise ConfigError(
                f"{self.path} is not a chatload database ({exc}): make one with chatload provision"
            ) from None
        return None if row is None else row[0]

    def load_world(self, *, page_size: int, cached_chats: int) -> World:
        """Every user, event and chat with its message authors and read pointers."""
        world = World(page_size=page_size, cached_chats=cached_chats)
        db = self._reader
        for user_id, name, image_uuid, token in db.execute(
            "SELECT id, name, image_uuid, token FROM users ORDER BY id"
        ):
            world.add_user(UserRecord(user_id, name, image_uuid), token)
        for event_id, owner_id, name, icons, location, date_from, date_to in db.execute(
            "SELECT id, owner_id, name, icons, location, date_from_s, date_to_s "
            "FROM events ORDER BY id"
        ):
            world.add_event(
                EventRecord(
                    event_id,
                    owner_id,
                    name,
                    tuple(split_uuids(icons)),
                    location,
                    date_from,
                    date_to,
                )
            )
        authors: dict[int, list[tuple[int, int]]] = {}
        for chat_key, message_id, from_user_id in db.execute(
            "SELECT chat_key, message_id, from_user_id FROM sent_messages "
            "ORDER BY chat_key, message_id"
        ):
            authors.setdefault(chat_key, []).append((message_id, from_user_id))
        for row in db.execute(
            "SELECT chat_key, chat_id, event_id, requester_id, is_request_sended, "
            "is_access_granted, owner_read, requester_read, history_authors "
            "FROM chats ORDER BY chat_key"
        ):
            chat_key, chat_id, event_id, requester_id, is_request, granted, o_read, r_read = row[:8]
            event = world.events[event_id]
            try:
                state = ChatState.restore(
                    chat_id,
                    event.owner_id,
                    requester_id,
                    authors.pop(chat_key, ()),
                    (o_read, r_read),
                    opening=row[8].encode("ascii").translate(_OPENING),
                )
            except ValueError as exc:
                raise StoreError(f"database {self.path} is inconsistent: {exc}") from None
            world.add_chat(
                ChatRecord(
                    chat_key, chat_id, event, requester_id, bool(is_request), bool(granted), state
                )
            )
        if authors:
            raise StoreError(
                f"database {self.path} is inconsistent: "
                f"messages of unknown chats {sorted(authors)[:5]}"
            )
        return world

    def fetch_range(self, chat: ChatRecord, first: int, last: int) -> list[WireMessage]:
        """Messages ``first..last`` of ``chat`` in wire form; all must exist."""
        owner, requester = chat.state.participants
        rows = self._reader.execute(
            "SELECT message_id, from_user_id, text, photos, date FROM messages "
            "WHERE chat_key = ? AND message_id BETWEEN ? AND ? ORDER BY message_id",
            (chat.key, first, last),
        ).fetchall()
        if len(rows) != last - first + 1:
            raise StoreError(
                f"chat {chat.chat_id}: expected messages {first}..{last}, found {len(rows)}"
            )
        return [
            {
                "messageId": message_id,
                "text": text,
                "photos": split_uuids(photos),
                "date": date,
                "fromUserId": from_user_id,
                "toUserId": requester if from_user_id == owner else owner,
            }
            for message_id, from_user_id, text, photos, date in rows
        ]

    def commit(
        self,
        messages: Iterable[MessageRow],
        owner_reads: Iterable[ReadRow],
        requester_reads: Iterable[ReadRow],
    ) -> None:
        """One transaction: new messages and moved read pointers, durable on return."""
        db = self._writer
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT INTO sent_messages(chat_key, message_id, from_user_id, text, photos, date) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                messages,
            )
            db.executemany(
                "UPDATE chats SET owner_read = MAX(owner_read, ?) WHERE chat_key = ?", owner_reads
            )
            db.executemany(
                "UPDATE chats SET requester_read = MAX(requester_read, ?) WHERE chat_key = ?",
                requester_reads,
            )
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._reader.close()
        self._writer.close()
