"""A search's levels in production units: the busiest hour held, multipliers that
grow with the slots, the expected traffic linear in the multiplier."""

from __future__ import annotations

import pytest

from chatload.traffic.default import default_model
from chatload.traffic.levels import DEFAULT_BASELINE, LoadLevels, held_at_busiest

POOL = {"owner": 2000, "requester": 6000}


def test_the_busiest_hour_is_held_all_day() -> None:
    model = default_model()
    held, hour = held_at_busiest(model, POOL)
    arrivals = [sum(POOL[r] * model.role(r).arrivals_per_hour[h] for r in POOL) for h in range(24)]
    assert hour == arrivals.index(max(arrivals))
    for role in POOL:
        assert set(held.role(role).arrivals_per_hour) == {model.role(role).arrivals_per_hour[hour]}
        assert held.role(role).families == model.role(role).families


def test_levels_carry_more_people_as_they_grow_and_1x_is_the_baseline() -> None:
    levels = LoadLevels(default_model(), 2, POOL)
    multipliers = [levels.multiplier(users) for users in (20, 80, 320, 1280)]
    assert multipliers == sorted(multipliers) and multipliers[0] > 0
    # Headroom is a smaller share of a larger level: people grow faster than slots.
    assert multipliers[3] / multipliers[2] > 4
    assert levels.scale(320) == pytest.approx(
        levels.multiplier(320) * DEFAULT_BASELINE / sum(POOL.values())
    )
    one, three = levels.expected(1.0), levels.expected(3.0)
    for name in ("sessions_per_s", "messages_per_s", "concurrent_sessions"):
        assert one[name] > 0 and three[name] == pytest.approx(3 * one[name])
    # The people a level carries keep their sessions, headroom included, in its slots.
    at_once = levels.expected(levels.multiplier(1280))["concurrent_sessions"]
    assert 0.85 * 1280 < at_once < 1280
    assert levels.most_users() == 4000
    assert LoadLevels(default_model(), 2, POOL, baseline=100_000).multiplier(1280) == (
        pytest.approx(levels.multiplier(1280) / 100)
    )


def test_the_held_hours_turns_follow_its_messages() -> None:
    model = default_model()
    levels = LoadLevels(model, 2, POOL)
    peak = levels.peak
    assert peak.hour == levels.hour
    streams = peak.turn_streams(model, POOL)
    sent = {role: peak.messages_per_s[role] * POOL[role] for role in POOL}
    owner = model.role("owner")
    same = next(
        s for s in streams if s.writer == "owner" and s.gap is owner.family("same_sender_gap_s")
    )
    assert same.per_s == pytest.approx(sent["owner"] * owner.scalar("next_same"))
    reply = next(s for s in streams if s.writer == "owner" and s.gap is owner.family("reply_gap_s"))
    assert reply.per_s == pytest.approx(
        sent["requester"] * model.role("requester").scalar("next_other")
    )


def test_the_busiest_hours_bursts_send_less_often_than_its_chats_are_quiet() -> None:
    # A busier person's own chats are busier than the chats at large: the bursts that
    # send (found a quiet chat of their person) are fewer than the quiet chats.
    peak = LoadLevels(default_model(), 2, POOL).peak
    assert set(peak.burst_success) == {"owner", "requester"}
    for role in POOL:
        assert 0 < peak.burst_success[role] < 1
    assert peak.burst_success["requester"] < 1 - peak.busy_chats
