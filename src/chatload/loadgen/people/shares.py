"""Each persona's share of a run, and how many identities of each role a run takes.

Locust starts user classes by weight (and fixed counts first); chatload sizes the
embedded dataset and checks a users file by the same arithmetic, worked out here
apart from Locust (``loadgen.wiring.dispatch`` checks the two agree).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from typing import NamedTuple

from chatload.loadgen.engine.options import ChatOptions
from chatload.users_file import Role

__all__ = ["Share", "default_shares", "roles_wanted", "weighted_split"]

# The persona classes' names: Locust breaks ties between classes by name.
_OWNER_CLASS, _REQUESTER_CLASS = "OwnerUser", "RequesterUser"


class Share(NamedTuple):
    """What Locust starts of one user class: its role, weight and fixed count."""

    role: Role
    weight: float
    fixed_count: int


def default_shares(options: ChatOptions) -> dict[str, Share]:
    """The main locustfile's personas."""
    return {
        _OWNER_CLASS: Share("owner", options.owner_weight, 0),
        _REQUESTER_CLASS: Share("requester", options.requester_weight, 0),
        "ProbeUser": Share("requester", 0, options.probes),
    }


def roles_wanted(
    users: int,
    options: ChatOptions,
    workers: int = 1,
    shares: Mapping[str, Share] | None = None,
) -> dict[str, int]:
    """Identities per role that ``users`` Locust users take, split as the dispatcher
    splits them: classes with a fixed count (the access probes) first, then the
    others by weight, dealt a class at a time to ``workers`` workers
    (``loadgen.wiring.dispatch``). ``shares`` by class name: the main locustfile's
    personas when not given."""
    shares = default_shares(options) if shares is None else shares
    wanted = {"owner": 0, "requester": 0}
    left = users
    for share in shares.values():
        taken = min(share.fixed_count, left)
        wanted[share.role] += taken
        left -= taken
    weights = {name: s.weight for name, s in shares.items() if not s.fixed_count and s.weight}
    for name, count in weighted_split(left, weights, repeat=workers).items():
        wanted[shares[name].role] += count
    return wanted


def weighted_split(users: int, weights: dict[str, float], repeat: int = 1) -> dict[str, int]:
    """How many of the first ``users`` Locust gives each class: the same rule as its
    dispatcher, each next user to the class whose pick brings the counts closest
    to the weights (Kullback-Leibler divergence), ties to the smaller name; each
    pick given ``repeat`` users in a row (one per worker, ``loadgen.wiring.dispatch``)."""
    # A class picked n times costs w*log2((w+n)/(w+n+1)) for the next pick: most
    # negative first. Kept as (cost, n + w, w, name) in a heap, like the dispatcher.
    heap = [
        (w * math.log2(w / (w + 1.0)), w + 1.0, float(w), name)
        for name, w in weights.items()
        if w > 0
    ]
    heapq.heapify(heap)
    counts = dict.fromkeys(weights, 0)
    left = users if heap else 0
    while left > 0:
        _, seen, weight, name = heap[0]
        taken = min(max(1, repeat), left)
        counts[name] += taken
        left -= taken
        heapq.heapreplace(heap, (weight * math.log2(seen / (seen + 1.0)), seen + 1.0, weight, name))
    return counts
