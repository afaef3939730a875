"""The chat's guarantees (PROTOCOL.md, "Guarantees the load tool checks") as data.

A :class:`Breach` is one violation, with the chat, message ids and users involved;
the tracker finds them as frames arrive, the quiescence check at the end of a run
compares unread counts. Kinds, each a Locust failure name under the ``invariant``
request type:

- ``loss``: an acknowledged message did not reach the interlocutor in time, or is
  missing from ``initial_data`` after a reconnect, or the two sides of a chat end
  with different last messages;
- ``duplicate``: a message reached a connection twice;
- ``reorder``: a message arrived after a later one;
- ``gap``: ids were skipped and never arrived;
- ``unread``: after quiescence, a count differs from what the messages and read
  pointers imply, or from the other side's view;
- ``history``: a page that is not contiguous, not ascending, repeats an id, stops
  short of messageId 1, or contradicts what was delivered live;
- ``access``: a user saw, wrote to, read or paged a chat it is not in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from chatload.errors import InvariantBreach

__all__ = ["BREACH_KINDS", "INVARIANT", "Breach", "ChatSummary", "compare_sides"]

INVARIANT: Final = "invariant"  # the Locust request type of breaches
BREACH_KINDS: Final = ("loss", "duplicate", "reorder", "gap", "unread", "history", "access")

_MESSAGES: Final = {
    "loss": "invariant: an acknowledged message was lost",
    "duplicate": "invariant: a message arrived twice",
    "reorder": "invariant: a message arrived out of order",
    "gap": "invariant: message ids were skipped",
    "unread": "invariant: unread counts do not converge",
    "history": "invariant: a history page is broken",
    "access": "invariant: a chat leaked to a user outside it",
}


@dataclass(frozen=True, slots=True)
class Breach:
    kind: str
    chat_id: str
    message_ids: tuple[int, ...] = ()
    users: tuple[int, ...] = ()
    detail: str = ""
    seconds: float = 0.0  # how long the tool watched before it knew
    wall: float = 0.0  # when it was found, Unix seconds

    def error(self) -> InvariantBreach:
        return InvariantBreach(self.kind, _MESSAGES[self.kind])

    def row(self) -> list[str]:
        return [
            self.kind,
            self.chat_id,
            " ".join(map(str, self.message_ids)),
            " ".join(map(str, self.users)),
            self.detail,
        ]

    def to_wire(self) -> list[object]:
        return [
            self.kind,
            self.chat_id,
            list(self.message_ids),
            list(self.users),
            self.detail,
            self.seconds,
            self.wall,
        ]

    @classmethod
    def from_wire(cls, item: list[Any]) -> Breach:
        kind, chat, ids, users, detail, seconds, wall = item
        return cls(
            str(kind),
            str(chat),
            tuple(map(int, ids)),
            tuple(map(int, users)),
            str(detail),
            float(seconds),
            float(wall),
        )


@dataclass(frozen=True, slots=True)
class ChatSummary:
    """One connection's final view of one chat, for the cross-side comparison."""

    chat_id: str
    user_id: int
    interlocutor_id: int
    last_id: int
    my_unread: int
    interlocutor_unread: int

    def to_wire(self) -> list[object]:
        return [
            self.chat_id,
            self.user_id,
            self.interlocutor_id,
            self.last_id,
            self.my_unread,
            self.interlocutor_unread,
        ]

    @classmethod
    def from_wire(cls, item: list[object]) -> ChatSummary:
        chat_id, user_id, interlocutor_id, last_id, mine, theirs = item
        return cls(
            str(chat_id),
            int(str(user_id)),
            int(str(interlocutor_id)),
            int(str(last_id)),
            int(str(mine)),
            int(str(theirs)),
        )


@dataclass
class _Pair:
    sides: dict[int, ChatSummary] = field(default_factory=dict)


def compare_sides(summaries: Iterable[ChatSummary], wall: float = 0.0) -> list[Breach]:
    """Both participants of a chat, after quiescence, must agree: the same last
    message, and each one's count of the other's unread messages equal to the
    other's own count."""
    pairs: dict[str, _Pair] = {}
    for summary in summaries:
        pairs.setdefault(summary.chat_id, _Pair()).sides[summary.user_id] = summary
    breaches: list[Breach] = []
    for chat_id, pair in pairs.items():
        if len(pair.sides) != 2:
            continue
        a, b = pair.sides.values()
        users = (a.user_id, b.user_id)
        if a.last_id != b.last_id:
            breaches.append(
                Breach(
                    "loss",
                    chat_id,
                    (min(a.last_id, b.last_id) + 1, max(a.last_id, b.last_id)),
                    users,
                    f"the sides end at messages {a.last_id} and {b.last_id}",
                    wall=wall,
                )
            )
        elif a.interlocutor_unread != b.my_unread or b.interlocutor_unread != a.my_unread:
            breaches.append(
                Breach(
                    "unread",
                    chat_id,
                    (a.last_id,),
                    users,
                    f"user {a.user_id} sees {a.my_unread}/{a.interlocutor_unread} (mine/theirs), "
                    f"user {b.user_id} sees {b.my_unread}/{b.interlocutor_unread}",
                    wall=wall,
                )
            )
    return breaches
