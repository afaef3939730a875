"""The matching rules of METRICS.md, fed frames with hand-set clocks."""

from __future__ import annotations

import pytest

from chatload.errors import AwaitTimeout, Disconnected, ProtocolViolation, RequestRejected
from chatload.protocol import (
    ChatUnread,
    ChatUpdates,
    DebugInfo,
    EventDetails,
    EventSummary,
    History,
    InitialChat,
    InitialData,
    InitialEntry,
    Interlocutor,
    Message,
)
from chatload.tracking import (
    CONNECTION,
    DELIVERY,
    HISTORY,
    READ_ACK,
    READ_PROPAGATION,
    SEND_ACK,
    UNATTRIBUTED,
    UNREAD_PROPAGATION,
    ConnectionTracker,
    Ledger,
    MarkerFactory,
    Sample,
    Timeouts,
)

OWNER, REQUESTER = 14, 16
CHAT = "c1"
EVENT = EventDetails(10, "Event", ("i",), "ONLINE", 1, 2)


def msg(message_id: int, author: int, text: str = "hi") -> Message:
    other = REQUESTER if author == OWNER else OWNER
    return Message(message_id, text, (), "2025-03-01T13:51:53.285Z", author, other)


def initial(
    me: int, messages: tuple[Message, ...] = (), mine: int = 0, theirs: int = 0
) -> InitialData:
    other = REQUESTER if me == OWNER else OWNER
    chat = InitialChat(CHAT, True, False, Interlocutor(other, "x", "u"), messages, mine, theirs)
    return InitialData((InitialEntry(EVENT, OWNER, (chat,)),))


def updates(*messages: Message) -> ChatUpdates:
    return ChatUpdates(CHAT, EventSummary(10, "Event", ("i",)), OWNER, True, messages)


def unread(mine: int, theirs: int) -> ChatUnread:
    return ChatUnread(CHAT, mine, theirs)


def tracker(me: int, ledger: Ledger, **kwargs: object) -> ConnectionTracker:
    t = ConnectionTracker(me, ledger, **kwargs)  # type: ignore[arg-type]
    t.open(initial(me))
    return t


def only(samples: list[Sample], metric: str) -> Sample:
    matching = [s for s in samples if s.metric == metric]
    assert len(matching) == 1, samples
    return matching[0]


def send(
    t: ConnectionTracker, now: float, wall: float, text: str = "hello"
) -> tuple[int, Message, int]:
    marker = t.ledger.markers.make(wall)
    token = t.message_sent(CHAT, marker, now, wall)
    return token, msg(0, t.user_id, text + marker.render()), marker.seq


def with_id(message: Message, message_id: int) -> Message:
    return Message(
        message_id, message.text, message.photos, message.date, message.fromUserId, message.toUserId
    )


def test_send_ack_delivery_and_unread_in_one_process() -> None:
    ledger = Ledger()
    owner, requester = tracker(OWNER, ledger), tracker(REQUESTER, ledger)
    token, draft, _ = send(requester, now=100.0, wall=5000.0)
    stored = with_id(draft, 1)
    ack = only(requester.frame(updates(stored), 300, 100.004, 5000.9), SEND_ACK)
    assert (ack.seconds, ack.length, ack.request_id, ack.error) == (
        pytest.approx(0.004),
        300,
        token,
        None,
    )
    # The owner times on the monotonic clock, even though the wall clock jumped.
    delivery = only(owner.frame(updates(stored), 300, 100.006, 9999.0), DELIVERY)
    assert delivery.seconds == pytest.approx(0.006)
    assert owner.frame(unread(0, 0), 80, 100.007, 9999.0) == []  # an older count
    propagation = only(owner.frame(unread(1, 0), 80, 100.008, 9999.0), UNREAD_PROPAGATION)
    assert propagation.seconds == pytest.approx(0.008)
    assert requester.frame(unread(0, 1), 80, 100.009, 0) == []


