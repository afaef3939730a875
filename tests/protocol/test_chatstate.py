from __future__ import annotations

import random

import pytest

from chatload.protocol import ChatState, UnreadCounts

OWNER, REQUESTER = 14, 16


def test_unread_counts_from_both_sides() -> None:
    chat = ChatState("c", OWNER, REQUESTER)
    for message_id, author in enumerate([REQUESTER, REQUESTER, OWNER, REQUESTER], start=1):
        chat.add_message(message_id, author)
    assert chat.unread(OWNER) == UnreadCounts(my=3, interlocutor=1)
    assert chat.unread(REQUESTER) == UnreadCounts(my=1, interlocutor=3)
    assert chat.mark_read(OWNER, 2)
    assert chat.unread(OWNER) == UnreadCounts(my=1, interlocutor=1)
    assert chat.unread(REQUESTER) == UnreadCounts(my=1, interlocutor=1)
    assert chat.mark_read(REQUESTER, 4)
    assert chat.unread(OWNER) == UnreadCounts(my=1, interlocutor=0)


def test_read_pointer_never_goes_down_nor_past_the_end() -> None:
    chat = ChatState("c", OWNER, REQUESTER)
    chat.add_message(1, OWNER)
    chat.add_message(2, OWNER)
    assert chat.mark_read(REQUESTER, 2)
    assert not chat.mark_read(REQUESTER, 1)
    assert chat.read_pointer(REQUESTER) == 2
    with pytest.raises(ValueError, match="cannot read up to 3, the last message is 2"):
        chat.mark_read(REQUESTER, 3)


def test_ids_must_be_contiguous_and_authors_participants() -> None:
    chat = ChatState("c", OWNER, REQUESTER)
    with pytest.raises(ValueError, match="message 2 does not follow 0"):
        chat.add_message(2, OWNER)
    with pytest.raises(ValueError, match="user 99 is not in chat c"):
        chat.add_message(1, 99)
    with pytest.raises(ValueError):
        chat.interlocutor(99)
    with pytest.raises(ValueError):
        ChatState("c", 1, 1)


def test_restore_matches_replay() -> None:
    rng = random.Random(5)
    authors = [(i, rng.choice((OWNER, REQUESTER))) for i in range(1, 300)]
    restored = ChatState.restore("c", OWNER, REQUESTER, authors, (120, 250))
    assert restored.last_message_id == 299
    assert restored.read_pointer(OWNER) == 120
    expected_my = sum(1 for i, a in authors if a == REQUESTER and i > 120)
    expected_theirs = sum(1 for i, a in authors if a == OWNER and i > 250)
    assert restored.unread(OWNER) == UnreadCounts(expected_my, expected_theirs)
    assert restored.written_by(OWNER) == sum(1 for _, a in authors if a == OWNER)


def test_restore_from_an_opening_matches_replay() -> None:
    rng = random.Random(6)
    authors = [(i, rng.choice((OWNER, REQUESTER))) for i in range(1, 300)]
    opening = bytes(author == OWNER for _, author in authors[:200])
    restored = ChatState.restore("c", OWNER, REQUESTER, authors[200:], (120, 250), opening=opening)
    replayed = ChatState.restore("c", OWNER, REQUESTER, authors, (120, 250))
    assert restored.last_message_id == 299
    for user in (OWNER, REQUESTER):
        assert restored.unread(user) == replayed.unread(user)
        assert restored.written_by(user) == replayed.written_by(user)
    with pytest.raises(ValueError, match="does not follow 200"):
        ChatState.restore("c", OWNER, REQUESTER, authors[:5], opening=opening)
    with pytest.raises(ValueError, match="must be 0 or 1 bytes"):
        ChatState.restore("c", OWNER, REQUESTER, (), opening=b"\x01\x02")


def test_unread_matches_brute_force() -> None:
    rng = random.Random(11)
    chat = ChatState("c", OWNER, REQUESTER)
    authors: list[int] = []
    for step in range(2000):
        if rng.random() < 0.6:
            author = rng.choice((OWNER, REQUESTER))
            authors.append(author)
            chat.add_message(len(authors), author)
        elif authors:
            chat.mark_read(rng.choice((OWNER, REQUESTER)), rng.randint(0, len(authors)))
        if step % 50 == 0:
            for user in (OWNER, REQUESTER):
                other = REQUESTER if user == OWNER else OWNER
                my = sum(
                    1
                    for i, a in enumerate(authors, 1)
                    if a == other and i > chat.read_pointer(user)
                )
                theirs = sum(
                    1
                    for i, a in enumerate(authors, 1)
                    if a == user and i > chat.read_pointer(other)
                )
                assert chat.unread(user) == (my, theirs)
