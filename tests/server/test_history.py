from __future__ import annotations

from collections.abc import Callable

import pytest

from chatload.protocol import History
from tests.support import Client, Dataset, ServerThread


def _page(client: Client, chat_id: str, before: int) -> list[dict[str, object]]:
    client.send("load_history", {"chatId": chat_id, "lastMessageId": before})
    model, data = client.expect("history")
    assert isinstance(model, History)
    assert data["chatId"] == chat_id
    messages: list[dict[str, object]] = data["messages"]
    return messages


@pytest.mark.parametrize("page_size", [50, 7, 120, 500])
def test_paging_down_to_the_first_message(
    start_server: Callable[..., ServerThread], dataset: Dataset, page_size: int
) -> None:
    server = start_server(page_size=page_size)
    chat = dataset.chats()[0]
    stored = dataset.messages(chat.chat_id)
    with Client(server.url, dataset.token(chat.requester_id)) as client:
        seen = client.initial[0]["chats"][0]["messages"]
        assert seen == stored[-page_size:]
        while True:
            page = _page(client, chat.chat_id, seen[0]["messageId"])
            if not page:
                break
            assert len(page) == min(page_size, seen[0]["messageId"] - 1)
            seen = page + seen
        assert seen == stored
        assert [m["messageId"] for m in seen] == list(range(1, len(stored) + 1))
        assert _page(client, chat.chat_id, 1) == []
        assert _page(client, chat.chat_id, 0) == []


def test_history_includes_new_messages_and_goes_to_the_asker_only(
    start_server: Callable[..., ServerThread], dataset: Dataset
) -> None:
    server = start_server(page_size=7)
    chat = dataset.chats()[0]
    with (
        Client(server.url, dataset.token(chat.owner_id)) as owner,
        Client(server.url, dataset.token(chat.owner_id)) as other_tab,
    ):
        for n in range(10):
            owner.send("send_message", {"chatId": chat.chat_id, "message": {"text": f"n{n}"}})
            owner.expect("chat_updates")
            owner.expect("chat_unread")
            other_tab.expect("chat_updates")
            other_tab.expect("chat_unread")
        newest = _page(owner, chat.chat_id, 10**9)
        assert [m["messageId"] for m in newest] == list(range(124, 131))
        assert [m["text"] for m in newest[-3:]] == ["n7", "n8", "n9"]
        straddling = _page(owner, chat.chat_id, 125)
        assert [m["messageId"] for m in straddling] == list(range(118, 125))
        assert straddling == dataset.messages(chat.chat_id)[117:124]
        other_tab.expect_nothing()


def test_history_is_served_from_disk_when_the_page_cache_is_full(
    start_server: Callable[..., ServerThread], dataset: Dataset
) -> None:
    server = start_server(page_size=5, cached_chats=1)
    first = dataset.chats()[0]
    chats = [c for c in dataset.chats() if c.owner_id == first.owner_id][:2]
    assert len(chats) == 2
    with Client(server.url, dataset.token(chats[0].owner_id)) as owner:
        for chat in chats * 2:
            page = _page(owner, chat.chat_id, 50)
            assert page == dataset.messages(chat.chat_id)[44:49]