def test_delivery_from_another_process_uses_the_marker_wall_time() -> None:
    sender_ledger, receiver_ledger = Ledger(), Ledger()
    requester = tracker(REQUESTER, sender_ledger)
    owner = tracker(OWNER, receiver_ledger)
    _, draft, _ = send(requester, now=1.0, wall=5000.0)
    stored = with_id(draft, 1)
    delivery = only(owner.frame(updates(stored), 10, 77.0, 5000.012), DELIVERY)
    assert delivery.seconds == pytest.approx(0.012)
    propagation = only(owner.frame(unread(1, 0), 10, 77.001, 5000.015), UNREAD_PROPAGATION)
    assert propagation.seconds == pytest.approx(0.015)


def test_unread_may_come_before_chat_updates() -> None:
    ledger = Ledger()
    owner, requester = tracker(OWNER, ledger), tracker(REQUESTER, ledger)
    _, draft, _ = send(requester, now=10.0, wall=10.0)
    assert owner.frame(unread(1, 0), 10, 10.003, 10.003) == []
    samples = owner.frame(updates(with_id(draft, 1)), 10, 10.005, 10.005)
    assert only(samples, DELIVERY).seconds == pytest.approx(0.005)
    assert only(samples, UNREAD_PROPAGATION).seconds == pytest.approx(0.003)


def test_unread_counts_from_the_initial_anchor() -> None:
    ledger = Ledger()
    owner = ConnectionTracker(OWNER, ledger)
    # 3 unread before we connected, 2 of them on the page.
    owner.open(initial(OWNER, (msg(4, REQUESTER), msg(5, REQUESTER)), mine=3))
    requester = tracker(REQUESTER, ledger)
    _, draft, _ = send(requester, now=0.0, wall=0.0)
    owner.frame(updates(with_id(draft, 6)), 1, 0.001, 0.001)
    assert owner.frame(unread(3, 0), 1, 0.002, 0.002) == []  # does not count message 6 yet
    assert only(
        owner.frame(unread(4, 0), 1, 0.003, 0.003), UNREAD_PROPAGATION
    ).seconds == pytest.approx(0.003)


def test_read_ack_waits_for_the_count_that_reflects_the_read() -> None:
    ledger = Ledger()
    owner = ConnectionTracker(OWNER, ledger)
    owner.open(initial(OWNER, (msg(1, REQUESTER), msg(2, REQUESTER)), mine=2))
    token = owner.read_sent(CHAT, 2, now=50.0, wall=50.0)
    assert owner.frame(unread(2, 0), 1, 50.001, 0) == []  # computed before the read
    ack = only(owner.frame(unread(0, 0), 1, 50.002, 0), READ_ACK)
    assert (ack.seconds, ack.request_id) == (pytest.approx(0.002), token)
    assert owner.chats[CHAT].pointer == 2
    assert owner.chats[CHAT].my_unread == 0


def test_a_read_reflected_with_newer_messages_counted() -> None:
    ledger = Ledger()
    owner = ConnectionTracker(OWNER, ledger)
    owner.open(initial(OWNER, (msg(1, REQUESTER),), mine=1))
    owner.read_sent(CHAT, 1, now=0.0, wall=0.0)
    owner.frame(updates(msg(2, REQUESTER)), 1, 0.001, 0.001)
    assert only(owner.frame(unread(1, 0), 1, 0.002, 0.002), READ_ACK).seconds == pytest.approx(
        0.002
    )


def test_read_propagation_in_one_process() -> None:
    ledger = Ledger()
    owner, requester = tracker(OWNER, ledger), tracker(REQUESTER, ledger)
    for message_id, now in ((1, 1.0), (2, 1.1)):
        _, draft, _ = send(owner, now=now, wall=now)
        stored = with_id(draft, message_id)
        owner.frame(updates(stored), 1, now + 0.001, now)
        owner.frame(unread(0, message_id), 1, now + 0.002, now)
        requester.frame(updates(stored), 1, now + 0.001, now)
        requester.frame(unread(message_id, 0), 1, now + 0.002, now)
    requester.read_sent(CHAT, 2, now=2.0, wall=2.0)
    assert only(requester.frame(unread(0, 0), 1, 2.003, 2.003), READ_ACK).seconds == pytest.approx(
        0.003
    )
    propagation = only(owner.frame(unread(0, 0), 1, 2.004, 2.004), READ_PROPAGATION)
    assert propagation.seconds == pytest.approx(0.004)


