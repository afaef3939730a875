"""The chat view's unread model, against a plain reference model fed the same story."""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass, field

import pytest

from chatload.protocol import Message
from chatload.tracking.view import ChatView

ME, THEM = 1, 2


def message(message_id: int, author: int, text: str = "x") -> Message:
    return Message(message_id, text, (), "2025-03-01T13:51:53.285Z", author, ME + THEM - author)


@dataclass
class Reference:
    """Every id in a list by author: obviously right, and too big for 20,000 users."""

    anchor_id: int
    anchor_count: int
    pointer: int | None = None
    theirs: list[int] = field(default_factory=list)
    mine: list[int] = field(default_factory=list)

    def unread_through(self, message_id: int) -> int:
        upto = bisect_right(self.theirs, message_id)
        if self.pointer is None:
            return self.anchor_count + upto - bisect_right(self.theirs, self.anchor_id)
        return max(0, upto - bisect_right(self.theirs, self.pointer))

    def above(self, ids: list[int], message_id: int) -> int:
        return len(ids) - bisect_right(ids, message_id)


@pytest.mark.parametrize("seed", range(40))
def test_the_model_agrees_with_id_lists(seed: int) -> None:
    rng = random.Random(seed)
    page_size = rng.randint(0, 60)
    first = rng.choice((1, 5, 300, 10**9)) if page_size else 1
    page = tuple(message(first + i, rng.choice((ME, THEM))) for i in range(page_size))
    unread = rng.randint(0, sum(m.fromUserId == THEM for m in page))
    view = ChatView("c", 1, THEM, THEM, my_unread=unread, anchor_count=unread)
    view.open_page(page, ME)
    view.anchor_id = view.last_id
    reference = Reference(view.anchor_id, unread)
    for m in page:
        (reference.mine if m.fromUserId == ME else reference.theirs).append(m.messageId)
    next_id = view.last_id + 1
    for _ in range(200):
        action = rng.random()
        if action < 0.6:
            author = rng.choice((ME, THEM))
            view.remember(message(next_id, author), ME)
            (reference.mine if author == ME else reference.theirs).append(next_id)
            next_id += 1
        elif action < 0.75 and next_id > 1:
            pointer = rng.randint(max(1, first - 1), next_id - 1)
            if view.pointer is None or pointer > view.pointer:
                view.read_up_to(pointer)
                reference.pointer = pointer
                del reference.theirs[: bisect_right(reference.theirs, pointer)]
        elif action < 0.8:
            view.forget_mine()
            reference.mine.clear()
        probe = rng.randint(max(0, first - 2), next_id + 1)
        assert view.unread_through(probe) == reference.unread_through(probe)
        assert view.interlocutor_above(probe) == reference.above(reference.theirs, probe)
        assert view.mine_above(probe) == reference.above(reference.mine, probe)
    assert view.interlocutor_ids == reference.theirs
    assert view.my_ids == reference.mine


def test_kept_digests_grow_to_the_newest_64() -> None:
    view = ChatView("c", 1, THEM, THEM)
    for message_id in range(1, 101):
        view.note(message(message_id, THEM, f"m{message_id}"))
    assert view.recent is not None and len(view.recent) == 64
    assert view.kept(100) is not None and view.kept(37) is not None
    assert view.kept(36) is None  # older than the newest 64
