"""Reading as an export shows it (the model's ``read_delay_s``). Pure: tables in,
samples out.

- **A read's delay** runs from when the reader could see the message it read up to
  (its arrival, or the start of the reader's session the read fell in, when that
  began later) to the read. A read up to the reader's own message (they answered
  first) times no reading.
- **A session that ends with the other side's message unread** shows a delay known
  only from below: longer than from when the reader saw that message to the
  session's end (``at_least``). People read only while connected, so leaving these
  out would keep just the reads quicker than their sessions: short sessions would
  make everyone look like a fast reader. Fits and comparisons weigh them as
  right-censored values (``traffic.survival``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from chatload.traffic.observe import Export

__all__ = ["read_delays", "seen_at", "unread_at_session_end"]


def seen_at(
    sessions: np.ndarray | None, users: np.ndarray, at: np.ndarray, by: np.ndarray
) -> np.ndarray:
    """When each user could first see what happened ``at``, acting ``by``: ``at``, or
    the start of the user's session that ``by`` falls in, when that began later."""
    seen = np.asarray(at, dtype=float).copy()
    if sessions is None or not len(sessions) or not len(users):
        return seen
    rows = sessions[np.lexsort((sessions[:, 1], sessions[:, 0]))]
    key_users = rows[:, 0].astype(np.int64)
    # Sessions ordered by (user, start): find the last one of the user starting <= by.
    span = float(max(rows[:, 2].max(), np.max(by)) - min(rows[:, 1].min(), np.min(by)) + 1)
    base = float(min(rows[:, 1].min(), np.min(by)))
    keys = key_users * span + (rows[:, 1] - base)
    probe = np.asarray(users, dtype=np.int64) * span + (np.asarray(by) - base)
    index = np.searchsorted(keys, probe, side="right") - 1
    valid = (index >= 0) & (key_users[np.maximum(index, 0)] == users)
    valid &= rows[np.maximum(index, 0), 2] >= by
    starts = rows[np.maximum(index, 0), 1]
    return np.where(valid, np.maximum(seen, starts), seen)


def read_delays(export: Export, last_trigger: float) -> tuple[np.ndarray, np.ndarray]:
    """(reader, delay) of each read that read something new, seen by ``last_trigger``."""
    none = np.zeros(0, dtype=np.int64), np.zeros(0)
    reads = export.reads
    if reads is None or not len(reads) or not len(export.chat):
        return none
    chats, users, read_at = reads[:, 0].astype(np.int64), reads[:, 1].astype(np.int64), reads[:, 3]
    before = _read_before(reads, chats, users, read_at, strictly=True)
    covered = np.maximum(before, _own_before(export, chats, users, read_at))
    first = _first_after(export, chats, covered)
    new = (first >= 0) & (export.message_id[np.maximum(first, 0)] <= reads[:, 2])
    first = np.maximum(first, 0)
    new &= export.created[first] <= read_at
    seen = seen_at(export.sessions, users, export.created[first], read_at)
    keep = new & (seen <= last_trigger)
    return users[keep], read_at[keep] - seen[keep]


def unread_at_session_end(export: Export, last_trigger: float) -> tuple[np.ndarray, np.ndarray]:
    """(reader, at least) for each session that ended while the other side's message
    waited unread (since the reader last read or wrote in the chat), seen by
    ``last_trigger``.

    Walked by *unread spells* rather than sessions: a spell begins with a message to
    a reader who had read or written everything before it, and ends when they read
    it or write; each of the reader's sessions ending inside a spell cut a read."""
    none = np.zeros(0, dtype=np.int64), np.zeros(0)
    sessions = export.sessions
    if sessions is None or not len(sessions) or not len(export.chat):
        return none
    reader = _readers(export)
    rows = np.nonzero((reader >= 0) & (reader != export.sender))[0]
    chats, users, begun = export.chat[rows], reader[rows], export.created[rows]
    covered = _own_before(export, chats, users, begun)
    if export.reads is not None and len(export.reads):
        covered = np.maximum(covered, _read_before(export.reads, chats, users, begun))
    opens = covered >= _previous_id(export)[rows]
    rows, chats, users, begun = rows[opens], chats[opens], users[opens], begun[opens]
    ended = _spell_end(export, chats, users, begun, export.message_id[rows].astype(float))
    spell, session = _sessions_ending_within(sessions, users, begun, ended)
    seen = np.maximum(begun[spell], sessions[session, 1])
    ends = sessions[session, 2]
    keep = (seen < ends) & (seen <= last_trigger)
    return users[spell][keep], ends[keep] - seen[keep]


