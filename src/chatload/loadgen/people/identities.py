"""Who each Locust user is: a distinct identity from the users file, across workers.

The master (or the only process of a local run) holds the pool and lends
identities one at a time; workers ask for them with Locust messages, so no
identity is ever used by two users at once, however users are spread over
workers and whenever they start or stop. Workers need no users file of their own.

Identities of one ``group`` (an owner and the requesters of its events, as the
users file says) go to one worker wherever possible: the first identity of a
group that a worker takes gives it the group, and that worker's next requests
are served from its groups first. Both ends of those chats then run in one
process and are timed on its monotonic clock, not across two wall clocks.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from gevent.event import AsyncResult

from chatload.errors import ConfigError
from chatload.loadgen.messages import (
    IDENTITY_GRANT,
    IDENTITY_REQUEST,
    IDENTITY_RETURN,
    Grant,
    on,
    send,
)
from chatload.users_file import Identity, Role

if TYPE_CHECKING:
    from locust.runners import MasterRunner, WorkerRunner

__all__ = ["IdentityPool", "LocalLender", "RemoteLender"]

log = logging.getLogger("chatload.loadgen")


class IdentityPool:
    """Every identity of the run, by role; lent and given back, groups kept together."""

    def __init__(self, identities: Iterable[Identity]) -> None:
        self.by_id: dict[int, Identity] = {identity.user_id: identity for identity in identities}
        self.lent: set[int] = set()  # a given-back id is checked here, not in the queue
        self.rewind()

    def rewind(self) -> None:
        """Lend in the users file's order again, as a new run starts: the last run
        queued what it gave back at the end, which splits the two ends of its chats
        (a run of a few users then has none of its peers online). Lent ones stay lent."""
        self.free: dict[str, deque[Identity]] = {"owner": deque(), "requester": deque()}
        # The free identities of each group by role; the groups no worker holds yet,
        # by role, in file order; and the groups each worker holds.
        self._groups: dict[str, dict[str, deque[Identity]]] = {}
        self._unheld: dict[str, deque[str]] = {"owner": deque(), "requester": deque()}
        self._holder: dict[str, str] = {}
        self._held: dict[str, list[str]] = {}
        for identity in self.by_id.values():
            self.free[identity.role].append(identity)
            group = identity.group
            if group:
                roles = self._groups.get(group)
                if roles is None:
                    roles = self._groups[group] = {"owner": deque(), "requester": deque()}
                if not roles[identity.role]:
                    self._unheld[identity.role].append(group)
                roles[identity.role].append(identity)
        self.total = {role: len(free) for role, free in self.free.items()}

    def lend(self, role: Role, worker: str | None = None) -> Identity:
        """The next free identity of ``role``. For a ``worker``: from the groups it
        holds, else from a group nobody holds (which it then holds), else any."""
        identity = None
        if worker is not None:
            identity = self._from_groups(role, self._held.get(worker, ()))
            if identity is None:
                identity = self._from_unheld_group(role, worker)
        free = self.free[role]
        while identity is None:
            if not free:
                raise ConfigError(
                    f"fewer identities than users: the users file has {self.total[role]} "
                    f"{role}s and the run wants more; add {role}s to the users file or lower "
                    "-u (or the weight of that role)"
                )
            candidate = free.popleft()
            if candidate.user_id not in self.lent:  # else lent from its group already
                identity = candidate
        self.lent.add(identity.user_id)
        return identity

    def lend_this(self, user_id: int) -> Identity | None:
        """That person, if they are free (someone who comes back to answer); else
        None (they are online already)."""
        identity = self.by_id.get(user_id)
        if identity is None or user_id in self.lent:
            return None
        self.lent.add(user_id)  # their entry in the free queues is skipped when reached
        return identity

    def _from_groups(self, role: Role, groups: Iterable[str]) -> Identity | None:
        for group in groups:
            queue = self._groups[group][role]
            while queue:
                identity = queue.popleft()
                if identity.user_id not in self.lent:
                    return identity
        return None

    def _from_unheld_group(self, role: Role, worker: str) -> Identity | None:
        unheld = self._unheld[role]
        while unheld:
            group = unheld.popleft()
            if group in self._holder:
                continue
            identity = self._from_groups(role, (group,))
            if identity is not None:
                self._holder[group] = worker
                self._held.setdefault(worker, []).append(group)
                return identity
        return None

    def give_back(self, user_id: int) -> None:
        identity = self.by_id.get(user_id)
        if identity is not None and user_id in self.lent:
            self.lent.discard(user_id)
            self.free[identity.role].append(identity)
            group = identity.group
            if group:
                self._groups[group][identity.role].append(identity)
                if group not in self._holder:
                    self._unheld[identity.role].append(group)

    def check_enough(self, wanted: dict[str, int]) -> None:
        for role, count in wanted.items():
            if count > self.total[role]:
                raise ConfigError(
                    f"fewer identities than users: the run wants {count} {role}s and the "
                    f"users file has {self.total[role]}; add {role}s to the users file or "
                    "lower -u (or the weight of that role)"
                )


class LocalLender:
    """A local run, or the master's own view: lends straight from the pool."""

    def __init__(self, pool: IdentityPool) -> None:
        self.pool = pool

    def acquire(self, role: Role, timeout: float) -> Identity:
        return self.pool.lend(role)

    def acquire_this(self, user_id: int, role: Role, timeout: float) -> Identity | None:
        return self.pool.lend_this(user_id)

    def release(self, identity: Identity) -> None:
        self.pool.give_back(identity.user_id)

    def holds(self, user_id: int) -> bool:
        return user_id in self.pool.lent