def test_read_propagation_from_another_process_looks_back() -> None:
    owner_ledger, reader_ledger = Ledger(share_reads=True), Ledger(share_reads=True)
    owner = ConnectionTracker(OWNER, owner_ledger)
    owner.open(initial(OWNER, (msg(1, OWNER), msg(2, OWNER)), theirs=2))
    requester = ConnectionTracker(REQUESTER, reader_ledger)
    requester.open(initial(REQUESTER, (msg(1, OWNER), msg(2, OWNER)), mine=2))
    requester.read_sent(CHAT, 2, now=7.0, wall=900.0)
    [notice] = reader_ledger.drain_outbox()
    # The server is faster than the side channel: the owner sees the drop first.
    assert owner.frame(unread(0, 0), 1, 3.0, 900.004) == []
    owner_ledger.receive_remote_read(notice, now=3.5)
    assert only(owner.expire(3.5), READ_PROPAGATION).seconds == pytest.approx(0.004)
    # A notice that comes back to its own process is ignored.
    reader_ledger.receive_remote_read(notice, now=8.0)


def test_history_is_answered_in_request_order() -> None:
    owner = tracker(OWNER, Ledger())
    first = owner.history_sent(CHAT, 10, now=1.0)
    second = owner.history_sent(CHAT, 5, now=1.1)
    page = History(CHAT, (msg(5, OWNER), msg(6, REQUESTER)))
    sample = only(owner.frame(page, 99, 1.2, 0), HISTORY)
    assert (sample.request_id, sample.seconds, sample.payload) == (
        first,
        pytest.approx(0.2),
        page.messages,
    )
    assert owner.chats[CHAT].oldest_loaded == 5
    assert only(owner.frame(History(CHAT, ()), 9, 1.3, 0), HISTORY).request_id == second
    stray = only(owner.frame(History(CHAT, ()), 9, 1.4, 0), UNATTRIBUTED)
    assert isinstance(stray.error, ProtocolViolation)


def test_debug_info_fails_the_request_it_names() -> None:
    owner = tracker(OWNER, Ledger())
    send(owner, now=1.0, wall=1.0)
    owner.history_sent(CHAT, 3, now=0.5)
    failed = only(
        owner.frame(DebugInfo.reference("forbidden", "no", "send_message"), 50, 1.5, 0), SEND_ACK
    )
    assert isinstance(failed.error, RequestRejected)
    assert failed.error.code == "forbidden"
    assert failed.seconds == pytest.approx(0.5)
    # No event named: the oldest pending request of any kind.
    anonymous = only(owner.frame(DebugInfo({"oops": 1}), 10, 2.0, 0), HISTORY)
    assert isinstance(anonymous.error, RequestRejected)
    nothing_pending = only(owner.frame(DebugInfo("plain text"), 10, 2.0, 0), UNATTRIBUTED)
    assert isinstance(nothing_pending.error, RequestRejected)
    assert owner.expire(100.0) == []  # the failed requests do not time out again


def test_timeouts() -> None:
    ledger = Ledger()
    timeouts = Timeouts(ack=1.0, delivery=2.0, unread=3.0, read=1.0, history=1.0)
    owner = tracker(OWNER, ledger, timeouts=timeouts)
    requester = tracker(REQUESTER, ledger, timeouts=timeouts)
    send(requester, now=10.0, wall=10.0)
    requester.history_sent(CHAT, 5, now=10.0)
    assert requester.expire(10.5) == []
    expired = requester.expire(11.5)
    assert {s.metric for s in expired} == {SEND_ACK, HISTORY}
    assert all(
        isinstance(s.error, AwaitTimeout) and s.seconds == pytest.approx(1.5) for s in expired
    )
    [lost] = owner.expire(12.5)
    assert (lost.metric, str(lost.error)) == (DELIVERY, "timeout: no delivery")
    assert lost.seconds == pytest.approx(2.5)
    assert requester.expire(60.0) == [] and owner.expire(60.0) == []


