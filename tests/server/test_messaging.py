from __future__ import annotations

import re
import uuid

from chatload.protocol import ChatUnread, ChatUpdates
from tests.support import ChatRow, Client, Dataset, ServerThread

DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _first_chat(dataset: Dataset) -> ChatRow:
    return dataset.chats()[0]


def _unread(client: Client, chat_id: str) -> tuple[int, int]:
    model, _ = client.expect("chat_unread")
    assert isinstance(model, ChatUnread)
    assert model.chatId == chat_id
    return model.myUnreadCount, model.interlocutorUnreadCount


def test_send_reaches_both_sides_in_order(server: ServerThread, dataset: Dataset) -> None:
    chat = _first_chat(dataset)
    last = len(dataset.messages(chat.chat_id))
    photo = str(uuid.uuid4())
    event_row = dataset.query("SELECT name, icons FROM events WHERE id = ?", chat.event_id)[0]
    with (
        Client(server.url, dataset.token(chat.owner_id)) as owner,
        Client(server.url, dataset.token(chat.requester_id)) as requester,
    ):
        requester.send(
            "send_message",
            {
                "chatId": chat.chat_id,
                "message": {"text": "Привет!", "photos": [photo], "attachedPhotos": [photo, photo]},
            },
        )
        for client in (requester, owner):
            model, data = client.expect("chat_updates")
            assert isinstance(model, ChatUpdates)
            assert data["chatId"] == chat.chat_id
            assert data["event"] == {
                "id": chat.event_id,
                "name": event_row[0],
                "iconsUUIDs": event_row[1].split(","),
            }
            assert data["eventOwnerId"] == chat.owner_id
            assert data["isRequestSended"] is chat.is_request_sended
            [message] = data["messages"]
            assert message["messageId"] == last + 1
            assert message["text"] == "Привет!"
            assert message["photos"] == [photo]
            assert DATE.fullmatch(message["date"])
            assert (message["fromUserId"], message["toUserId"]) == (
                chat.requester_id,
                chat.owner_id,
            )
        assert _unread(requester, chat.chat_id) == dataset.expected_unread(
            chat.chat_id, chat.requester_id
        )
        assert _unread(owner, chat.chat_id) == dataset.expected_unread(chat.chat_id, chat.owner_id)
        owner.expect_nothing()
        requester.expect_nothing()
    assert dataset.messages(chat.chat_id)[-1]["text"] == "Привет!"


def test_attached_photos_are_stored_when_photos_are_absent(
    server: ServerThread, dataset: Dataset
) -> None:
    chat = _first_chat(dataset)
    photo = str(uuid.uuid4())
    with Client(server.url, dataset.token(chat.owner_id)) as owner:
        owner.send(
            "send_message",
            {"chatId": chat.chat_id, "message": {"text": "", "attachedPhotos": [photo]}},
        )
        _, data = owner.expect("chat_updates")
        assert data["messages"][0]["photos"] == [photo]
        assert data["messages"][0]["text"] == ""


def test_unread_arithmetic_through_sends_and_reads(server: ServerThread, dataset: Dataset) -> None:
    chat = _first_chat(dataset)
    last = len(dataset.messages(chat.chat_id))
    with (
        Client(server.url, dataset.token(chat.owner_id)) as owner,
        Client(server.url, dataset.token(chat.requester_id)) as requester,
    ):
        # Both read everything: counts drop to zero on both sides.
        for reader in (owner, requester):
            reader.send("read_messages", {"chatId": chat.chat_id, "lastReadedMessageId": last})
            assert _unread(owner, chat.chat_id) == dataset.expected_unread(
                chat.chat_id, chat.owner_id
            )
            assert _unread(requester, chat.chat_id) == dataset.expected_unread(
                chat.chat_id, chat.requester_id
            )
        assert dataset.expected_unread(chat.chat_id, chat.owner_id) == (0, 0)
        # The requester writes three messages: the owner has 3 unread, the requester
        # sees 3 unread by the interlocutor.
        for n in range(3):
            requester.send("send_message", {"chatId": chat.chat_id, "message": {"text": f"m{n}"}})
            for client in (requester, owner):
                client.expect("chat_updates")
            assert _unread(requester, chat.chat_id) == (0, n + 1)
            assert _unread(owner, chat.chat_id) == (n + 1, 0)
        # The owner reads up to the second of them, then answers.
        owner.send("read_messages", {"chatId": chat.chat_id, "lastReadedMessageId": last + 2})
        assert _unread(owner, chat.chat_id) == (1, 0)
        assert _unread(requester, chat.chat_id) == (0, 1)
        owner.send("send_message", {"chatId": chat.chat_id, "message": {"text": "answer"}})
        for client in (owner, requester):
            client.expect("chat_updates")
        assert _unread(owner, chat.chat_id) == (1, 1)
        assert _unread(requester, chat.chat_id) == (1, 1)
        # Reading backwards changes nothing but is still acknowledged with the counts.
        owner.send("read_messages", {"chatId": chat.chat_id, "lastReadedMessageId": 1})
        assert _unread(owner, chat.chat_id) == (1, 1)
        assert _unread(requester, chat.chat_id) == (1, 1)
        requester.send("read_messages", {"chatId": chat.chat_id, "lastReadedMessageId": last + 4})
        assert _unread(requester, chat.chat_id) == (0, 1)
        assert _unread(owner, chat.chat_id) == (1, 0)
    row = dataset.chat(chat.chat_id)
    assert (row.owner_read, row.requester_read) == (last + 2, last + 4)


def test_every_connection_of_both_users_gets_everything(
    server: ServerThread, dataset: Dataset
) -> None:
    chat = _first_chat(dataset)
    bystander = next(
        i for i in dataset.identities() if i.user_id not in (chat.owner_id, chat.requester_id)
    )
    with (
        Client(server.url, dataset.token(chat.owner_id)) as owner_a,
        Client(server.url, dataset.token(chat.owner_id)) as owner_b,
        Client(server.url, dataset.token(chat.requester_id)) as requester_a,
        Client(server.url, dataset.token(chat.requester_id)) as requester_b,
        Client(server.url, bystander.token) as other,
    ):
        owner_a.send("send_message", {"chatId": chat.chat_id, "message": {"text": "to all"}})
        for client in (owner_a, owner_b, requester_a, requester_b):
            _, data = client.expect("chat_updates")
            assert data["messages"][0]["text"] == "to all"
            client.expect("chat_unread")
        requester_b.send("read_messages", {"chatId": chat.chat_id, "lastReadedMessageId": 1})
        for client in (owner_a, owner_b, requester_a, requester_b):
            client.expect("chat_unread")
        other.expect_nothing()


def test_owner_answers_in_every_chat_of_an_event(server: ServerThread, dataset: Dataset) -> None:
    chat = _first_chat(dataset)
    siblings = [c for c in dataset.chats() if c.event_id == chat.event_id]
    with Client(server.url, dataset.token(chat.owner_id)) as owner:
        for sibling in siblings:
            owner.send("send_message", {"chatId": sibling.chat_id, "message": {"text": "hello"}})
            _, data = owner.expect("chat_updates")
            assert data["chatId"] == sibling.chat_id
            owner.expect("chat_unread")
