"""Each guarantee of PROTOCOL.md, broken on purpose in frames fed to the tracker."""

from __future__ import annotations

import pytest

from chatload.errors import AwaitTimeout, InvariantBreach, RequestRejected
from chatload.protocol import ChatUnread, DebugInfo, History, Message
from chatload.tracking import ACCESS_PROBE, Ledger, Timeouts
from chatload.tracking.invariants import ChatSummary, compare_sides
from chatload.tracking.pending import LOAD, READ, SEND
from chatload.tracking.tracker import ConnectionTracker
from tests.tracking.test_tracker import (
    CHAT,
    OWNER,
    REQUESTER,
    initial,
    msg,
    send,
    tracker,
    unread,
    updates,
    with_id,
)


def kinds(t: ConnectionTracker) -> list[str]:
    return [breach.kind for breach in t.take_breaches()]


def test_in_order_delivery_is_silent() -> None:
    owner = tracker(OWNER, Ledger())
    for message_id in range(1, 6):
        owner.frame(updates(msg(message_id, REQUESTER)), 1, 0.0, 0.0)
    assert kinds(owner) == []


def test_a_duplicate() -> None:
    owner = tracker(OWNER, Ledger())
    owner.frame(updates(msg(1, REQUESTER)), 1, 0.0, 0.0)
    samples = owner.frame(updates(msg(1, REQUESTER)), 1, 0.1, 0.1)
    [breach] = owner.take_breaches()
    assert (breach.kind, breach.chat_id, breach.message_ids) == ("duplicate", CHAT, (1,))
    assert breach.users == (OWNER, REQUESTER)
    assert samples == [], "a duplicate is not timed a second time"
    assert isinstance(breach.error(), InvariantBreach)


def settled_kinds(t: ConnectionTracker, *, quiet: bool = True) -> list[str]:
    return [b.kind for b in t.conclude(99.0, nothing_more_coming=quiet).breaches]


def test_a_reorder_and_a_gap() -> None:
    owner = tracker(OWNER, Ledger(), timeouts=Timeouts(delivery=1.0))
    owner.frame(updates(msg(1, REQUESTER)), 1, 0.0, 0.0)
    owner.frame(updates(msg(3, REQUESTER)), 1, 0.1, 0.1)  # 2 skipped...
    owner.frame(updates(msg(2, REQUESTER)), 1, 0.2, 0.2)  # ... then late: a reorder
    [reorder] = owner.take_breaches()
    assert (reorder.kind, reorder.message_ids) == ("reorder", (2, 3))
    owner.frame(updates(msg(6, REQUESTER)), 1, 0.3, 0.3)  # 4 and 5 never come
    owner.expire(1.0)
    assert kinds(owner) == []
    # Past the timeout it is not yet a gap: slow is not lost. The run settles
    # without them: then it is.
    owner.expire(1.5)
    assert kinds(owner) == []
    assert owner.owed() == {CHAT: 2}
    owner.frame(unread(4, 0), 1, 2.0, 2.0)
    [gap] = owner.conclude(9.0, nothing_more_coming=True).breaches
    assert (gap.kind, gap.message_ids) == ("gap", (4, 5))
    owner.expire(9.0)
    assert kinds(owner) == []


def test_skipped_ids_that_come_after_the_timeout_are_a_reorder_not_a_gap_or_duplicate() -> None:
    owner = tracker(OWNER, Ledger(), timeouts=Timeouts(delivery=1.0))
    owner.frame(updates(msg(1, REQUESTER)), 1, 0.0, 0.0)
    owner.frame(updates(msg(3, OWNER)), 1, 0.1, 0.1)  # my own ack overtakes 2
    owner.expire(30.0)
    owner.frame(updates(msg(2, REQUESTER)), 1, 30.0, 30.0)  # 2 comes, very late
    owner.frame(unread(2, 1), 1, 30.0, 30.0)
    assert kinds(owner) == ["reorder"]
    assert owner.owed() == {}
    assert settled_kinds(owner) == []


