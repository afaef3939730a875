"""The proof of a model run, fed with its merged intervals.

Each interval brings what every process's people did (``traffic.batch``): arrivals
offered, sessions begun and dropped, answering sessions, late actions, and the
traffic itself. The feed keeps the counts per interval beside the arrivals the
model expected then, and the traffic as an export in the model's time; at the end
it is compared with the model (``traffic.compare``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

import numpy as np

from chatload.records.files import iso_time
from chatload.records.intervals import MergedInterval
from chatload.traffic.batch import TrafficBatch
from chatload.traffic.compare import Cumulative, TrafficRow, compare_traffic
from chatload.traffic.model import TrafficModel
from chatload.traffic.observe import Export
from chatload.users_file import ROLES, Role

__all__ = ["TRAFFIC_INTERVAL_COLUMNS", "TrafficFeed"]

TRAFFIC_INTERVAL_COLUMNS: Final = (
    "interval_start",
    "interval_end",
    "role",
    "expected_arrivals",
    "offered",
    "started",
    "dropped",
    "answering",
    "answering_dropped",
    "actions",
    "late_actions",
)


class TrafficFeed:
    def __init__(
        self,
        model: TrafficModel,
        people: Mapping[Role, int],
        roles: Mapping[int, Role],
        to_model: Callable[[float], float],
        expected: Callable[[float, float], dict[Role, float]],
        *,
        cumulative: Cumulative | None = None,
    ) -> None:
        self.model = model  # at the model's own speed
        self.people = dict(people)
        self.roles = roles  # every person's role (the identities)
        self._to_model = to_model  # wall seconds -> the model's clock
        self._expected = expected
        self._cumulative = cumulative  # a search's: arrivals expected by a model time
        self.total = TrafficBatch()
        self.interval_rows: list[list[str]] = []
        self._span: tuple[float, float] | None = None

    def add_interval(self, interval: MergedInterval) -> None:
        start, end = self._to_model(interval.start), self._to_model(interval.end)
        first = start if self._span is None else self._span[0]
        self._span = (first, max(end, self._span[1] if self._span else end))
        batch = interval.traffic or TrafficBatch()
        self.total.add(batch)
        expected = self._expected(interval.start, interval.end)
        counts = batch.counts
        for role in ROLES:
            self.interval_rows.append(
                [
                    iso_time(interval.start),
                    iso_time(interval.end),
                    role,
                    f"{expected.get(role, 0.0):.3f}",
                    *(
                        str(counts.get(f"{role}.{key}", 0))
                        for key in (
                            "offered",
                            "started",
                            "dropped",
                            "answering",
                            "answering_dropped",
                        )
                    ),
                    str(counts.get(f"{role}.actions", 0)),
                    str(counts.get(f"{role}.late_actions", 0)),
                ]
            )

    @property
    def dropped(self) -> int:
        return self.total.of_every_role("dropped")

    @property
    def answers_dropped(self) -> int:
        """Turns due to people offline that no free user came back to write."""
        return self.total.of_every_role("answering_dropped")

    @property
    def late_actions(self) -> int:
        return self.total.of_every_role("late_actions")

    def export(self) -> tuple[Export, dict[int, str]]:
        """The run's traffic as an export (the model's time), and its chat ids."""
        total = self.total
        keys: dict[str, int] = {}
        owners: dict[int, int] = {}
        roles: dict[int, Role] = dict(self.roles)
        rows = []
        for chat, message_id, sender, recipient, created, length, photos, owner in total.messages:
            key = keys.setdefault(chat, len(keys) + 1)
            owners[key] = owner
            roles[owner] = "owner"
            roles.setdefault(recipient if sender == owner else sender, "requester")
            rows.append((key, message_id, sender, recipient, created, length, photos))
        for user, _, _, _, role, _, _ in total.sessions:
            roles.setdefault(user, ROLES[role])
        table = np.array(rows, dtype=float).reshape(-1, 7)
        reads = np.array(
            [(keys[c], u, m, t) for c, u, m, t in total.reads if c in keys], dtype=float
        ).reshape(-1, 4)
        sessions = np.array(
            [(u, a, b, x, c, s) for u, a, b, x, _, c, s in total.sessions], dtype=float
        ).reshape(-1, 6)
        start, end = self._span or (0.0, 0.0)
        export = Export(
            chat=table[:, 0].astype(np.int64),
            message_id=table[:, 1].astype(np.int64),
            sender=table[:, 2].astype(np.int64),
            created=table[:, 4],
            text_length=table[:, 5],
            photos=table[:, 6],
            owner_of_chat=owners,
            roles=roles,
            reads=reads,
            sessions=sessions,
            start=start,
            end=end,
            people=dict(self.people),
            page_backs=np.array(total.page_backs, dtype=float).reshape(-1, 4),
            recipient=table[:, 3].astype(np.int64),
            arrivals={
                role: np.array([at for r, at in total.arrivals if ROLES[r] == role])
                for role in ROLES
            },
        )
        return export, {key: chat for chat, key in keys.items()}

    def compared(self) -> list[TrafficRow]:
        export, _ = self.export()
        if not len(export.chat):
            return []
        return compare_traffic(self.model, export, self._cumulative)