def test_reading_cancels_the_waits_it_covers() -> None:
    ledger = Ledger()
    owner = tracker(OWNER, ledger, timeouts=Timeouts(unread=1.0))
    requester = tracker(REQUESTER, ledger)
    _, first, _ = send(requester, now=0.0, wall=0.0)
    _, second, _ = send(requester, now=0.0, wall=0.0)
    owner.frame(updates(with_id(first, 1)), 1, 0.1, 0.1)
    owner.frame(updates(with_id(second, 2)), 1, 0.1, 0.1)
    # The owner reads message 1 before any count came: no count will ever include
    # it, so its wait ends without a sample; the count after the read (1) does
    # include message 2.
    owner.read_sent(CHAT, 1, now=0.2, wall=0.2)
    samples = owner.frame(unread(1, 0), 1, 0.3, 0.3)
    assert only(samples, READ_ACK).seconds == pytest.approx(0.1)
    assert only(samples, UNREAD_PROPAGATION).seconds == pytest.approx(0.3)
    assert owner.expire(5.0) == []


def test_a_count_that_never_comes_is_a_timeout() -> None:
    ledger = Ledger()
    owner = tracker(OWNER, ledger, timeouts=Timeouts(unread=1.0))
    requester = tracker(REQUESTER, ledger)
    _, draft, _ = send(requester, now=0.0, wall=0.0)
    owner.frame(updates(with_id(draft, 1)), 1, 0.1, 0.1)
    assert owner.expire(1.0) == []
    [missing] = owner.expire(1.2)
    assert (missing.metric, str(missing.error)) == (
        UNREAD_PROPAGATION,
        "timeout: no chat_unread counting the message",
    )
    assert missing.seconds == pytest.approx(1.2)


def test_a_disconnect_fails_what_is_pending() -> None:
    owner = tracker(OWNER, Ledger())
    token, _, _ = send(owner, now=1.0, wall=1.0)
    samples = owner.close(3.0, Disconnected("disconnect: the server closed the connection"))
    failed = only(samples, SEND_ACK)
    assert (failed.request_id, failed.seconds) == (token, pytest.approx(2.0))
    assert isinstance(only(samples, CONNECTION).error, Disconnected)
    assert owner.expire(100.0) == []


def test_markers_off_match_by_order_in_one_process() -> None:
    ledger = Ledger()
    owner = tracker(OWNER, ledger, markers=False)
    requester = tracker(REQUESTER, ledger, markers=False)
    requester.message_sent(CHAT, None, now=1.0, wall=1.0)
    requester.message_sent(CHAT, None, now=1.1, wall=1.1)
    # The owner gets message 1 before the requester learns its id...
    assert owner.frame(updates(msg(1, REQUESTER)), 1, 1.2, 0) == []
    assert only(
        requester.frame(updates(msg(1, REQUESTER)), 1, 1.3, 0), SEND_ACK
    ).seconds == pytest.approx(0.3)
    assert only(owner.expire(1.3), DELIVERY).seconds == pytest.approx(0.2)
    # ... and message 2 after.
    assert only(
        requester.frame(updates(msg(2, REQUESTER)), 1, 1.4, 0), SEND_ACK
    ).seconds == pytest.approx(0.3)
    assert only(
        owner.frame(updates(msg(2, REQUESTER)), 1, 1.5, 0), DELIVERY
    ).seconds == pytest.approx(0.4)


def test_acks_of_another_process_are_not_ours() -> None:
    owner = tracker(OWNER, Ledger())
    foreign = MarkerFactory("00000000").make(1.0)
    assert owner.frame(updates(msg(1, OWNER, "x" + foreign.render())), 1, 1.0, 1.0) == []