def test_an_acknowledged_message_lost_on_its_way() -> None:
    ledger = Ledger()
    timeouts = Timeouts(delivery=1.0)
    owner = tracker(OWNER, ledger, timeouts=timeouts)
    requester = tracker(REQUESTER, ledger, timeouts=timeouts)
    _, draft, _ = send(requester, now=0.0, wall=0.0)
    requester.frame(updates(with_id(draft, 1)), 1, 0.01, 0.01)  # acknowledged
    owner.expire(2.0)
    assert kinds(owner) == [], "a timeout is a failure, not a verdict"
    [loss] = owner.conclude(3.0, nothing_more_coming=True).breaches
    assert (loss.kind, loss.message_ids, loss.users) == ("loss", (1,), (REQUESTER, OWNER))
    # A message never acknowledged is a delivery timeout, not a loss.
    other = tracker(OWNER, Ledger(), timeouts=timeouts)
    sender = tracker(REQUESTER, other.ledger, timeouts=timeouts)
    send(sender, now=3.0, wall=3.0)
    sender.expire(5.0)
    other.expire(5.0)
    assert kinds(other) == [] and settled_kinds(other) == []


def test_a_delivery_after_its_timeout_is_late_with_its_true_latency_and_no_loss() -> None:
    ledger = Ledger()
    timeouts = Timeouts(delivery=1.0, unread=1.0)
    owner = tracker(OWNER, ledger, timeouts=timeouts)
    requester = tracker(REQUESTER, ledger, timeouts=timeouts)
    _, draft, _ = send(requester, now=0.0, wall=0.0)
    requester.frame(updates(with_id(draft, 1)), 1, 0.01, 0.01)
    [timeout] = owner.expire(1.5)
    assert isinstance(timeout.error, AwaitTimeout)
    assert owner.owed() == {CHAT: 1}
    samples = owner.frame(updates(with_id(draft, 1)), 1, 12.0, 12.0)
    [late] = [s for s in samples if s.metric == "delivery"]
    assert late.late and late.error is None and late.seconds == pytest.approx(12.0)
    # Its count comes as late: unread_propagation is timed from the send too.
    [count] = owner.frame(unread(1, 0), 1, 12.1, 12.1)
    assert (count.metric, count.late, count.seconds) == (
        "unread_propagation",
        False,
        pytest.approx(12.1),
    )
    assert owner.owed() == {}
    conclusion = owner.conclude(13.0, nothing_more_coming=True)
    assert conclusion.breaches == [] and conclusion.unsettled == []


def test_a_count_after_its_timeout_is_late() -> None:
    ledger = Ledger()
    owner = tracker(OWNER, ledger, timeouts=Timeouts(unread=1.0))
    requester = tracker(REQUESTER, ledger)
    _, draft, _ = send(requester, now=0.0, wall=0.0)
    owner.frame(updates(with_id(draft, 1)), 1, 0.1, 0.1)
    [timeout] = owner.expire(2.0)
    assert timeout.metric == "unread_propagation" and timeout.error is not None
    [late] = owner.frame(unread(1, 0), 1, 5.0, 5.0)
    assert (late.metric, late.late, late.seconds) == ("unread_propagation", True, 5.0)


def test_what_is_still_owed_when_time_runs_out_is_unsettled_not_lost() -> None:
    ledger = Ledger()
    timeouts = Timeouts(delivery=1.0)
    owner = tracker(OWNER, ledger, timeouts=timeouts)
    requester = tracker(REQUESTER, ledger, timeouts=timeouts)
    _, draft, _ = send(requester, now=0.0, wall=0.0)
    requester.frame(updates(with_id(draft, 1)), 1, 0.01, 0.01)
    owner.frame(unread(5, 0), 1, 0.02, 0.02)  # a count the model disagrees with
    owner.expire(2.0)
    conclusion = owner.conclude(3.0, nothing_more_coming=False)
    assert conclusion.breaches == [] and conclusion.summaries == []
    assert conclusion.unsettled == [CHAT]
    # The sender's side owes nothing: it is judged (and agrees with itself).
    judged = requester.conclude(3.0, nothing_more_coming=False)
    assert judged.unsettled == [] and [s.chat_id for s in judged.summaries] == [CHAT]


