"""What one generator process's people did in one interval, for the proof. Pure.

Counts (arrivals offered to the process, their sessions begun, those dropped for want
of a free slot or a free person, answering sessions begun and dropped, actions and
the late ones) and the
traffic itself, in the model's time: sessions, messages, reads and page-backs, the
rows of an export (``traffic.observe``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatload.users_file import ROLES

__all__ = ["COUNTS", "OPEN_SESSIONS", "TrafficBatch"]

COUNTS = (
    "offered",
    "started",
    "dropped",
    "answering",
    "answering_dropped",
    "actions",
    "late_actions",
)

# Not a count of events: the sessions open in a process as its batch was taken (summed
# over processes, the run's at that moment).
OPEN_SESSIONS = "open_sessions"

# (user, connected_at, disconnected_at, answering: 0/1, role: 0 owner / 1 requester,
# carried_over: 0/1, cut_short: 0/1; see ``traffic.observe.Export.sessions``)
SessionRow = tuple[int, float, float, int, int, int, int]
# (chat, message_id, from_user, to_user, created_at, text_length, photos, owner)
MessageRow = tuple[str, int, int, int, float, int, int, int]
ReadRow = tuple[str, int, int, float]  # (chat, user, last_read_message_id, read_at)
# (user, session start, pages loaded, cut: 1 when the person wanted more: the
# chat's history ended first, a page failed or the connection went)
PageRow = tuple[int, float, int, int]
ArrivalRow = tuple[int, float]  # (role: 0 owner / 1 requester, offered at)


@dataclass
class TrafficBatch:
    counts: dict[str, int] = field(default_factory=dict)  # "owner.offered", "actions", ...
    sessions: list[SessionRow] = field(default_factory=list)
    messages: list[MessageRow] = field(default_factory=list)
    reads: list[ReadRow] = field(default_factory=list)
    page_backs: list[PageRow] = field(default_factory=list)
    arrivals: list[ArrivalRow] = field(default_factory=list)  # each offered, dropped too

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def of_every_role(self, *kinds: str) -> int:
        """The counts of ``kinds`` (``offered``, ``dropped`` ...) summed over the roles."""
        return sum(self.counts.get(f"{role}.{kind}", 0) for role in ROLES for kind in kinds)

    def add(self, other: TrafficBatch) -> None:
        for key, n in other.counts.items():
            self.count(key, n)
        self.sessions += other.sessions
        self.messages += other.messages
        self.reads += other.reads
        self.page_backs += other.page_backs
        self.arrivals += other.arrivals

    def to_wire(self) -> list[Any]:
        return [
            self.counts,
            self.sessions,
            self.messages,
            self.reads,
            self.page_backs,
            self.arrivals,
        ]

    @classmethod
    def from_wire(cls, item: list[Any]) -> TrafficBatch:
        counts, sessions, messages, reads, pages, arrivals = item
        return cls(
            {str(k): int(v) for k, v in counts.items()},
            [
                (int(u), float(a), float(b), int(x), int(r), int(c), int(s))
                for u, a, b, x, r, c, s in sessions
            ],
            [
                (str(c), int(m), int(f), int(t), float(at), int(n), int(p), int(o))
                for c, m, f, t, at, n, p, o in messages
            ],
            [(str(c), int(u), int(m), float(at)) for c, u, m, at in reads],
            [(int(u), float(at), int(n), int(c)) for u, at, n, c in pages],
            [(int(role), float(at)) for role, at in arrivals],
        )
