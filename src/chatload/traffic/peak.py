"""A model's traffic at its busiest hour, per person: the 1x of a capacity in
production units. Pure.

Measured on the simulated world ``traffic.concurrency`` sizes runs with (its last
day, conversations under way): the busiest hour by sessions open at once, and in it
each role's sessions begun (own and answering), messages sent, and sessions open.
The turns due a second (answers and second messages, by writer) are what a run
started at that hour owes its past (``traffic.carry_over``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from chatload.traffic.carry_over import TurnStream
from chatload.traffic.model import TrafficModel
from chatload.traffic.observe import Export
from chatload.users_file import ROLES, Role

__all__ = ["PeakTraffic", "peak_of"]


@dataclass(frozen=True)
class PeakTraffic:
    hour: int  # the model's busiest hour of the day (0-23)
    # Per person of the role, at that hour:
    sessions_per_s: Mapping[Role, float]  # sessions begun (answering ones too)
    messages_per_s: Mapping[Role, float]  # messages the role sends
    at_once: Mapping[Role, float]  # sessions open
    # The chats with a message within the model's burst gap at the span's end (no new
    # burst starts in them), of all chats.
    busy_chats: float = 0.0
    # Of the bursts a role's people began in the span, those that found a quiet chat
    # (a message went): busier people find their own chats busy more often than the
    # chats at large are (``TrafficEngine.burst_chat``).
    burst_success: Mapping[Role, float] = field(default_factory=dict)

    def total(self, people: Mapping[Role, float]) -> dict[str, float]:
        """``people``'s traffic at the busiest hour: sessions/s, messages/s, at once."""
        return {
            name: sum(rates[role] * people.get(role, 0) for role in ROLES)
            for name, rates in (
                ("sessions_per_s", self.sessions_per_s),
                ("messages_per_s", self.messages_per_s),
                ("concurrent_sessions", self.at_once),
            )
        }

    def turn_streams(self, model: TrafficModel, people: Mapping[Role, float]) -> list[TurnStream]:
        """Turns due a second at the busiest hour for ``people`` (1x), by writer and gap:
        after a role's message the same person writes next (``next_same``) after its
        ``same_sender_gap_s``, or the other side (``next_other``) after its
        ``reply_gap_s``."""
        streams = []
        pairs: tuple[tuple[Role, Role], ...] = (("owner", "requester"), ("requester", "owner"))
        for writer, other in pairs:
            mine, theirs = model.role(writer), model.role(other)
            sent = {role: self.messages_per_s[role] * people.get(role, 0) for role in ROLES}
            streams.append(
                TurnStream(
                    writer,
                    sent[writer] * mine.scalar("next_same"),
                    mine.family("same_sender_gap_s"),
                )
            )
            streams.append(
                TurnStream(
                    writer,
                    sent[other] * theirs.scalar("next_other"),
                    mine.family("reply_gap_s"),
                )
            )
        return streams


def peak_of(
    roles: Mapping[int, Role],
    export: Export,
    span: tuple[float, float],
    at_once: Mapping[Role, float],
    burst_gap_s: float,
) -> PeakTraffic:
    """The simulated ``export``'s traffic over ``span`` (seconds of its clock), per
    person (``at_once``: each role's sessions open then, per person), and its chats
    busy at the span's end (a message within ``burst_gap_s``)."""
    start, end = span
    seconds = end - start
    size = {role: max(sum(1 for r in roles.values() if r == role), 1) for role in ROLES}
    sessions = export.sessions if export.sessions is not None else np.empty((0, 3))
    begun = sessions[(sessions[:, 1] >= start) & (sessions[:, 1] < end)]
    in_span = (export.created >= start) & (export.created < end)
    senders = export.sender[in_span]
    sessions_per_s, messages_per_s = {}, {}
    for role in ROLES:
        sessions_per_s[role] = sum(1 for u in begun[:, 0] if roles[int(u)] == role) / seconds
        messages_per_s[role] = sum(1 for u in senders if roles[int(u)] == role) / seconds
    return PeakTraffic(
        int(start // 3600 % 24),
        {role: sessions_per_s[role] / size[role] for role in ROLES},
        {role: messages_per_s[role] / size[role] for role in ROLES},
        dict(at_once),
        _busy_share(export, end, burst_gap_s),
        _burst_success(export, span),
    )


def _burst_success(export: Export, span: tuple[float, float]) -> dict[Role, float]:
    """Each role's share of bursts begun in ``span`` that sent (none known: absent)."""
    tries = export.burst_tries
    if tries is None or not len(tries):
        return {}
    within = tries[(tries[:, 0] >= span[0]) & (tries[:, 0] < span[1])]
    success = {}
    for index, role in enumerate(ROLES):
        mine = within[within[:, 1] == index]
        if len(mine):
            success[role] = float(mine[:, 2].mean())
    return success


def _busy_share(export: Export, at: float, burst_gap_s: float) -> float:
    chats = len(export.owner_of_chat)
    recent = (export.created > at - burst_gap_s) & (export.created <= at)
    return len(np.unique(export.chat[recent])) / chats if chats else 0.0