def test_a_message_seen_before_a_reconnect_must_still_be_there() -> None:
    ledger = Ledger()
    first = ConnectionTracker(OWNER, ledger)
    first.open(initial(OWNER, (msg(1, REQUESTER), msg(2, OWNER, "mine"))))
    first.frame(updates(msg(3, REQUESTER, "last")), 1, 0.0, 0.0)
    seen = first.last_seen()
    first.close(1.0, None)
    lost = ConnectionTracker(OWNER, ledger)
    lost.open(initial(OWNER, (msg(1, REQUESTER), msg(2, OWNER, "mine"))), previous=seen)
    [breach] = lost.take_breaches()
    assert (breach.kind, breach.message_ids) == ("loss", (3,))
    changed = ConnectionTracker(OWNER, ledger)
    changed.open(initial(OWNER, (msg(2, OWNER), msg(3, REQUESTER, "rewritten"))), previous=seen)
    assert kinds(changed) == ["loss"]
    kept = ConnectionTracker(OWNER, ledger)
    kept.open(initial(OWNER, (msg(3, REQUESTER, "last"), msg(4, OWNER))), previous=seen)
    assert kinds(kept) == []


@pytest.mark.parametrize(
    ("page", "words"),
    [
        ((3, 4), None),
        ((), "empty, though messages 1..4 exist"),
        ((2, 4), "not contiguous and ascending"),
        ((3, 3, 4), "not contiguous and ascending"),
        ((4, 3), "not contiguous and ascending"),
        ((2, 3), "ends at 3, not at 4"),
    ],
)
def test_history_pages(page: tuple[int, ...], words: str | None) -> None:
    owner = ConnectionTracker(OWNER, Ledger())
    owner.open(initial(OWNER, tuple(msg(i, REQUESTER) for i in range(5, 9))))
    owner.history_sent(CHAT, 5, now=0.0)
    owner.frame(History(CHAT, tuple(msg(i, REQUESTER) for i in page)), 1, 0.1, 0.1)
    breaches = owner.take_breaches()
    if words is None:
        assert breaches == []
    else:
        [breach] = breaches
        assert breach.kind == "history" and words in breach.detail


def test_history_must_agree_with_live_delivery_and_end_at_message_1() -> None:
    owner = ConnectionTracker(OWNER, Ledger())
    owner.open(initial(OWNER, (msg(1, REQUESTER, "hello"), msg(2, REQUESTER, "there"))))
    owner.history_sent(CHAT, 3, now=0.0)
    owner.frame(History(CHAT, (msg(1, REQUESTER, "hello"), msg(2, REQUESTER, "edited"))), 1, 0, 0)
    [breach] = owner.take_breaches()
    assert "message 2 differs from its live delivery" in breach.detail
    owner.history_sent(CHAT, 1, now=0.0)
    owner.frame(History(CHAT, ()), 1, 0, 0)
    assert kinds(owner) == [], "an empty page below message 1 is the end"


def test_a_stranger_writing_in_my_chat() -> None:
    owner = tracker(OWNER, Ledger())
    stranger = Message(1, "hi", (), "2025-03-01T13:51:53.285Z", 99, OWNER)
    owner.frame(updates(stranger), 1, 0.0, 0.0)
    [breach] = owner.take_breaches()
    assert (breach.kind, breach.users) == ("access", (99, OWNER))


def test_frames_of_a_chat_that_is_not_mine() -> None:
    owner = tracker(OWNER, Ledger())
    foreign = Message(1, "x", (), "2025-03-01T13:51:53.285Z", 50, 51)
    owner.frame(updates(foreign).__class__("other", updates().event, 1, True, (foreign,)), 1, 0, 0)
    assert kinds(owner) == ["access"]
    # A new chat that includes me is not a leak.
    mine = Message(1, "x", (), "2025-03-01T13:51:53.285Z", 50, OWNER)
    owner.frame(updates(mine).__class__("new", updates().event, 1, True, (mine,)), 1, 0, 0)
    assert kinds(owner) == []


