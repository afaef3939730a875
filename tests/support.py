"""Helpers shared by the tests: datasets, servers (in a thread or a process), a client."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from chatload.protocol import ObjectEnvelopeCodec, ServerEvent, parse_server_event
from chatload.server.app import ChatServer, ServerConfig, event_loop_factory
from chatload.server.launcher import LaunchedServer
from chatload.users_file import Identity, read_users

CODEC = ObjectEnvelopeCodec()


@dataclass(frozen=True)
class ChatRow:
    chat_id: str
    event_id: int
    owner_id: int
    requester_id: int
    is_request_sended: bool
    is_access_granted: bool
    owner_read: int
    requester_read: int


@dataclass
class Dataset:
    db: Path
    users_csv: Path
    _identities: list[Identity] = field(default_factory=list)

    def identities(self) -> list[Identity]:
        if not self._identities:
            self._identities = read_users(self.users_csv)
        return self._identities

    def token(self, user_id: int) -> str:
        return next(i.token for i in self.identities() if i.user_id == user_id)

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(self.db)) as db:
            return db.execute(sql, args).fetchall()

    def chats(self) -> list[ChatRow]:
        rows = self.query(
            "SELECT c.chat_id, c.event_id, e.owner_id, c.requester_id, c.is_request_sended, "
            "c.is_access_granted, c.owner_read, c.requester_read "
            "FROM chats c JOIN events e ON e.id = c.event_id ORDER BY c.chat_key"
        )
        return [ChatRow(r[0], r[1], r[2], r[3], bool(r[4]), bool(r[5]), r[6], r[7]) for r in rows]

    def chat(self, chat_id: str) -> ChatRow:
        return next(c for c in self.chats() if c.chat_id == chat_id)

    def messages(self, chat_id: str) -> list[dict[str, Any]]:
        chat = self.chat(chat_id)
        rows = self.query(
            "SELECT m.message_id, m.text, m.photos, m.date, m.from_user_id FROM messages m "
            "JOIN chats c ON c.chat_key = m.chat_key WHERE c.chat_id = ? ORDER BY m.message_id",
            chat_id,
        )
        return [
            {
                "messageId": r[0],
                "text": r[1],
                "photos": r[2].split(",") if r[2] else [],
                "date": r[3],
                "fromUserId": r[4],
                "toUserId": chat.requester_id if r[4] == chat.owner_id else chat.owner_id,
            }
            for r in rows
        ]

    def expected_unread(self, chat_id: str, viewer: int) -> tuple[int, int]:
        """Both unread counts of ``viewer``, by brute force from the database."""
        chat = self.chat(chat_id)
        other = chat.requester_id if viewer == chat.owner_id else chat.owner_id
        pointer = {chat.owner_id: chat.owner_read, chat.requester_id: chat.requester_read}
        messages = self.messages(chat_id)
        my = sum(
            1 for m in messages if m["fromUserId"] == other and m["messageId"] > pointer[viewer]
        )
        theirs = sum(
            1 for m in messages if m["fromUserId"] == viewer and m["messageId"] > pointer[other]
        )
        return my, theirs


class ServerThread:
    """The reference server on its own event loop in a background thread."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.server: ChatServer | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="chat-server", daemon=True)

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def __enter__(self) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("server did not start")
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.server is not None and self._thread.is_alive():
            self.server.loop.call_soon_threadsafe(self.server.request_stop)
        self._thread.join(30)
        assert not self._thread.is_alive(), "server thread did not stop"

    def call(self, function: Callable[[], Any]) -> Any:
        """Run ``function`` on the server's loop and return its result."""
        assert self.server is not None
        return asyncio.run_coroutine_threadsafe(_call(function), self.server.loop).result(10)

    def _run(self) -> None:
        with asyncio.Runner(loop_factory=event_loop_factory("auto")) as runner:
            runner.run(self._main())

    async def _main(self) -> None:
        try:
            self.server = ChatServer(self.config)
            await self.server.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self.server.wait_stopped()
        await self.server.stop()


async def _call(function: Callable[[], Any]) -> Any:
    return function()


class ServerProcess(LaunchedServer):
    """The launched server with its output kept in ``workdir/server.log``."""

    def __init__(self, db: Path, workdir: Path, *extra: str) -> None:
        self.log_file = workdir / "server.log"
        self._log = self.log_file.open("ab")
        try:
            super().__init__(db, "--stats-interval", "0", *extra, log=self._log)
        except BaseException:
            self._log.close()
            raise

    def signal(self, signum: int) -> int:
        return self.stop(signum)

    def kill9(self) -> None:
        self.kill()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self._log.close()


class Client:
    """A protocol client for tests: every received frame is validated by the core."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        how: str = "query",
        param: str = "token",
        read_initial: bool = True,
    ) -> None:
        headers: dict[str, str] = {}
        uri = url
        if how == "query" and token is not None:
            uri = f"{url}?{param}={token}"
        elif how == "bearer":
            headers["Authorization"] = f"Bearer {token}"
        elif how == "cookie":
            headers["Cookie"] = f"token={token}"
        self._stack = contextlib.ExitStack()
        # Entered as a context manager: websockets >= 17.1 warns otherwise.
        self.ws: ClientConnection = self._stack.enter_context(
            connect(uri, additional_headers=headers, open_timeout=10, max_size=None)
        )
        self.initial: list[Any] = self.expect("initial_data")[1] if read_initial else []

    def send(self, event: str, data: Any) -> None:
        self.ws.send(CODEC.encode(event, data).decode())

    def send_raw(self, frame: str | bytes) -> None:
        self.ws.send(frame)

    def recv(self, timeout: float = 5.0) -> tuple[str, Any, ServerEvent]:
        raw = self.ws.recv(timeout=timeout)
        event, data = CODEC.decode(raw)
        return event, data, parse_server_event(event, data)

    def expect(self, event: str, timeout: float = 5.0) -> tuple[ServerEvent, Any]:
        got, data, model = self.recv(timeout)
        assert got == event, f"expected {event}, got {got}: {data}"
        return model, data

    def expect_nothing(self, within: float = 0.3) -> None:
        try:
            raw = self.ws.recv(timeout=within)
        except TimeoutError:
            return
        raise AssertionError(f"expected no frame, got {raw!r}")

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def server_config(dataset: Dataset, **overrides: Any) -> ServerConfig:
    base = ServerConfig(db=dataset.db, port=0, stats_interval=0)
    return replace(base, **overrides)


def system_program(names: tuple[str, ...], why: str) -> str:
    """The path of the first of ``names`` on PATH. Missing, the test skips saying
    ``why`` and how to install it; in CI (``CI=true``), where make test installs it,
    it fails instead."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{why} (CI installs it with make test-programs; it is missing)")
    pytest.skip(f"{why}; not installed here (make test-programs installs it)")
