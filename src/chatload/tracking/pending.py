"""What one connection waits for, and until when.

Two kinds of waiting:

- a :class:`Request` this connection sent (``send_message``, ``read_messages``,
  ``load_history``) and whose answer has not come: :class:`PendingRequests` keeps
  them oldest first per kind, attributes a ``debug_info`` to the oldest of a kind,
  and times them out;
- an :class:`Await`: a frame this connection expects because of what happened
  elsewhere (a delivery of the interlocutor's message, the unread count that
  counts it, the count that reflects the interlocutor's read).

Every wait has a deadline; ``next_deadline`` tells the owner when to look again,
so a process only ever visits connections that have something due.

A request that timed out, or was in flight when the connection dropped, failed;
but the server may still have applied it (as Jepsen's histories say, its outcome
is *unknown*). It is kept as such: a late answer is matched and counted as late,
never as a second failure, and the chat's model accepts either outcome until the
server's later frames settle it (``ChatView.maybe_pointer``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, TypeVar

from chatload.errors import AwaitTimeout, ChatloadError
from chatload.tracking.ledger import Ledger
from chatload.tracking.metrics import (
    ACCESS_PROBE,
    DELIVERY,
    HISTORY,
    READ_ACK,
    READ_PROPAGATION,
    SEND_ACK,
    UNREAD_PROPAGATION,
    Sample,
)

__all__ = [
    "LOAD",
    "READ",
    "SEND",
    "TIMEOUT_TEXT",
    "Await",
    "PendingRequests",
    "Request",
    "Timeouts",
    "await_timeout",
]

T = TypeVar("T", "Request", "Await")

_UNKNOWN_KEPT: Final = 256  # sends of unknown outcome kept per connection for late answers

SEND: Final = "send_message"
READ: Final = "read_messages"
LOAD: Final = "load_history"
METRIC_OF: Final = {SEND: SEND_ACK, READ: READ_ACK, LOAD: HISTORY}
PROBE_TIMEOUT: Final = "timeout: no refusal of a request on another user's chat"
TIMEOUT_TEXT: Final = {
    SEND: "timeout: no acknowledgement",
    READ: "timeout: no chat_unread reflecting the read",
    LOAD: "timeout: no history",
    DELIVERY: "timeout: no delivery",
    UNREAD_PROPAGATION: "timeout: no chat_unread counting the message",
    READ_PROPAGATION: "timeout: no chat_unread reflecting the interlocutor's read",
}


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait for each awaited answer before it is a timeout failure."""

    ack: float = 10.0
    delivery: float = 10.0
    unread: float = 10.0
    read: float = 10.0
    history: float = 10.0

    def of(self, metric: str) -> float:
        """The timeout of an awaited frame's metric."""
        if metric == DELIVERY:
            return self.delivery
        if metric == UNREAD_PROPAGATION:
            return self.unread
        return self.read


@dataclass(slots=True)
class Request:
    kind: str  # send_message, read_messages or load_history
    request_id: int  # this connection's number for it (not an auth token)
    chat_id: str
    started: float
    detail: int = 0  # marker seq, read pointer or history bound
    done: bool = False
    acked: bool = False  # a send whose chat_updates came back
    message_id: int = 0  # the id the server gave an acknowledged send
    probe: bool = False  # an access probe: refusal is the expected answer
    unknown: bool = False  # failed (timeout, drop) with the server's outcome unknown

    @property
    def answered(self) -> bool:
        """The server's answer came in time: the request did what it asked."""
        return self.done and not self.unknown

    def failure(self, now: float, error: ChatloadError) -> Sample:
        return Sample(
            ACCESS_PROBE if self.probe else METRIC_OF[self.kind],
            now - self.started,
            error=error,
            chat_id=self.chat_id,
            request_id=self.request_id,
        )


@dataclass(slots=True)
class Await:
    """Something this connection expects to see and times.

    ``local``: both ends are in this process, so ``sent`` is monotonic; else
    ``sent`` is the wall-clock send time. ``deadline`` is monotonic.
    """

    metric: str
    chat_id: str
    message_id: int
    sent: float
    local: bool
    deadline: float
    done: bool = False
    request: Request | None = None  # the local send a delivery is expected for
    sender: int = 0
    # Its wait timed out (a timeout failure was counted); the frame may still
    # come, and is then a late answer timed from ``sent`` like any other.
    overdue: bool = False

    def seconds_to(self, mono: float, wall: float) -> float:
        return max((mono if self.local else wall) - self.sent, 0.0)

    def sample(self, mono: float, wall: float, size: int = 0) -> Sample:
        """The measurement, as the frame that ends the wait arrived at ``mono``/``wall``
        (late when the wait had already timed out)."""
        return Sample(
            self.metric,
            self.seconds_to(mono, wall),
            size,
            chat_id=self.chat_id,
            cross_process=not self.local,
            late=self.overdue,
        )


def await_timeout(wait: Await, now: float, timeouts: Timeouts) -> Sample:
    """The timeout failure of an awaited frame."""
    # From the send when it happened in this process; from when this
    # connection started waiting otherwise (the two clocks do not mix).
    waited = now - wait.sent if wait.local else now - wait.deadline + timeouts.of(wait.metric)
    return Sample(
        wait.metric, waited, error=AwaitTimeout(TIMEOUT_TEXT[wait.metric]), chat_id=wait.chat_id
    )