def _readers(export: Export) -> np.ndarray:
    """Each message's reader: the other side of its chat (-1: not known)."""
    if export.recipient is not None:
        return np.asarray(export.recipient, dtype=np.int64)
    chats = np.array(sorted(export.owner_of_chat), dtype=np.int64)
    owners = np.array([export.owner_of_chat[int(c)] for c in chats], dtype=np.int64)
    index = np.clip(np.searchsorted(chats, export.chat), 0, max(len(chats) - 1, 0))
    owner = np.where(chats[index] == export.chat, owners[index], -1) if len(chats) else -1
    asking = export.sender != owner
    # The chat's other member: whoever wrote in it who is not its owner.
    asked_chats, first = np.unique(export.chat[asking], return_index=True)
    requester = export.sender[asking][first]
    found = np.clip(np.searchsorted(asked_chats, export.chat), 0, max(len(asked_chats) - 1, 0))
    known = asked_chats[found] == export.chat if len(asked_chats) else np.zeros(0, bool)
    other = np.where(known, requester[found], -1) if len(asked_chats) else -1
    return np.asarray(np.where(asking, owner, other), dtype=np.int64)


def _previous_id(export: Export) -> np.ndarray:
    """Each message's chat's message before it (by id; -inf: the chat's first)."""
    order = np.lexsort((export.message_id, export.chat))
    chat, ids = export.chat[order], export.message_id[order].astype(float)
    previous = np.concatenate([[-np.inf], ids[:-1]])
    previous[np.concatenate([[True], chat[1:] != chat[:-1]])] = -np.inf
    result = np.empty(len(order))
    result[order] = previous
    return result


def _spell_end(
    export: Export, chats: np.ndarray, users: np.ndarray, begun: np.ndarray, ids: np.ndarray
) -> np.ndarray:
    """When the reader first wrote in the chat after ``begun``, or read up to ``ids``
    (inf: never)."""
    codes = _codes(np.concatenate([export.chat, chats]), np.concatenate([export.sender, users]))
    own = _next_after(codes[: len(export.chat)], export.created, codes[len(export.chat) :], begun)
    end = np.where(own >= 0, export.created[np.maximum(own, 0)], np.inf)
    reads = export.reads
    if reads is None or not len(reads):
        return end
    codes = _codes(np.concatenate([reads[:, 0], chats]), np.concatenate([reads[:, 1], users]))
    groups, probes = codes[: len(reads)], codes[len(reads) :]
    order = np.lexsort((reads[:, 3], groups))
    group, at = groups[order], reads[order, 3]
    highest = _running_highest(group, reads[order, 2])
    # The first read whose running highest reaches the id: before it none had.
    row = _next_after(group, highest, probes, np.nextafter(ids, -np.inf))
    return np.minimum(end, np.where(row >= 0, at[np.maximum(row, 0)], np.inf))


