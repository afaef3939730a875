"""The embedded default target: a provisioned reference server for one run.

With no ``--host``, the master provisions a dataset into a temporary directory,
starts ``chatload serve`` on a free loopback port, points the run at it and stops
it when Locust quits.
"""

from __future__ import annotations

import atexit
import heapq
import logging
import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from chatload.loadgen.wiring.options import ChatOptions
from chatload.provision import ProvisionPlan, provision
from chatload.server.launcher import LaunchedServer
from chatload.users_file import Identity, Role, read_users

__all__ = ["EmbeddedServer", "Share", "roles_wanted"]

log = logging.getLogger("chatload.loadgen")

_WEB_UI_OWNERS = 100
_WEB_UI_REQUESTERS = 1000


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
    (``loadgen.dispatch``). ``shares`` by class name: the main locustfile's
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
    pick given ``repeat`` users in a row (one per worker, ``loadgen.dispatch``)."""
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


class EmbeddedServer:
    def __init__(
        self,
        options: ChatOptions,
        users: int | None,
        workers: int = 1,
        shares: Mapping[str, Share] | None = None,
    ) -> None:
        if users is None:
            owners, requesters = _WEB_UI_OWNERS, _WEB_UI_REQUESTERS
        else:
            wanted = roles_wanted(users, options, workers, shares)
            owners, requesters = max(2, wanted["owner"]), max(4, wanted["requester"])
        owners = options.embedded_owners or owners
        requesters = options.embedded_requesters or requesters
        self._directory = tempfile.TemporaryDirectory(prefix="chatload-embedded-")
        root = Path(self._directory.name)
        self.users_file = root / "users.csv"
        plan = ProvisionPlan(
            owners=owners,
            requesters=requesters,
            events_per_owner=2,
            chats_per_requester=min(2, owners * 2),
            history=options.embedded_history,
            layout="local",  # identities are lent in file order: the first ones talk together
        )
        summary = provision(root / "chat.db", self.users_file, plan)
        # The server's warnings and errors go to this terminal.
        self.server = LaunchedServer(
            root / "chat.db",
            "--stats-interval",
            "0",
            "--log-level",
            "warning",
            "--transport",
            options.transport,
            log=None,
        )
        self.url = self.server.url
        atexit.register(self.stop)
        log.info(
            "embedded reference server at %s: %d users, %d chats (%s)",
            self.url,
            summary.users,
            summary.chats,
            root,
        )

    @property
    def metrics_url(self) -> str:
        """The reference server serves its own metrics on its port (server/metrics.py)."""
        return f"http://127.0.0.1:{self.server.port}/metrics"

    def identities(self) -> list[Identity]:
        return read_users(self.users_file)

    def stop(self) -> None:
        self.server.stop()
        self._directory.cleanup()
