from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chatload.protocol import InitialData, parse_server_event
from tests.support import Client, Dataset, ServerThread

ENTRY_KEYS = {"event", "eventOwnerId", "chats"}
EVENT_KEYS = {"id", "name", "iconsUUIDs", "location", "dateFromS", "dateToS"}
CHAT_KEYS = {
    "chatId",
    "isRequestSended",
    "isAccessGranted",
    "user",
    "messages",
    "myUnreadCount",
    "interlocutorUnreadCount",
}
USER_KEYS = {"id", "name", "imageUUID"}
MESSAGE_KEYS = {"messageId", "text", "photos", "date", "fromUserId", "toUserId"}


def _assert_exact_shape(payload: list[Any]) -> None:
    """Every object carries exactly PROTOCOL.md's keys, no more, no fewer."""
    assert isinstance(parse_server_event("initial_data", payload), InitialData)
    for entry in payload:
        assert set(entry) == ENTRY_KEYS
        assert set(entry["event"]) == EVENT_KEYS
        for chat in entry["chats"]:
            assert set(chat) == CHAT_KEYS
            assert set(chat["user"]) == USER_KEYS
            for message in chat["messages"]:
                assert set(message) == MESSAGE_KEYS


def _users_by_id(dataset: Dataset) -> dict[int, dict[str, Any]]:
    return {
        row[0]: {"id": row[0], "name": row[1], "imageUUID": row[2]}
        for row in dataset.query("SELECT id, name, image_uuid FROM users")
    }


def _assert_chat(dataset: Dataset, chat: dict[str, Any], viewer: int, page_size: int) -> None:
    row = dataset.chat(chat["chatId"])
    interlocutor = row.requester_id if viewer == row.owner_id else row.owner_id
    assert chat["user"] == _users_by_id(dataset)[interlocutor]
    assert chat["isRequestSended"] is row.is_request_sended
    assert chat["isAccessGranted"] is row.is_access_granted
    assert chat["messages"] == dataset.messages(row.chat_id)[-page_size:]
    assert (chat["myUnreadCount"], chat["interlocutorUnreadCount"]) == dataset.expected_unread(
        row.chat_id, viewer
    )


def test_owner_sees_each_owned_event_with_all_its_chats(
    server: ServerThread, dataset: Dataset
) -> None:
    owner = next(i for i in dataset.identities() if i.role == "owner")
    with Client(server.url, owner.token) as client:
        payload = client.initial
    _assert_exact_shape(payload)
    events = dataset.query(
        "SELECT id, name, icons, location, date_from_s, date_to_s FROM events "
        "WHERE owner_id = ? ORDER BY id",
        owner.user_id,
    )
    assert [entry["event"]["id"] for entry in payload] == [e[0] for e in events]
    for entry, (event_id, name, icons, location, date_from, date_to) in zip(
        payload, events, strict=True
    ):
        assert entry["event"] == {
            "id": event_id,
            "name": name,
            "iconsUUIDs": icons.split(","),
            "location": location,
            "dateFromS": date_from,
            "dateToS": date_to,
        }
        assert entry["eventOwnerId"] == owner.user_id
        expected_chats = [c.chat_id for c in dataset.chats() if c.event_id == event_id]
        assert [chat["chatId"] for chat in entry["chats"]] == expected_chats
        for chat in entry["chats"]:
            _assert_chat(dataset, chat, owner.user_id, page_size=50)


def test_requester_sees_one_entry_per_chat_with_the_owner_as_user(
    server: ServerThread, dataset: Dataset
) -> None:
    requester = next(i for i in dataset.identities() if i.role == "requester")
    with Client(server.url, requester.token) as client:
        payload = client.initial
    _assert_exact_shape(payload)
    mine = [c for c in dataset.chats() if c.requester_id == requester.user_id]
    assert len(payload) == len(mine) == 2
    for entry, row in zip(payload, mine, strict=True):
        assert entry["event"]["id"] == row.event_id
        assert entry["eventOwnerId"] == row.owner_id
        assert [chat["chatId"] for chat in entry["chats"]] == [row.chat_id]
        _assert_chat(dataset, entry["chats"][0], requester.user_id, page_size=50)


def test_messages_are_the_newest_page_ascending(
    start_server: Callable[..., ServerThread], dataset: Dataset
) -> None:
    server = start_server(page_size=7)
    requester = next(i for i in dataset.identities() if i.role == "requester")
    with Client(server.url, requester.token) as client:
        messages = client.initial[0]["chats"][0]["messages"]
    assert [m["messageId"] for m in messages] == list(range(114, 121))


def test_initial_data_comes_first_and_only_once(server: ServerThread, dataset: Dataset) -> None:
    owner = dataset.identities()[0]
    with Client(server.url, owner.token, read_initial=False) as client:
        event, _, _ = client.recv()
        assert event == "initial_data"
        client.expect_nothing()