def _sessions_ending_within(
    sessions: np.ndarray, users: np.ndarray, after: np.ndarray, before: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (probe, session row) of each probe's user's sessions ending strictly
    between ``after`` and ``before``."""
    codes = _codes(np.concatenate([sessions[:, 0], users]))
    mine, theirs = codes[: len(sessions)], codes[len(sessions) :]
    keys, low, high = _keys(mine, sessions[:, 2], [(theirs, after), (theirs, before)])
    order = np.argsort(keys, kind="stable")
    first = np.searchsorted(keys[order], low, side="right")
    count = np.maximum(np.searchsorted(keys[order], high, side="left") - first, 0)
    probe = np.repeat(np.arange(len(users)), count)
    offsets = np.arange(len(probe)) - np.repeat(np.cumsum(count) - count, count)
    return probe, order[np.repeat(first, count) + offsets]


def _codes(*columns: np.ndarray) -> np.ndarray:
    """One integer per distinct row of the integer ``columns`` (as many rows each)."""
    combined = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        _, codes = np.unique(np.asarray(column, dtype=np.int64), return_inverse=True)
        combined = combined * (int(codes.max(initial=0)) + 1) + codes.reshape(-1)
    return np.unique(combined, return_inverse=True)[1].reshape(-1).astype(np.int64)


def _keys(
    groups: np.ndarray, values: np.ndarray, probes: list[tuple[np.ndarray, np.ndarray]]
) -> list[np.ndarray]:
    """Integer keys ordered as (group, value): the table's, then each probe set's."""
    every = np.concatenate([values, *(v for _, v in probes)])
    _, ranks = np.unique(every, return_inverse=True)
    ranks = ranks.reshape(-1).astype(np.int64)
    scale = int(ranks.max(initial=0)) + 1
    keys, at = [groups.astype(np.int64) * scale + ranks[: len(values)]], len(values)
    for probe_groups, probe_values in probes:
        keys.append(probe_groups.astype(np.int64) * scale + ranks[at : at + len(probe_values)])
        at += len(probe_values)
    return keys


def _lookup(
    groups: np.ndarray,
    values: np.ndarray,
    probe_groups: np.ndarray,
    probe_values: np.ndarray,
    *,
    after: bool = False,
) -> np.ndarray:
    """Per probe: the row of its group's last value at most the probe's (``after``:
    its first value above it), or -1."""
    if not len(groups):
        return np.full(len(probe_groups), -1)
    keys, probes = _keys(groups, values, [(probe_groups, probe_values)])
    order = np.argsort(keys, kind="stable")
    index = np.searchsorted(keys[order], probes, side="right") - (0 if after else 1)
    inside = (index < len(order)) & (index >= 0)
    row = order[np.clip(index, 0, len(order) - 1)]
    return np.where(inside & (groups[row] == probe_groups), row, -1)


def _next_after(
    groups: np.ndarray, values: np.ndarray, probe_groups: np.ndarray, probe_values: np.ndarray
) -> np.ndarray:
    return _lookup(groups, values, probe_groups, probe_values, after=True)


def _running_highest(group: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The highest of ``values`` so far within each run of equal ``group``."""
    block = np.cumsum(np.concatenate([[True], group[1:] != group[:-1]]))
    distinct, ranks = np.unique(values, return_inverse=True)
    scale = len(distinct) + 1
    running = np.maximum.accumulate(block * scale + ranks.reshape(-1)) - block * scale
    return np.asarray(distinct[running])


def _own_before(export: Export, chats: np.ndarray, users: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Per (chat, user, time): the id of the user's last message in the chat by then
    (-inf: none). Writing in a chat reads it."""
    codes = _codes(np.concatenate([export.chat, chats]), np.concatenate([export.sender, users]))
    row = _lookup(codes[: len(export.chat)], export.created, codes[len(export.chat) :], at)
    ids = export.message_id.astype(float)
    return np.where(row >= 0, ids[np.maximum(row, 0)], -np.inf)


def _read_before(
    reads: np.ndarray,
    chats: np.ndarray,
    users: np.ndarray,
    at: np.ndarray,
    *,
    strictly: bool = False,
) -> np.ndarray:
    """Per (chat, user, time): the highest message id the user read in the chat by
    then, or ``strictly`` before then (-inf: none). A read may name an older message."""
    codes = _codes(np.concatenate([reads[:, 0], chats]), np.concatenate([reads[:, 1], users]))
    groups, probes = codes[: len(reads)], codes[len(reads) :]
    order = np.lexsort((reads[:, 3], groups))
    group = groups[order]
    highest = _running_highest(group, reads[order, 2])
    probe_at = np.nextafter(at, -np.inf) if strictly else at
    row = _lookup(group, reads[order, 3], probes, probe_at)
    return np.where(row >= 0, highest[np.maximum(row, 0)], -np.inf)


def _first_after(export: Export, chats: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per (chat, id): the row of the chat's first message with a higher id, or -1."""
    codes = _codes(np.concatenate([export.chat, chats]))
    ids = export.message_id.astype(float)
    return _next_after(codes[: len(export.chat)], ids, codes[len(export.chat) :], after)