def test_memory_stays_bounded_when_the_interlocutor_reads() -> None:
    ledger = Ledger()
    owner = tracker(OWNER, ledger)
    for message_id in range(1, 1001):
        _, draft, _ = send(owner, now=0.0, wall=0.0)
        owner.frame(updates(with_id(draft, message_id)), 1, 0.0, 0.0)
    assert len(owner.chats[CHAT].my_ids) == 1000
    owner.frame(unread(0, 0), 1, 0.1, 0.1)
    assert owner.chats[CHAT].my_ids == []


def test_a_read_older_than_the_connection_is_not_awaited() -> None:
    # The owner connects while the requester's read is on its way through the side
    # channel; initial_data already shows the read, so no chat_unread will follow.
    owner_ledger, reader_ledger = Ledger(share_reads=True), Ledger(share_reads=True)
    requester = ConnectionTracker(REQUESTER, reader_ledger)
    requester.open(initial(REQUESTER, (msg(1, OWNER), msg(2, OWNER)), mine=2))
    requester.read_sent(CHAT, 2, now=7.0, wall=900.0)
    [notice] = reader_ledger.drain_outbox()
    owner = ConnectionTracker(OWNER, owner_ledger)
    owner.open(initial(OWNER, (msg(1, OWNER), msg(2, OWNER)), theirs=0), now=3.0, wall=900.01)
    owner_ledger.receive_remote_read(notice, now=3.1)
    assert owner.expire(3.1 + 60) == []
    # A read sent before the connection that initial_data does not show yet is awaited.
    late = ConnectionTracker(OWNER, Ledger(share_reads=True))
    late.open(initial(OWNER, (msg(1, OWNER), msg(2, OWNER)), theirs=2), now=3.0, wall=900.01)
    late.ledger.receive_remote_read(notice, now=3.1)
    sample = only(late.frame(unread(0, 0), 1, 3.2, 900.02), READ_PROPAGATION)
    assert sample.seconds == pytest.approx(0.02)


TWO_UNREAD = (msg(1, REQUESTER), msg(2, REQUESTER))


def _closed_with_a_read_unanswered(up_to: int) -> Ledger:
    """The owner read up to ``up_to`` of two unread and closed before the answer."""
    ledger = Ledger()
    first = ConnectionTracker(OWNER, ledger)
    first.open(initial(OWNER, TWO_UNREAD, mine=2))
    first.read_sent(CHAT, up_to, now=1.0, wall=1.0)
    first.close(1.5, None)
    return ledger


def _connected_again(ledger: Ledger, who: int = OWNER, now: float = 2.0) -> ConnectionTracker:
    """``who`` connects, the read not applied yet: both messages still unread."""
    again = ConnectionTracker(who, ledger)
    counts = {"mine": 2} if who == OWNER else {"theirs": 2}
    again.open(initial(who, TWO_UNREAD, **counts), now=now)
    return again


def test_a_read_of_the_persons_last_connection_may_land_on_the_next() -> None:
    # A slow server applies a read after its connection closed and the person's next
    # connection opened: the count that drops is that read's, not a miscount.
    ledger = _closed_with_a_read_unanswered(2)
    second = _connected_again(ledger)
    assert second.frame(unread(0, 0), 1, 2.1, 2.1) == []  # no read_ack: not this one's read
    assert second.chats[CHAT].pointer == 2
    assert second.conclude(3.0, nothing_more_coming=True).breaches == []
    # A third connection inherits nothing: the count settled the read.
    third = _connected_again(ledger, now=4.0)
    assert third.chats[CHAT].maybe_pointer is None


def test_a_read_in_doubt_is_the_persons_only() -> None:
    # Another person's connection, or the same person's count that never drops,
    # is judged as before: the read in doubt does not excuse a wrong count.
    ledger = _closed_with_a_read_unanswered(1)
    other = _connected_again(ledger, REQUESTER)
    assert other.chats[CHAT].maybe_pointer is None
    second = _connected_again(ledger)
    second.frame(unread(0, 0), 1, 2.1, 2.1)  # below what a read up to 1 leaves (1)
    [breach] = second.conclude(3.0, nothing_more_coming=True).breaches
    assert breach.kind == "unread"