def _head(queue: list[T]) -> T | None:
    """The oldest item still waiting; answered ones at the front are dropped."""
    while queue and queue[0].done:
        del queue[0]
    return queue[0] if queue else None


class PendingRequests:
    """The requests one connection sent and has not had answered, oldest first."""

    __slots__ = ("by_seq", "issued", "ledger", "loads", "reads", "sends", "timeouts", "unknown")

    def __init__(self, ledger: Ledger, timeouts: Timeouts) -> None:
        self.ledger = ledger
        self.timeouts = timeouts
        self.issued = 0
        self.sends: list[Request] = []
        self.reads: list[Request] = []
        self.loads: list[Request] = []
        self.by_seq: dict[int, Request] = {}  # sends by marker sequence number
        # Sends whose outcome is unknown, by marker sequence number, the newest kept:
        # a late acknowledgement is matched here.
        self.unknown: dict[int, Request] | None = None

    def queue(self, kind: str) -> list[Request]:
        return self.sends if kind == SEND else self.reads if kind == READ else self.loads

    def limit(self, kind: str) -> float:
        timeouts = self.timeouts
        return timeouts.ack if kind == SEND else timeouts.read if kind == READ else timeouts.history

    def add(self, kind: str, chat_id: str, now: float, detail: int) -> Request:
        self.issued += 1
        request = Request(kind, self.issued, chat_id, now, detail)
        self.queue(kind).append(request)
        self.ledger.pending += 1
        return request

    def finish(self, request: Request) -> None:
        """The request is answered (or failed): it waits no more."""
        if not request.done:
            request.done = True
            self.ledger.pending -= 1
            if request.kind == SEND and not request.probe:
                self.by_seq.pop(request.detail, None)

    def answer(self, request: Request, now: float, size: int, payload: object = None) -> Sample:
        """The answer to ``request`` came at ``now``: its sample, late when the
        request had already failed by its timeout (whose unknown outcome it settles:
        the server applied it)."""
        late = request.unknown
        self.finish(request)
        request.unknown = False
        return Sample(
            METRIC_OF[request.kind],
            now - request.started,
            size,
            chat_id=request.chat_id,
            request_id=request.request_id,
            payload=payload,
            late=late,
        )

    def oldest(self, kind: str | None) -> Request | None:
        """The oldest unanswered request of ``kind``, or of any kind."""
        oldest: Request | None = None
        for queue in (self.queue(kind),) if kind else (self.sends, self.reads, self.loads):
            head = _head(queue)
            if head is not None and (oldest is None or head.started < oldest.started):
                oldest = head
        return oldest

    def expire(self, now: float) -> list[Sample]:
        """Timeout failures of the requests past their deadline."""
        samples: list[Sample] = []
        limits = self.timeouts
        for queue, limit in (
            (self.sends, limits.ack),
            (self.reads, limits.read),
            (self.loads, limits.history),
        ):
            while queue and (queue[0].done or now - queue[0].started > limit):
                request = queue.pop(0)
                if request.done:
                    continue
                text = PROBE_TIMEOUT if request.probe else TIMEOUT_TEXT[request.kind]
                samples.append(self.give_up(request, now, AwaitTimeout(text)))
        return samples

    def give_up(self, request: Request, now: float, error: ChatloadError) -> Sample:
        """The request failed with ``error``, its outcome unknown: its failure."""
        self.finish(request)
        request.unknown = True
        if request.kind == SEND and not request.probe:
            unknown = self.unknown
            if unknown is None:
                unknown = self.unknown = {}
            unknown[request.detail] = request
            if len(unknown) > _UNKNOWN_KEPT:
                del unknown[next(iter(unknown))]
        return request.failure(now, error)

    def late(self, seq: int) -> Request | None:
        """The send of marker ``seq`` whose outcome was unknown, now answered."""
        return self.unknown.pop(seq, None) if self.unknown else None

    def fail_all(self, now: float, error: ChatloadError) -> list[Sample]:
        """Every unanswered request fails with ``error`` (the connection is gone)."""
        samples = []
        for queue in (self.sends, self.reads, self.loads):
            for request in queue:
                if not request.done:
                    samples.append(self.give_up(request, now, error))
            queue.clear()
        self.by_seq.clear()
        return samples

    def drop_all(self) -> None:
        """Every unanswered request is forgotten: we closed the connection."""
        for queue in (self.sends, self.reads, self.loads):
            for request in queue:
                self.finish(request)
            queue.clear()

    def next_deadline(self) -> float:
        """When the oldest unanswered request times out (infinity: none waits)."""
        limits = self.timeouts
        deadline = math.inf
        for queue, limit in (
            (self.sends, limits.ack),
            (self.reads, limits.read),
            (self.loads, limits.history),
        ):
            head = _head(queue)
            if head is not None:
                deadline = min(deadline, head.started + limit)
        return deadline

    @property
    def count(self) -> int:
        return sum(1 for queue in (self.sends, self.reads, self.loads) for r in queue if not r.done)


def next_await_deadline(*queues: list[Await]) -> float:
    """The earliest deadline of the awaited frames still waiting."""
    deadline = math.inf
    for queue in queues:
        head = _head(queue)
        if head is not None:
            deadline = min(deadline, head.deadline)
    return deadline
