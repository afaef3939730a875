"""The live checks of one connection's frames against the chat's guarantees.

Each check looks at a :class:`ChatView` and what just arrived, and says what is
wrong as a :class:`Breach` (kinds in :mod:`chatload.tracking.invariants`):
ids in sequence (duplicate, reorder, gap), a message seen before a reconnect
still there, history pages whole and agreeing with live deliveries, messages
only between the two participants, and, after quiescence, unread counts equal
to what the messages and the read pointer imply.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Final

from chatload.protocol.models import Message
from chatload.tracking.invariants import Breach
from chatload.tracking.view import ChatView, digest

__all__ = [
    "missing_ids",
    "page_breach",
    "reconnect_breach",
    "sequence",
    "stranger_breach",
    "unread_breach",
]

_MAX_GAP: Final = 10_000  # ids of one gap tracked one by one; a larger jump is one breach


def _users(view: ChatView, me: int) -> tuple[int, int]:
    return (me, view.interlocutor_id)


def sequence(
    view: ChatView, message_id: int, me: int, now: float, wall: float
) -> tuple[bool, Breach | None]:
    """Message ids must arrive 1, 2, 3...: whether to take ``message_id`` (not a
    repeat), and the breach it shows, if any. Skipped ids are noted in
    ``view.gaps``: a later arrival is a reorder, however late; ids still missing
    when the run settles are a gap (:func:`missing_ids`). Only an id that already
    arrived on this connection (live, or in its ``initial_data``) is a duplicate."""
    expected = view.last_id + 1
    if message_id == expected:
        return True, None
    if message_id > expected:
        if message_id - expected > _MAX_GAP:
            return True, Breach(
                "gap",
                view.chat_id,
                (expected, message_id - 1),
                _users(view, me),
                f"{message_id - expected} ids skipped at once",
                wall=wall,
            )
        activity = view.active()
        gaps = activity.gaps
        if gaps is None:
            gaps = activity.gaps = {}
        for missing in range(expected, message_id):
            gaps[missing] = now
        return True, None
    if view.gaps and view.gaps.pop(message_id, None) is not None:
        return True, Breach(
            "reorder",
            view.chat_id,
            (message_id, view.last_id),
            _users(view, me),
            f"message {message_id} arrived after {view.last_id}",
            wall=wall,
        )
    return False, Breach(
        "duplicate",
        view.chat_id,
        (message_id,),
        _users(view, me),
        f"message {message_id} arrived again (last seen {view.last_id})",
        wall=wall,
    )


def missing_ids(view: ChatView, me: int, wall: float) -> Breach | None:
    """At the end of settling: ids skipped live that never came, as one breach."""
    gaps = view.gaps
    if not gaps:
        return None
    missing = sorted(gaps)
    return Breach(
        "gap",
        view.chat_id,
        (missing[0], missing[-1]),
        _users(view, me),
        f"{len(missing)} ids skipped and never delivered (the run settled without them)",
        wall=wall,
    )


def stranger_breach(view: ChatView, message: Message, me: int, wall: float) -> Breach | None:
    """A message in this chat must be between its two participants."""
    if {message.fromUserId, message.toUserId} == {me, view.interlocutor_id}:
        return None
    return Breach(
        "access",
        view.chat_id,
        (message.messageId,),
        (message.fromUserId, me),
        f"a message from {message.fromUserId} to {message.toUserId} in a chat of "
        f"{me} and {view.interlocutor_id}",
        wall=wall,
    )


def reconnect_breach(view: ChatView, seen: tuple[int, int], me: int) -> Breach | None:
    """What the previous connection saw last must still be there, unchanged."""
    last_id, seen_digest = seen
    if view.last_id < last_id:
        detail = f"seen before the reconnect, absent from initial_data (ends at {view.last_id})"
    elif view.last_id == last_id and view.last_digest != seen_digest:
        detail = "changed between two connections"
    else:
        return None
    return Breach("loss", view.chat_id, (last_id,), _users(view, me), detail)


def page_breach(
    view: ChatView, before: int, messages: tuple[Message, ...], me: int, wall: float
) -> Breach | None:
    """A page below ``before`` must be the ids just below it, ascending, with no
    repeat, empty only below messageId 1, and agree with what came live."""
    ids = [message.messageId for message in messages]
    top = min(before - 1, view.last_id)
    problem = ""
    if not ids:
        if top >= 1:
            problem = f"empty, though messages 1..{top} exist"
    elif any(b != a + 1 for a, b in pairwise(ids)):
        problem = "not contiguous and ascending"
    elif ids[-1] != top:
        problem = f"ends at {ids[-1]}, not at {top}"
    else:
        for message in messages:
            seen = view.kept(message.messageId)
            if seen is not None and seen != digest(message):
                problem = f"message {message.messageId} differs from its live delivery"
                break
    if not problem:
        return None
    return Breach(
        "history",
        view.chat_id,
        tuple(ids[:1] + ids[-1:]),
        _users(view, me),
        f"page below {before}: {problem}",
        wall=wall,
    )


def unread_breach(view: ChatView, me: int, wall: float) -> Breach | None:
    """After quiescence: the count must be what the messages and read pointer imply
    (either pointer, while a read of unknown outcome may or may not have landed)."""
    expected = view.unread_through(view.last_id)
    maybe = view.maybe_pointer
    if view.my_unread == expected or (
        maybe is not None and view.my_unread == view.unread_through(view.last_id, read_to=maybe)
    ):
        return None
    return Breach(
        "unread",
        view.chat_id,
        (view.last_id,),
        _users(view, me),
        f"myUnreadCount is {view.my_unread}, the messages and read pointer imply {expected}",
        wall=wall,
    )
