"""A traffic model's quantities as an export shows them. Pure: tables in, samples out.

One code path for a production export (``chatload traffic fit``) and for the
traffic a run generated (its proof): the same definitions on the same columns.

- **Bursts.** A chat's messages in time order; a silence longer than the burst gap
  starts a new burst. Its first message's sender role starts it.
- **Turns.** After a message by X that is not its burst's last, the next one is by X
  (``same``) or by the other side (``other``); the last one of a burst ``ends`` it.
- **Gaps.** The next message's wait after a message, within a burst: by the other
  side, a reply gap of the replier's role; by the same sender, that role's
  same-sender gap. Counted from the message, online or not (people come back to
  answer).
- **Reads.** From when the reader could see the message it read up to, to the read;
  known from below where a session ended first (``traffic.reading``).
- **Sessions.** Their durations; the *arrivals* (per hour of the day per 1,000 people
  of the role) are the sessions people began on their own: a session whose first
  message, within ``ANSWER_GRACE_S`` of its start, answers a message that came
  before it began is an *answering* session, counted apart. Bursts started per hour
  online.
- **Content and activity.** Characters, photos; the bursts each person started
  (their weight drives them: ``traffic.fitting.fit_weights``), and the share of
  messages the top 10 % of people wrote.

A value is *observed* only when the export covered its whole range: a gap that
starts within ``horizon`` of the export's end is left out, so a comparison can cut
every quantity at ``horizon`` (``traffic.compare``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np

from chatload.traffic.reading import read_delays, unread_at_session_end
from chatload.users_file import ROLES, Role

__all__ = ["ANSWER_GRACE_S", "Export", "Observed", "hours_of_day", "observe"]

ANSWER_GRACE_S: Final = 120.0


@dataclass
class Export:
    """Traffic as tables: numpy columns, times in seconds (of the model's clock)."""

    chat: np.ndarray  # messages, in any order: chat key (int)
    message_id: np.ndarray
    sender: np.ndarray  # user id
    created: np.ndarray  # seconds
    text_length: np.ndarray | None  # characters, or None when the export has none
    photos: np.ndarray | None  # photos per message
    owner_of_chat: dict[int, int]  # chat key: its owner's user id
    roles: dict[int, Role]  # user id: role (owners own a chat; the rest ask)
    reads: np.ndarray | None = None  # rows (chat, user, last_read_message_id, read_at)
    # rows (user, connected_at, disconnected_at[, answering, carried_over, cut_short:
    # 0/1 each, a run's own]). Carried over: begun before a search's level (its start
    # is no arrival, its length not the model's); cut short: ended by a level going
    # down (its length known from below). Both say when the person was online.
    sessions: np.ndarray | None = None
    start: float = 0.0  # the span the export covers
    end: float = 0.0
    people: dict[Role, int] = field(default_factory=dict)  # population by role
    # A run's page-backs: rows (user, session start, pages loaded, cut short: 0/1, 1
    # when the history ended, a page failed or the connection went first)
    page_backs: np.ndarray | None = None
    recipient: np.ndarray | None = None  # each message's to_user_id, when known
    # A run's arrivals as its arrival process offered them (dropped ones too), by role;
    # an export's arrivals are its own sessions' starts.
    arrivals: dict[Role, np.ndarray] | None = None
    # A simulation's own: each burst a person began, rows (at, role: 0 owner / 1
    # requester, sent: 1 when one of their chats was quiet, so a message went).
    burst_tries: np.ndarray | None = None


@dataclass
class Observed:
    """Samples per role and quantity, and the counts the scalars come from."""

    samples: dict[Role, dict[str, np.ndarray]]
    turns: dict[Role, dict[str, int]]  # role: {"same", "other", "end"}
    bursts_started: dict[Role, int]
    hours_online: dict[Role, float]
    arrivals_per_hour: dict[Role, np.ndarray | None]  # 24 values per 1,000 people
    photo_share: dict[Role, float | None]
    page_back_share: dict[Role, float | None]
    arrival_times: dict[Role, np.ndarray]  # own session starts (the arrival process)
    span: tuple[float, float]
    answering: dict[Role, int] = field(default_factory=dict)  # sessions begun to answer
    top_tenth_share: dict[Role, float] = field(default_factory=dict)  # of messages
    # The samples behind each share: {"photo_share": messages, "page_back_share": sessions}
    share_n: dict[Role, dict[str, int]] = field(default_factory=dict)
    # Each person of the role, in the order of samples[role]["weight"]: hours online
    # (None: no sessions in the export).
    hours_of_people: dict[Role, np.ndarray | None] = field(default_factory=dict)


class _Owners:
    """Whether each user id is an owner, for whole columns at once."""

    def __init__(self, roles: dict[int, Role]) -> None:
        self.ids = np.array(sorted(roles), dtype=np.int64)
        self.flags = np.array([roles[int(u)] == "owner" for u in self.ids], dtype=bool)

    def of(self, users: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        index = np.clip(np.searchsorted(self.ids, users), 0, max(len(self.ids) - 1, 0))
        known = (self.ids[index] == users) if len(self.ids) else np.zeros(len(users), bool)
        if not known.all():
            missing = sorted(set(users[~known].tolist()))[:3]
            raise ValueError(f"users with no role (in no chat): {missing}")
        return np.asarray(self.flags[index])

    def mask(self, users: np.ndarray, role: Role) -> np.ndarray:
        owners = self.of(users)
        return owners if role == "owner" else ~owners


def observe(export: Export, burst_gap_s: float, horizon: float = 0.0) -> Observed:
    """Every quantity's samples; a value whose range starts later than
    ``export.end - horizon`` is left out (the export did not cover all of it)."""
    owners = _Owners(export.roles)
    last_trigger = export.end - horizon
    order = np.lexsort((export.message_id, export.chat))
    chat, sender, created = export.chat[order], export.sender[order], export.created[order]
    samples: dict[Role, dict[str, np.ndarray]] = {r: {} for r in ROLES}
    turns, bursts = _conversations(
        chat,
        sender,
        created,
        people_of=export.people,
        burst_gap_s=burst_gap_s,
        last_trigger=last_trigger,
        end=export.end,
        owners=owners,
        samples=samples,
    )
    _content(export, owners, samples)
    _reads(export, owners, samples, last_trigger)
    answering = _answering(export, chat, sender, created)
    hours, arrivals, times = _sessions(export, owners, samples, last_trigger, answering)
    if export.arrivals is not None:
        times = {role: np.asarray(export.arrivals.get(role, ()), dtype=float) for role in ROLES}
    counts = dict.fromkeys(ROLES, 0)
    if export.sessions is not None and len(answering):
        flagged = export.sessions[answering, 0]
        counts = {role: int(owners.mask(flagged, role).sum()) for role in ROLES}
    return Observed(
        samples,
        turns,
        bursts,
        hours,
        arrivals,
        _photo_share(export, owners),
        _page_back_share(export, owners, samples),
        times,
        (export.start, export.end),
        counts,
        _top_tenth(export, owners),
        hours_of_people=_hours_of_people(export, owners, samples),
        share_n=_share_n(export, owners),
    )


def _conversations(
    chat: np.ndarray,
    sender: np.ndarray,
    created: np.ndarray,
    *,
    people_of: dict[Role, int],
    burst_gap_s: float,
    last_trigger: float,
    end: float,
    owners: _Owners,
    samples: dict[Role, dict[str, np.ndarray]],
) -> tuple[dict[Role, dict[str, int]], dict[Role, int]]:
    n = len(chat)
    turns = {r: {"same": 0, "other": 0, "end": 0} for r in ROLES}
    bursts = dict.fromkeys(ROLES, 0)
    if not n:
        return turns, bursts
    is_owner = owners.of(sender)
    gap = np.diff(created)
    continues = (chat[1:] == chat[:-1]) & (gap <= burst_gap_s)  # message i+1 continues i
    starts = np.concatenate([[True], ~continues])  # each message: does it start a burst?
    observable = created[:-1] <= last_trigger
    same = continues & (sender[1:] == sender[:-1])
    other = continues & ~same
    # A turn's outcome is known once a burst gap has passed (or the next message came).
    settled = created[:-1] <= min(last_trigger, end - burst_gap_s)
    for role in ROLES:
        writer = is_owner[:-1] if role == "owner" else ~is_owner[:-1]
        replier = is_owner[1:] if role == "owner" else ~is_owner[1:]
        samples[role]["same_sender_gap_s"] = gap[same & writer & observable]
        samples[role]["reply_gap_s"] = gap[other & replier & observable]
        turns[role]["same"] = int(np.sum(same & writer & settled))
        turns[role]["other"] = int(np.sum(other & writer & settled))
        first_of = is_owner[starts] if role == "owner" else ~is_owner[starts]
        bursts[role] = int(first_of.sum())
    # A burst is closed by a later one in its chat, or by a silence up to the end.
    first_index = np.flatnonzero(starts)
    last_index = np.concatenate([first_index[1:] - 1, [n - 1]])
    sizes = (last_index - first_index + 1).astype(float)
    followed = np.concatenate([chat[first_index[1:]] == chat[last_index[:-1]], [False]])
    closed = followed | (created[last_index] + burst_gap_s <= end)
    last_settled = created[last_index] <= min(last_trigger, end - burst_gap_s)
    closed &= created[first_index] <= last_trigger
    for role in ROLES:
        started_by = owners.mask(sender[first_index], role)
        samples[role]["burst_size"] = sizes[started_by & closed]
        starters, per_person = np.unique(sender[first_index][started_by], return_counts=True)
        people = max(people_of.get(role, len(per_person)), len(per_person), 1)
        if len(per_person):  # bursts each person of the role started, zeros too
            samples[role]["weight"] = np.concatenate(
                [per_person, np.zeros(people - len(per_person))]
            ).astype(float)
            samples[role]["weight_people"] = starters.astype(float)
        ended = owners.mask(sender[last_index], role) & closed & last_settled
        turns[role]["end"] = int(np.sum(ended))
    return turns, bursts


def _content(export: Export, owners: _Owners, samples: dict[Role, dict[str, np.ndarray]]) -> None:
    senders = export.sender.astype(np.int64)
    roles_of_senders = owners.of(senders)
    for role in ROLES:
        mine = roles_of_senders if role == "owner" else ~roles_of_senders
        if export.text_length is not None:
            lengths = export.text_length[mine]
            samples[role]["text_length"] = lengths[lengths > 0].astype(float)
        if export.photos is not None:
            photos = export.photos[mine]
            samples[role]["photos"] = photos[photos > 0].astype(float)


def _hours_of_people(
    export: Export, owners: _Owners, samples: dict[Role, dict[str, np.ndarray]]
) -> dict[Role, np.ndarray | None]:
    """Hours online of each person, in the order of the weight samples: the starters
    first, then everyone else of the role seen online."""
    hours: dict[Role, np.ndarray | None] = dict.fromkeys(ROLES, None)
    for role in ROLES:
        starters = samples[role].pop("weight_people", np.array([]))
        counts = samples[role].get("weight")
        if export.sessions is None or not len(export.sessions) or counts is None:
            continue
        rows = export.sessions[owners.mask(export.sessions[:, 0], role)]
        users, inverse = np.unique(rows[:, 0].astype(np.int64), return_inverse=True)
        online = np.bincount(inverse, weights=rows[:, 2] - rows[:, 1]) / 3600
        by_user = dict(zip(users.tolist(), online.tolist(), strict=True))
        first = [by_user.pop(int(u), 0.0) for u in starters]
        rest = list(by_user.values())
        rest += [0.0] * max(0, len(counts) - len(first) - len(rest))
        hours[role] = np.array((first + rest)[: len(counts)])
    return hours


def _top_tenth(export: Export, owners: _Owners) -> dict[Role, float]:
    """The share of a role's messages that its top 10 % of people wrote."""
    shares: dict[Role, float] = {}
    for role in ROLES:
        mine = owners.mask(export.sender, role)
        _, counts = np.unique(export.sender[mine], return_counts=True)
        people = max(export.people.get(role, len(counts)), len(counts), 1)
        if counts.sum():
            top = np.sort(counts)[::-1][: max(1, round(people / 10))]
            shares[role] = float(top.sum() / counts.sum())
    return shares


def _photo_share(export: Export, owners: _Owners) -> dict[Role, float | None]:
    shares: dict[Role, float | None] = dict.fromkeys(ROLES, None)
    if export.photos is None:
        return shares
    for role in ROLES:
        mine = owners.mask(export.sender, role)
        shares[role] = float(np.mean(export.photos[mine] > 0)) if mine.any() else None
    return shares


def _reads(
    export: Export,
    owners: _Owners,
    samples: dict[Role, dict[str, np.ndarray]],
    last_trigger: float,
) -> None:
    if export.reads is not None and len(export.reads):
        users, delays = read_delays(export, last_trigger)
        unread_users, at_least = unread_at_session_end(export, last_trigger)
        for role in ROLES:
            samples[role]["read_delay_s"] = delays[owners.mask(users, role)]
            samples[role]["read_delay_s_at_least"] = at_least[owners.mask(unread_users, role)]


def _answering(
    export: Export, chat: np.ndarray, sender: np.ndarray, created: np.ndarray
) -> np.ndarray:
    """Per session (row of ``export.sessions``): whether it began to answer (as the
    export says, when it does: a run's own traffic)."""
    sessions = export.sessions
    if sessions is not None and sessions.shape[1] >= 4:
        return np.asarray(sessions[:, 3] > 0)
    if sessions is None or not len(sessions) or not len(chat):
        return np.zeros(0 if sessions is None else len(sessions), dtype=bool)
    previous = np.concatenate([[np.inf], created[:-1]])
    previous[np.concatenate([[True], chat[1:] != chat[:-1]])] = np.inf  # a chat's first
    by_sender = np.lexsort((created, sender))
    senders, times, before = sender[by_sender], created[by_sender], previous[by_sender]
    base = float(min(times.min(), sessions[:, 1].min()))
    span = float(max(times.max(), sessions[:, 2].max()) - base + 1)
    keys = senders.astype(np.int64) * span + (times - base)
    users = sessions[:, 0].astype(np.int64)
    index = np.searchsorted(keys, users * span + (sessions[:, 1] - base), side="left")
    inside = index < len(keys)
    index = np.minimum(index, len(keys) - 1)
    same_user = senders[index] == users
    soon = times[index] <= sessions[:, 1] + ANSWER_GRACE_S
    return np.asarray(inside & same_user & soon & (before[index] < sessions[:, 1]))


def _sessions(
    export: Export,
    owners: _Owners,
    samples: dict[Role, dict[str, np.ndarray]],
    last_trigger: float,
    answering: np.ndarray,
) -> tuple[dict[Role, float], dict[Role, np.ndarray | None], dict[Role, np.ndarray]]:
    hours = dict.fromkeys(ROLES, 0.0)
    arrivals: dict[Role, np.ndarray | None] = dict.fromkeys(ROLES, None)
    times: dict[Role, np.ndarray] = {r: np.array([]) for r in ROLES}
    if export.sessions is None or not len(export.sessions):
        return hours, arrivals, times
    exposure = hours_of_day(export.start, export.end)
    for role in ROLES:
        mine = owners.mask(export.sessions[:, 0], role)
        rows = export.sessions[mine]
        if not len(rows):
            continue
        starts, ends = rows[:, 1], rows[:, 2]
        carried, cut = _flag(rows, 4), _flag(rows, 5)
        own = ~answering[mine] if len(answering) else np.ones(len(rows), dtype=bool)
        own &= ~carried
        hours[role] = float(np.sum(ends - starts)) / 3600
        # A session still open at the export's end (or too near it) shows no duration.
        done = (starts <= last_trigger) & (ends < export.end) & ~carried
        samples[role]["duration_s"] = ends[done & ~cut] - starts[done & ~cut]
        if cut.any():
            samples[role]["duration_s_at_least"] = ends[done & cut] - starts[done & cut]
        times[role] = np.sort(starts[own])
        per_hour = np.bincount(((starts[own] % 86400) // 3600).astype(int), minlength=24)[:24]
        people = max(export.people.get(role, 0), 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(exposure > 0, per_hour / exposure / people * 1000, np.nan)
        arrivals[role] = rate
    return hours, arrivals, times


def _flag(sessions: np.ndarray, column: int) -> np.ndarray:
    """A 0/1 column of a run's sessions (all False where the export has none)."""
    if sessions.shape[1] > column:
        return np.asarray(sessions[:, column] > 0)
    return np.zeros(len(sessions), dtype=bool)


def _begun_here(export: Export) -> np.ndarray:
    """The sessions that began in the export's span (not carried over into it)."""
    sessions = export.sessions
    assert sessions is not None
    begun: np.ndarray = sessions[~_flag(sessions, 4)]
    return begun


def hours_of_day(start: float, end: float) -> np.ndarray:
    """How many hours of each hour of the day (0..23 of the model's clock) the span
    covers."""
    covered = np.zeros(24)
    at = start
    while at < end:
        step = min((at // 3600 + 1) * 3600, end) - at
        covered[int(at % 86400 // 3600)] += step / 3600
        at += step
    return covered


def _page_backs_of_sessions(export: Export) -> np.ndarray:
    """The page-backs of the export's sessions (a session still open at the end of a
    run is in neither)."""
    assert export.page_backs is not None and export.sessions is not None
    pages = export.page_backs.reshape(-1, 4)
    known = {(int(user), float(start)) for user, start in export.sessions[:, :2]}
    kept = [(int(user), float(start)) in known for user, start in pages[:, :2]]
    return pages[np.array(kept, dtype=bool)] if len(pages) else pages


def _page_back_share(
    export: Export, owners: _Owners, samples: dict[Role, dict[str, np.ndarray]]
) -> dict[Role, float | None]:
    """Sessions that paged back, and their pages: whole where the chat's history held
    them, else known from below (``pages_at_least``: cut short)."""
    shares: dict[Role, float | None] = dict.fromkeys(ROLES, None)
    if export.page_backs is None or export.sessions is None or not len(export.sessions):
        return shares
    pages = _page_backs_of_sessions(export)
    begun = _begun_here(export)
    for role in ROLES:
        sessions = int(owners.mask(begun[:, 0], role).sum())
        mine = pages[owners.mask(pages[:, 0], role)]
        samples[role]["pages"] = mine[mine[:, 3] == 0, 2].astype(float)
        samples[role]["pages_at_least"] = mine[mine[:, 3] == 1, 2].astype(float) + 1
        shares[role] = len(mine) / sessions if sessions else None
    return shares


def _share_n(export: Export, owners: _Owners) -> dict[Role, dict[str, int]]:
    counts: dict[Role, dict[str, int]] = {role: {} for role in ROLES}
    for role in ROLES:
        if export.photos is not None:
            counts[role]["photo_share"] = int(owners.mask(export.sender, role).sum())
        if export.page_backs is not None and export.sessions is not None:
            begun = _begun_here(export)
            counts[role]["page_back_share"] = int(owners.mask(begun[:, 0], role).sum())
    return counts