def test_access_probes() -> None:
    owner = tracker(OWNER, Ledger(), timeouts=Timeouts(ack=1.0, read=1.0, history=1.0))
    token = owner.probe_sent(SEND, "theirs", now=0.0)
    refused = owner.frame(DebugInfo.reference("forbidden", "no", "send_message"), 1, 0.004, 0)
    assert [(s.metric, s.error, s.request_id) for s in refused] == [(ACCESS_PROBE, None, token)]
    assert refused[0].seconds == pytest.approx(0.004)
    owner.probe_sent(LOAD, "theirs", now=1.0)
    owner.frame(History("theirs", (msg(1, 50),)), 1, 1.01, 0)  # the server served it
    assert kinds(owner) == ["access"]
    owner.probe_sent(READ, "theirs", now=2.0)
    owner.frame(ChatUnread("theirs", 0, 0), 1, 2.01, 0)
    assert kinds(owner) == ["access"]
    assert [s for s in owner.expire(3.5) if s.metric == ACCESS_PROBE] == [], "leaks answered"
    owner.probe_sent(SEND, "theirs", now=4.0)  # and a server that says nothing at all
    [silent] = [s for s in owner.expire(5.5) if s.metric == ACCESS_PROBE]
    assert isinstance(silent.error, AwaitTimeout)
    assert not isinstance(silent.error, RequestRejected)


def test_unread_convergence_against_the_model() -> None:
    owner = ConnectionTracker(OWNER, Ledger())
    owner.open(initial(OWNER, (msg(1, REQUESTER),), mine=1))
    owner.frame(updates(msg(2, REQUESTER)), 1, 0, 0)
    owner.frame(unread(2, 0), 1, 0, 0)
    assert owner.unread_breaches(0.0) == []
    owner.frame(unread(3, 0), 1, 0, 0)  # one more than the messages imply
    [breach] = owner.unread_breaches(0.0)
    assert (
        breach.kind == "unread" and "is 3, the messages and read pointer imply 2" in breach.detail
    )


def test_both_sides_must_agree() -> None:
    ok = [ChatSummary("c", 1, 2, 5, 1, 2), ChatSummary("c", 2, 1, 5, 2, 1)]
    assert compare_sides(ok) == []
    counts = [ChatSummary("c", 1, 2, 5, 1, 2), ChatSummary("c", 2, 1, 5, 2, 0)]
    [breach] = compare_sides(counts)
    assert breach.kind == "unread"
    behind = [ChatSummary("c", 1, 2, 5, 0, 0), ChatSummary("c", 2, 1, 3, 0, 0)]
    [breach] = compare_sides(behind)
    assert (breach.kind, breach.message_ids) == ("loss", (4, 5))
    alone = [ChatSummary("c", 1, 2, 5, 9, 9)]
    assert compare_sides(alone) == []


def test_summaries_round_trip() -> None:
    summary = ChatSummary("c", 1, 2, 5, 1, 2)
    assert ChatSummary.from_wire(summary.to_wire()) == summary


def test_a_long_conversation_keeps_the_checks_bounded() -> None:
    ledger = Ledger()
    owner, requester = tracker(OWNER, ledger), tracker(REQUESTER, ledger)
    now = 0.0
    for message_id in range(1, 20_001):
        now += 0.001
        sender, receiver = (requester, owner) if message_id % 3 else (owner, requester)
        _, draft, _ = send(sender, now=now, wall=now)
        stored = with_id(draft, message_id)
        for side in (sender, receiver):
            side.frame(updates(stored), 1, now, now)
        if message_id % 50 == 0:
            for side in (owner, requester):
                side.read_sent(CHAT, message_id, now, now)
            owner.frame(unread(0, 0), 1, now, now)
            requester.frame(unread(0, 0), 1, now, now)
        if message_id % 1000 == 0:
            owner.expire(now)
            requester.expire(now)
    for side in (owner, requester):
        view = side.chats[CHAT]
        assert kinds(side) == []
        assert len(view.interlocutor_ids) <= 50 and len(view.my_ids) <= 50
        assert view.recent is not None and len(view.recent) == 64
        assert not view.gaps and not view.reads and not view.unread_waits
        assert len(side.messages.awaited) + len(side.requests.sends) < 100
