"""The deadline heap: a tick visits what is due and nothing else."""

from __future__ import annotations

import math

from chatload.tracking import ConnectionTracker, Deadlines, Ledger, Timeouts
from tests.tracking.test_tracker import CHAT, initial, send


class Owner:
    """What a client does with its tracker's deadlines: schedule itself."""

    def __init__(self, deadlines: Deadlines[Owner], me: int, ledger: Ledger) -> None:
        self.deadlines = deadlines
        self.tracker = ConnectionTracker(
            me,
            ledger,
            timeouts=Timeouts(ack=1.0, delivery=1.0, unread=1.0, read=1.0, history=1.0),
            on_deadline=lambda when: deadlines.schedule(when, self),
        )
        self.tracker.open(initial(me))


def test_items_come_out_when_due_each_once_earliest_first() -> None:
    deadlines: Deadlines[str] = Deadlines()
    assert deadlines.pop_due(100.0) == [] and deadlines.next_time() == math.inf
    for when, item in ((3.0, "c"), (1.0, "a"), (2.0, "b"), (1.5, "a"), (9.0, "z")):
        deadlines.schedule(when, item)
    assert deadlines.next_time() == 1.0
    assert deadlines.pop_due(0.5) == []
    assert deadlines.pop_due(2.0) == ["a", "b"]  # "a" twice in the heap, once out
    assert deadlines.pop_due(5.0, limit=0) == []
    assert deadlines.pop_due(5.0) == ["c"]
    assert len(deadlines) == 1 and deadlines.next_time() == 9.0


def test_an_idle_connection_costs_the_heap_nothing() -> None:
    deadlines: Deadlines[Owner] = Deadlines()
    ledger = Ledger()
    idle = [Owner(deadlines, 100 + n, ledger) for n in range(1000)]
    assert len(deadlines) == 0 and idle


def test_a_tracker_asks_to_be_visited_once_per_deadline() -> None:
    deadlines: Deadlines[Owner] = Deadlines()
    ledger = Ledger()
    owner = Owner(deadlines, 14, ledger)
    requester = Owner(deadlines, 16, ledger)
    for n in range(5):  # five sends in a row: one entry, the first deadline
        send(requester.tracker, now=10.0 + n * 0.1, wall=0.0)
    entries = len(deadlines)
    assert deadlines.next_time() == 11.0
    assert entries == 2  # the sender's acks and the interlocutor's deliveries
    # Nothing is due before 11.0; at 11.05 the first ack is overdue, and the
    # tracker asks again for the next one, once.
    assert deadlines.pop_due(10.99) == []
    due = deadlines.pop_due(11.05)
    assert due in ([requester, owner], [owner, requester])
    for item in due:
        timeouts = item.tracker.expire(11.05)
        assert len(timeouts) == 1
    assert deadlines.next_time() == 11.1
    # A stale visit (scheduled earlier than needed) does not add entries.
    before = len(deadlines)
    requester.tracker.expire(11.06)
    assert len(deadlines) == before
    timed_out = 1
    for now in (11.15, 11.25, 11.35, 11.45):
        for item in deadlines.pop_due(now):
            timed_out += sum(s.metric == "send_ack" for s in item.tracker.expire(now))
    assert timed_out == 5  # every send, once
    assert requester.tracker.next_deadline() == owner.tracker.next_deadline() == math.inf
    assert len(deadlines) == 0 and ledger.pending == 0


def test_pending_requests_are_counted_process_wide() -> None:
    ledger = Ledger()
    requester = ConnectionTracker(16, ledger)
    requester.open(initial(16))
    send(requester, now=1.0, wall=1.0)
    requester.history_sent(CHAT, 5, now=1.0)
    assert ledger.pending == 2
    requester.close(2.0, None)  # closed on our side: dropped, not failed
    assert ledger.pending == 0