class RemoteLender:
    """A worker: asks the master for one identity at a time."""

    def __init__(self, runner: WorkerRunner) -> None:
        self.runner = runner
        self._waiting: dict[str, deque[AsyncResult]] = {"owner": deque(), "requester": deque()}
        self._held: set[int] = set()  # the people lent to this worker now
        on(runner, IDENTITY_GRANT, self._granted)

    def acquire(self, role: Role, timeout: float) -> Identity:
        result: AsyncResult = AsyncResult()
        self._waiting[role].append(result)
        send(self.runner, IDENTITY_REQUEST, (role, None))
        try:
            granted: Identity = result.get(timeout=timeout)
        except TimeoutError:
            raise ConfigError(
                f"the master lent no {role} identity within {timeout:.0f} s: "
                "is it running chatload's locustfile?"
            ) from None
        self._held.add(granted.user_id)
        return granted

    def acquire_this(self, user_id: int, role: Role, timeout: float) -> Identity | None:
        """That person from the master, if free; None if online (or no answer)."""
        result: AsyncResult = AsyncResult()
        self._waiting[role].append(result)
        send(self.runner, IDENTITY_REQUEST, (role, user_id))
        try:
            granted: Identity = result.get(timeout=timeout)
        except (TimeoutError, ConfigError):
            return None
        self._held.add(granted.user_id)
        return granted

    def release(self, identity: Identity) -> None:
        self._held.discard(identity.user_id)
        send(self.runner, IDENTITY_RETURN, identity.user_id)

    def holds(self, user_id: int) -> bool:
        return user_id in self._held

    def _granted(self, grant: Grant, _: str) -> None:
        waiting = self._waiting[grant.role]
        if not waiting:
            return
        result = waiting.popleft()
        if grant.identity is None:
            result.set_exception(ConfigError(grant.error or "no identity"))
        else:
            result.set(grant.identity)


def serve_identities(runner: MasterRunner, pool: Callable[[], IdentityPool]) -> None:
    """On the master: answer workers' requests from the current ``pool()``."""

    def lend(request: tuple[Role, int | None], worker: str) -> None:
        role, user_id = request
        if user_id is not None:
            identity = pool().lend_this(user_id)
            grant = Grant(role, identity, None if identity else "online")
            send(runner, IDENTITY_GRANT, grant, client_id=worker)
            return
        try:
            grant = Grant(role, pool().lend(role, worker))
        except ConfigError as exc:
            grant = Grant(role, error=str(exc))
        send(runner, IDENTITY_GRANT, grant, client_id=worker)

    def give_back(user_id: int, _: str) -> None:
        pool().give_back(user_id)

    on(runner, IDENTITY_REQUEST, lend)
    on(runner, IDENTITY_RETURN, give_back)
