"""What every rule of one connection shares.

A :class:`ConnectionState` is who the connection is (its user, its process's
ledger, its timeouts), what it knows (its chats, its requests still waiting),
what it found (samples and breaches, taken by the tracker) and when its owner
should look at it next. The rules (:mod:`chatload.tracking.messages`,
:mod:`chatload.tracking.counting`, :mod:`chatload.tracking.replies`) each hold
only their own waits and read and write this.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from chatload.protocol.models import Message
from chatload.tracking.invariants import Breach
from chatload.tracking.ledger import Ledger
from chatload.tracking.metrics import Sample
from chatload.tracking.pending import LOAD, READ, SEND, PendingRequests, Timeouts
from chatload.tracking.view import ChatView

__all__ = ["ConnectionState"]


class ConnectionState:
    __slots__ = (
        "_on_deadline",
        "breaches",
        "chats",
        "ledger",
        "markers",
        "opened_mono",
        "opened_wall",
        "probed",
        "produced",
        "requests",
        "scheduled",
        "timeouts",
        "user_id",
    )

    def __init__(
        self,
        user_id: int,
        ledger: Ledger,
        timeouts: Timeouts,
        markers: bool,
        on_deadline: Callable[[float], None] | None,
    ) -> None:
        self.user_id = user_id
        self.ledger = ledger
        self.timeouts = timeouts
        self.markers = markers
        self.chats: dict[str, ChatView] = {}
        self.requests = PendingRequests(ledger, timeouts)
        self.produced: list[Sample] = []
        self.breaches: list[Breach] = []
        self.probed: set[str] | None = None  # chats of others this connection poked at
        self.opened_mono = 0.0  # when initial_data came, on each clock
        self.opened_wall = 0.0
        self._on_deadline = on_deadline  # asks the owner to look then
        self.scheduled = math.inf  # when the owner will look next

    def due(self, deadline: float) -> None:
        """Something here times out at ``deadline``: ask the owner to call the
        tracker's ``expire`` then, unless it already will as early."""
        if deadline < self.scheduled:
            self.scheduled = deadline
            if self._on_deadline is not None:
                self._on_deadline(deadline)

    def produced_elsewhere(self, sample: Sample, now: float) -> None:
        """A sample found while another connection called in: out at the next look."""
        self.produced.append(sample)
        self.due(now)

    def take(self) -> list[Sample]:
        samples, self.produced = self.produced, []
        return samples

    def view_of(
        self, chat_id: str, messages: tuple[Message, ...], what: str, wall: float
    ) -> ChatView | None:
        """The chat a ``what`` frame is about, or None when it is not ours (then
        checked for a breach of access)."""
        view = self.chats.get(chat_id)
        if view is None:
            self.foreign(chat_id, messages, what, wall)
        return view

    def foreign(self, chat_id: str, messages: tuple[Message, ...], what: str, wall: float) -> None:
        """A frame about a chat this connection does not have: a breach of access,
        unless it is a chat created after initial_data with us in it."""
        if (self.probed is None or chat_id not in self.probed) and not any(
            self.user_id not in (m.fromUserId, m.toUserId) for m in messages
        ):
            return
        # A leak answers the probe that caused it: it is a breach, not also a timeout.
        answered = {"chat_updates": SEND, "chat_unread": READ, "history": LOAD}[what]
        for request in self.requests.queue(answered):
            if request.probe and not request.done and request.chat_id == chat_id:
                self.requests.finish(request)
                break
        self.breaches.append(
            Breach(
                "access",
                chat_id,
                tuple(m.messageId for m in messages),
                (self.user_id,),
                f"{what} of a chat user {self.user_id} is not in",
                wall=wall,
            )
        )
