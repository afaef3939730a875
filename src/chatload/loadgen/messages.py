"""Every message between a Locust master and its workers: its name and its wire form.

Locust carries a message as a name and msgpack data. Each :class:`Kind` here says
both, with the typed value a sender gives and a receiver gets; :func:`send` and
:func:`on` are the only ways chatload's processes talk. Who sends what:

- a worker's intervals, breaches and chat summaries go to the master's records;
- a master asks its workers to wind down at the end of a run;
- read notices go up to the master and are relayed to every worker (a chat's
  two sides may be in different workers);
- a worker reports a fatal problem, and what it can hold (its open files, ports);
- clock exchanges: a worker pings, the master answers with its wall clock, and
  shares every worker's offset;
- identities: a worker asks for one of a role, the master grants one (or says
  why not), and the worker gives it back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from chatload.limits import Capacity
from chatload.records.hdr import IntervalSnapshot
from chatload.tracking.clocks import Offset
from chatload.tracking.invariants import Breach, ChatSummary
from chatload.traffic.conversation import TurnDue
from chatload.users_file import Identity, Role, parse_role

__all__ = [
    "ALL",
    "ARRIVAL",
    "BREACHES",
    "CAPACITY",
    "CARRIED",
    "CLOCK_OFFSET",
    "CLOCK_OFFSETS",
    "CLOCK_PING",
    "CLOCK_PONG",
    "FATAL",
    "IDENTITY_GRANT",
    "IDENTITY_REQUEST",
    "IDENTITY_RETURN",
    "INTERVALS",
    "LEVEL",
    "READS",
    "SUMMARIES",
    "TURN_DUE",
    "WIND_DOWN",
    "Grant",
    "Kind",
    "on",
    "send",
]

T = TypeVar("T")


@dataclass(frozen=True)  # no slots: Kind[X](...) sets __orig_class__ (ignored if frozen)
class Kind(Generic[T]):
    name: str
    to_wire: Callable[[T], Any]
    from_wire: Callable[[Any], T]


@dataclass(frozen=True, slots=True)
class Grant:
    """The master's answer to a worker's identity request."""

    role: Role
    identity: Identity | None = None
    error: str | None = None


def _grant_to_wire(grant: Grant) -> dict[str, Any]:
    if grant.identity is None:
        return {"role": grant.role, "error": grant.error or "no identity"}
    return {"role": grant.role, "identity": [grant.identity.user_id, grant.identity.token]}


def _grant_from_wire(data: dict[str, Any]) -> Grant:
    role = parse_role(str(data["role"]))
    if data.get("error"):
        return Grant(role, error=str(data["error"]))
    user_id, token = data["identity"]
    return Grant(role, Identity(int(user_id), str(token), role))


def _offsets_from_wire(items: list[list[Any]]) -> dict[str, Offset]:
    return {str(origin): Offset(float(value), float(u)) for origin, value, u in items}


def _nothing(_: Any) -> None:
    return None


INTERVALS: Final = Kind[IntervalSnapshot](
    "chatload_interval", IntervalSnapshot.to_wire, IntervalSnapshot.from_wire
)
BREACHES: Final = Kind[list[Breach]](
    "chatload_breaches",
    lambda breaches: [b.to_wire() for b in breaches],
    lambda items: [Breach.from_wire(item) for item in items],
)
SUMMARIES: Final = Kind[list[ChatSummary]](
    "chatload_summaries",
    lambda summaries: [s.to_wire() for s in summaries],
    lambda items: [ChatSummary.from_wire(item) for item in items],
)
WIND_DOWN: Final = Kind[None]("chatload_wind_down", _nothing, _nothing)
# Read notices in their wire form (``ReadNotice.to_wire``), relayed by the master as
# they came: each is decoded where it is used, and a malformed one is skipped with a
# warning, not the whole batch.
READS: Final = Kind[list[list[Any]]]("chatload_reads", list, list)
FATAL: Final = Kind[str]("chatload_fatal", lambda text: {"message": text}, lambda d: d["message"])
CAPACITY: Final = Kind[Capacity]("chatload_capacity", Capacity.to_wire, Capacity.from_wire)
CLOCK_PING: Final = Kind[tuple[int, float]](
    "chatload_clock_ping", list, lambda item: (int(item[0]), float(item[1]))
)
CLOCK_PONG: Final = Kind[tuple[int, float]](
    "chatload_clock_pong", list, lambda item: (int(item[0]), float(item[1]))
)
CLOCK_OFFSET: Final = Kind[tuple[str, Offset]](
    "chatload_clock_offset",
    lambda pair: [pair[0], pair[1].offset, pair[1].uncertainty],
    lambda item: (str(item[0]), Offset(float(item[1]), float(item[2]))),
)
CLOCK_OFFSETS: Final = Kind[dict[str, Offset]](
    "chatload_clock_offsets",
    lambda known: [[o, v.offset, v.uncertainty] for o, v in known.items()],
    _offsets_from_wire,
)
IDENTITY_REQUEST: Final = Kind[tuple[Role, int | None]](
    "chatload_identity_request",
    lambda request: {"role": request[0], "user_id": request[1]},
    lambda d: (parse_role(d["role"]), None if d.get("user_id") is None else int(d["user_id"])),
)
# A model run: an arrival of the run's arrival process, to a worker; and a turn due
# for a person online in another process (worker -> master -> every worker).
ARRIVAL: Final = Kind[Role]("chatload_arrival", str, parse_role)
# A capacity search in production units, at each level, to every worker: the share of
# the turns owed each generator process keeps (below 1 when it falls: the people left
# out go), the people each identity stands for, the share of chats busy in the
# steady state, and the owners' and requesters' bursts that send (-1: not known;
# ``TrafficEngine.at_level``).
LEVEL: Final = Kind[tuple[float, float, float, float, float]](
    "chatload_level",
    list,
    lambda w: (float(w[0]), float(w[1]), float(w[2]), float(w[3]), float(w[4])),
)
# A capacity search in production units: a turn or a session ("turn", "session") the
# run's past owes, to a worker.
CARRIED: Final = Kind[tuple[Role, str]](
    "chatload_carried", lambda c: [c[0], c[1]], lambda w: (parse_role(str(w[0])), str(w[1]))
)
TURN_DUE: Final = Kind[TurnDue]("chatload_turn_due", TurnDue.to_wire, TurnDue.from_wire)
IDENTITY_GRANT: Final = Kind[Grant]("chatload_identity_grant", _grant_to_wire, _grant_from_wire)
IDENTITY_RETURN: Final = Kind[int](
    "chatload_identity_return", lambda user_id: {"user_id": user_id}, lambda d: int(d["user_id"])
)
ALL: Final[tuple[Kind[Any], ...]] = (
    INTERVALS,
    BREACHES,
    SUMMARIES,
    WIND_DOWN,
    READS,
    FATAL,
    CAPACITY,
    CLOCK_PING,
    CLOCK_PONG,
    CLOCK_OFFSET,
    CLOCK_OFFSETS,
    IDENTITY_REQUEST,
    IDENTITY_GRANT,
    IDENTITY_RETURN,
    ARRIVAL,
    CARRIED,
    LEVEL,
    TURN_DUE,
)


# Any, not Locust's runners: their send_message is hinted to take a dict, and
# some of these messages are lists (msgpack carries both).
def send(runner: Any, kind: Kind[T], value: T, client_id: str | None = None) -> None:
    """Send ``value`` as a ``kind`` message (to one worker with ``client_id``)."""
    if client_id is None:
        runner.send_message(kind.name, kind.to_wire(value))
    else:
        runner.send_message(kind.name, kind.to_wire(value), client_id=client_id)


def on(runner: Any, kind: Kind[T], handler: Callable[[T, str], None]) -> None:
    """Call ``handler(value, sender's node id)`` for each ``kind`` message."""

    def receive(environment: Any, msg: Any) -> None:
        handler(kind.from_wire(msg.data), str(msg.node_id))

    runner.register_message(kind.name, receive)
