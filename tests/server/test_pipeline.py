from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest
from websockets.exceptions import ConnectionClosed

from tests.support import Client, Dataset, ServerThread


def test_a_failed_commit_tells_the_senders_and_stops_the_server(
    start_server: Callable[..., ServerThread], dataset: Dataset
) -> None:
    server = start_server()
    chat = dataset.chats()[0]
    before = len(dataset.messages(chat.chat_id))

    def broken_commit(*args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    assert server.server is not None
    server.server.store.commit = broken_commit  # type: ignore[method-assign]
    with (
        Client(server.url, dataset.token(chat.owner_id)) as owner,
        Client(server.url, dataset.token(chat.requester_id)) as requester,
    ):
        owner.send("send_message", {"chatId": chat.chat_id, "message": {"text": "lost"}})
        _, data = owner.expect("debug_info")
        assert data == {
            "code": "internal",
            "message": "the server could not store this",
            "event": "send_message",
        }
        # The interlocutor gets nothing of the lost message, then the server goes away.
        with pytest.raises(ConnectionClosed) as closed:
            requester.recv(10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1001
    server.stop()
    assert server.server.exit_code == 1
    assert len(dataset.messages(chat.chat_id)) == before
