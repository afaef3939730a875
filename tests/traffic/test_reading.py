"""Reading as an export shows it: each read timed from the oldest message it read
new, and the reads a session's end cut off known from below."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from chatload.traffic.compare import compare_traffic
from chatload.traffic.default import default_model
from chatload.traffic.fitting import fit_censored, fit_samples, ks_distance
from chatload.traffic.observe import Export, observe
from chatload.traffic.reading import read_delays, unread_at_session_end
from chatload.traffic.simulate import World, simulate

OWNER, REQUESTER = 10, 20


def _export(messages: list[tuple[int, int, float]], reads: list[tuple[int, float]]) -> Export:
    """Chat 1 between OWNER and REQUESTER: messages (id, sender, at), the requester's
    reads (up to id, at); the requester online over [0, 100] and [200, 300]."""
    rows = np.array(messages, dtype=float)
    sender = rows[:, 1].astype(np.int64)
    return Export(
        chat=np.ones(len(rows), dtype=np.int64),
        message_id=rows[:, 0].astype(np.int64),
        sender=sender,
        created=rows[:, 2],
        text_length=None,
        photos=None,
        owner_of_chat={1: OWNER},
        roles={OWNER: "owner", REQUESTER: "requester"},
        reads=np.array([(1, REQUESTER, up_to, at) for up_to, at in reads], dtype=float),
        sessions=np.array([(REQUESTER, 0.0, 100.0), (REQUESTER, 200.0, 300.0)]),
        start=0.0,
        end=400.0,
        recipient=np.where(sender == OWNER, REQUESTER, OWNER),
    )


def test_a_read_is_timed_from_the_oldest_message_it_read_new() -> None:
    export = _export(
        [(1, OWNER, 10.0), (2, OWNER, 20.0), (3, OWNER, 60.0), (4, OWNER, 250.0)],
        [(2, 50.0), (4, 280.0)],
    )
    users, delays = read_delays(export, last_trigger=400.0)
    # Up to 2 at 50: from 1 (seen at 10). Up to 4 at 280: 3 came at 60 and was left
    # unread, so it was seen again when the next session began (200).
    assert users.tolist() == [REQUESTER, REQUESTER]
    assert delays.tolist() == [40.0, 80.0]
    # The first session ended with 3 unread (seen at 60): longer than 40 s.
    users, at_least = unread_at_session_end(export, last_trigger=400.0)
    assert users.tolist() == [REQUESTER] and at_least.tolist() == [40.0]
    # Only what was seen by the last trigger counts.
    assert read_delays(export, last_trigger=30.0)[1].tolist() == [40.0]
    assert unread_at_session_end(export, last_trigger=30.0)[1].tolist() == []


def test_writing_in_a_chat_reads_it() -> None:
    export = _export(
        [(1, OWNER, 10.0), (2, REQUESTER, 30.0), (3, OWNER, 70.0), (4, OWNER, 80.0)],
        [(4, 90.0)],
    )
    # The requester answered 1 at 30: the read at 90 read 3 new, seen at 70.
    assert read_delays(export, last_trigger=400.0)[1].tolist() == [20.0]
    # Nothing was left unread at 100; in the second session nothing new came.
    assert unread_at_session_end(export, last_trigger=400.0)[1].tolist() == []
    # A read up to the reader's own message reads nothing new: no delay.
    answered = _export([(1, OWNER, 10.0), (2, REQUESTER, 30.0)], [(2, 40.0)])
    assert read_delays(answered, last_trigger=400.0)[1].tolist() == []
    assert unread_at_session_end(answered, last_trigger=400.0)[1].tolist() == []


def test_a_session_that_ends_with_the_chat_unread_shows_a_delay_from_below() -> None:
    export = _export([(1, OWNER, 10.0), (2, OWNER, 250.0)], [])
    users, at_least = unread_at_session_end(export, last_trigger=400.0)
    # 1 seen at 10, unread at 100; seen again at 200 (with 2), unread at 300.
    assert users.tolist() == [REQUESTER, REQUESTER] and at_least.tolist() == [90.0, 100.0]
    # An export without each message's recipient: the chat's other member reads.
    bare = _export([(1, OWNER, 10.0), (2, OWNER, 250.0), (3, REQUESTER, 390.0)], [])
    bare.recipient = None
    assert unread_at_session_end(bare, last_trigger=400.0)[1].tolist() == [90.0, 100.0]


@cache
def _short_sessions() -> Export:
    # The default model: sessions of median 45 s beside reads of median 4 s, so about
    # one in thirteen reads is cut off by its session's end.
    return simulate(default_model(), World.made(200, 800, 10, seed=3), days=3, seed=4)


@pytest.mark.parametrize("role", ["owner", "requester"])
def test_reads_cut_by_sessions_are_weighed_and_the_model_is_recovered(role: str) -> None:
    model = default_model()
    truth = model.role(role).family("read_delay_s")
    observed = observe(_short_sessions(), model.burst_gap_s)
    exact = observed.samples[role]["read_delay_s"]
    beyond = observed.samples[role]["read_delay_s_at_least"]
    assert len(exact) > 4000 and len(beyond) > 300
    fitted = fit_censored(exact, beyond).family
    assert fitted.name == "lognormal"
    assert fitted.params["mu"] == pytest.approx(truth.params["mu"], abs=0.05)
    assert fitted.params["sigma"] == pytest.approx(truth.params["sigma"], abs=0.05)
    # Without the cut ones, the reads look quicker than the model's.
    naive = fit_samples(exact).family
    assert naive.quantile(0.5) < 0.95 * truth.quantile(0.5)
    assert ks_distance(exact, truth) > 0.025
    rows = {row.quantity: row for row in compare_traffic(model, _short_sessions())}
    row = rows[f"{role}.read_delay_s"]
    assert row.verdict == "matches" and row.d < 0.03, row


def test_a_searchs_sessions_carried_over_or_cut_short_are_presence_not_lengths() -> None:
    # A run's own sessions: (user, start, end, answering, carried_over, cut_short). The
    # requester's first session was carried over into the level (began before it),
    # the second cut short by a level going down, the third whole.
    export = _export([(1, OWNER, 10.0), (2, OWNER, 150.0), (3, OWNER, 230.0)], [(1, 14.0)])
    export.sessions = np.array(
        [
            (REQUESTER, 5.0, 40.0, 0, 1, 0),
            (REQUESTER, 140.0, 160.0, 0, 0, 1),
            (REQUESTER, 200.0, 260.0, 0, 0, 0),
        ]
    )
    observed = observe(export, burst_gap_s=60.0)
    samples = observed.samples["requester"]
    assert samples["duration_s"].tolist() == [60.0]
    assert samples["duration_s_at_least"].tolist() == [20.0]
    assert observed.arrival_times["requester"].tolist() == [140.0, 200.0]
    # Online from 5 in the carried session: the read at 14 took 4 s from message 1 at
    # 10; message 2, seen at 150 and left unread when the cut session ended at 160.
    assert read_delays(export, last_trigger=400.0)[1].tolist() == [4.0]
    assert 10.0 in unread_at_session_end(export, last_trigger=400.0)[1].tolist()
