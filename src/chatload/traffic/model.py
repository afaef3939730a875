"""A traffic model: how a chat's people behave, per role, as a versioned file.

``chatload-traffic/1`` is JSON. Per role (``owner``, ``requester``) it holds
(``docs/traffic.md`` says what each field means and how it is measured):

- ``sessions``: ``arrivals_per_hour`` (24 values, sessions per hour of the day per
  1,000 people of the role) and ``duration_s`` (a family);
- ``conversations``: ``burst_starts_per_hour`` (bursts a connected person starts per
  hour online, for an activity weight of 1), ``next_same`` and ``next_other`` (after
  this role's message in a burst, the chance that the same person writes the next
  one, or the other side; the rest ends the burst), ``reply_gap_s`` (how long this
  role takes to answer the other side), ``same_sender_gap_s`` (how long before this
  role writes again); ``burst_size`` (messages per burst) is what the turns give,
  kept to compare a run with;
- ``reading``: ``read_delay_s`` (from seeing a message to ``read_messages``);
- ``history``: ``page_back_share`` (sessions that page back a chat) and ``pages``;
- ``content``: ``text_length`` (characters), ``photo_share``, ``photos`` (per message
  with photos);
- ``activity``: ``weight`` (each person's, mean 1, heavy-tailed).

Besides the roles: ``burst_gap_s`` (a longer silence in a chat starts a new burst)
and ``sources`` (where each quantity came from: the export, or the default model).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from chatload.errors import ConfigError
from chatload.traffic.families import Family
from chatload.users_file import ROLES, Role

__all__ = ["FORMAT", "QUANTITIES", "RoleModel", "TrafficModel"]

FORMAT: Final = "chatload-traffic/1"
# Each family-valued quantity: (section, field) in a role's model.
QUANTITIES: Final = (
    ("sessions", "duration_s"),
    ("conversations", "reply_gap_s"),
    ("conversations", "same_sender_gap_s"),
    ("conversations", "burst_size"),
    ("reading", "read_delay_s"),
    ("history", "pages"),
    ("content", "text_length"),
    ("content", "photos"),
    ("activity", "weight"),
)
_SCALARS: Final = (
    ("conversations", "burst_starts_per_hour"),
    ("conversations", "next_same"),
    ("conversations", "next_other"),
    ("history", "page_back_share"),
    ("content", "photo_share"),
)
_SHARES: Final = ("next_same", "next_other", "page_back_share", "photo_share")
# Quantities in seconds: a time scale divides them; counts and weights stay.
TIMES: Final = ("duration_s", "reply_gap_s", "same_sender_gap_s", "read_delay_s")


@dataclass(frozen=True)
class RoleModel:
    arrivals_per_hour: tuple[float, ...]  # 24 values per 1,000 people of the role
    families: Mapping[str, Family]  # by field name (QUANTITIES)
    scalars: Mapping[str, float]  # by field name (_SCALARS)

    def family(self, name: str) -> Family:
        return self.families[name]

    def scalar(self, name: str) -> float:
        return self.scalars[name]

    def arrivals_at(self, hour: float) -> float:
        """Sessions per hour per 1,000 people at the model's ``hour`` (0..24)."""
        return self.arrivals_per_hour[int(hour) % 24]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sessions": {"arrivals_per_hour": list(self.arrivals_per_hour)}}
        for section, name in QUANTITIES:
            out.setdefault(section, {})[name] = self.families[name].to_json()
        for section, name in _SCALARS:
            out.setdefault(section, {})[name] = self.scalars[name]
        return out

    @classmethod
    def from_json(cls, data: Any, where: str) -> RoleModel:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected an object")
        arrivals = _section(data, "sessions", where).get("arrivals_per_hour")
        if not isinstance(arrivals, list) or len(arrivals) != 24:
            raise ConfigError(f"{where}.sessions.arrivals_per_hour: 24 numbers, one per hour")
        try:
            hourly = tuple(float(v) for v in arrivals)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}.sessions.arrivals_per_hour: numbers expected") from None
        if any(not math.isfinite(v) or v < 0 for v in hourly) or not any(hourly):
            raise ConfigError(f"{where}.sessions.arrivals_per_hour: not negative, not all 0")
        families = {}
        for section, name in QUANTITIES:
            value = _section(data, section, where).get(name)
            families[name] = Family.from_json(value, f"{where}.{section}.{name}")
        scalars = {}
        for section, name in _SCALARS:
            value = _section(data, section, where).get(name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{where}.{section}.{name}: a number, 0 or more")
            if name in _SHARES and value > 1:
                raise ConfigError(f"{where}.{section}.{name}: a share, within 0..1")
            scalars[name] = float(value)
        if scalars["next_same"] + scalars["next_other"] > 1:
            raise ConfigError(f"{where}.conversations: next_same + next_other must be <= 1")
        return cls(hourly, families, scalars)


def _section(data: dict[str, Any], section: str, where: str) -> dict[str, Any]:
    value = data.get(section)
    if not isinstance(value, dict):
        raise ConfigError(f"{where}.{section}: missing (an object)")
    return value


@dataclass(frozen=True)
class TrafficModel:
    roles: Mapping[Role, RoleModel]
    burst_gap_s: float = 12 * 3600.0
    sources: Mapping[str, str] = field(default_factory=dict)  # quantity: where from
    name: str = ""

    def role(self, role: Role) -> RoleModel:
        return self.roles[role]

    def time_scaled(self, factor: float) -> TrafficModel:
        """Played ``factor`` times faster: every time divided, every rate multiplied."""
        if factor == 1:
            return self
        roles = {}
        for role, model in self.roles.items():
            families = {
                name: family.scaled(1 / factor) if name in TIMES else family
                for name, family in model.families.items()
            }
            scalars = dict(model.scalars)
            scalars["burst_starts_per_hour"] *= factor
            hourly = tuple(v * factor for v in model.arrivals_per_hour)
            roles[role] = RoleModel(hourly, families, scalars)
        return replace(self, roles=roles, burst_gap_s=self.burst_gap_s / factor)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "name": self.name,
            "burst_gap_s": self.burst_gap_s,
            "roles": {role: self.roles[role].to_json() for role in ROLES},
            "sources": dict(self.sources),
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_json(cls, data: Any, where: str) -> TrafficModel:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: not a traffic model (a JSON object)")
        if data.get("format") != FORMAT:
            raise ConfigError(
                f"{where}: format {data.get('format')!r}, expected {FORMAT!r} "
                "(chatload traffic fit writes it)"
            )
        roles_data = data.get("roles")
        if not isinstance(roles_data, dict) or set(roles_data) != set(ROLES):
            raise ConfigError(f"{where}: 'roles' needs exactly owner and requester")
        roles = {role: RoleModel.from_json(roles_data[role], f"{where}: {role}") for role in ROLES}
        gap = data.get("burst_gap_s", 12 * 3600.0)
        if not isinstance(gap, int | float) or gap <= 0:
            raise ConfigError(f"{where}: burst_gap_s must be a positive number of seconds")
        sources = data.get("sources", {})
        if not isinstance(sources, dict):
            raise ConfigError(f"{where}: 'sources' must be an object")
        return cls(
            roles,
            float(gap),
            {str(k): str(v) for k, v in sources.items()},
            str(data.get("name", "")),
        )
