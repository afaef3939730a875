"""The run's target and its people: the embedded server, or ``--host`` with its users file.

Resolved on the master (or the only process) at start-up and again whenever the
web UI changed the host or the users file; checked (enough identities of each
role, one connection through the pre-flight) before users start.
"""

from __future__ import annotations

import logging
from pathlib import Path

from locust.env import Environment
from locust.runners import MasterRunner

from chatload.errors import ConfigError
from chatload.loadgen.engine.options import ChatOptions
from chatload.loadgen.engine.runtime import running
from chatload.loadgen.people.identities import IdentityPool, LocalLender
from chatload.loadgen.people.shares import Share, roles_wanted
from chatload.loadgen.wiring.embedded import EmbeddedServer
from chatload.loadgen.wiring.preflight import preflight
from chatload.tracking.metrics import DELIVERY, REQUEST_TYPE, SEND_ACK
from chatload.users_file import read_users

__all__ = ["Target", "expected_workers", "hint_about_offline_interlocutors"]

log = logging.getLogger("chatload.loadgen")


class Target:
    def __init__(self) -> None:
        self.embedded: EmbeddedServer | None = None
        self.pool: IdentityPool | None = None
        self.lender: LocalLender | None = None
        self._resolved: tuple[str, Path | None] | None = None  # (host, users file)
        self._checked = False

    def embed(
        self,
        environment: Environment,
        options: ChatOptions,
        users: int | None,
        workers: int,
        shares: dict[str, Share],
    ) -> None:
        """No --host: the embedded reference server, sized for ``users``."""
        self.embedded = EmbeddedServer(options, users, workers, shares)
        environment.host = self.embedded.url

    def current_pool(self) -> IdentityPool:
        assert self.pool is not None, "the target is resolved at start-up"
        return self.pool

    def resolve(self, environment: Environment, options: ChatOptions) -> None:
        """The identities of the target; again whenever the web UI changed the target."""
        embedded = self.embedded
        if not environment.host and embedded is not None:
            environment.host = embedded.url  # an emptied host field in the web UI
        target = (environment.host or "", options.users_file)
        if target == self._resolved:
            return
        if embedded is not None and environment.host == embedded.url:
            identities = embedded.identities()
        elif options.users_file is None:
            raise ConfigError(
                f"--host {environment.host} needs --users-file with that server's users "
                "(user_id,token,role)"
            )
        else:
            identities = read_users(options.users_file)
        self.pool = IdentityPool(identities)
        self.lender = LocalLender(self.pool)
        self._resolved, self._checked = target, False

    def check(
        self,
        environment: Environment,
        options: ChatOptions,
        users: int | None,
        workers: int,
        shares: dict[str, Share],
    ) -> None:
        """Enough identities for ``users``, and (once per target) one real connection."""
        pool = self.current_pool()
        if users:
            pool.check_enough(roles_wanted(users, options, workers, shares))
        if not self._checked:
            owners = list(pool.free["owner"]) or list(pool.free["requester"])
            preflight(environment.host or "", owners, options)
            self._checked = True

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None


def hint_about_offline_interlocutors(environment: Environment) -> None:
    """Messages were acknowledged but none delivered: the interlocutors were offline."""
    entries = running(environment).stats.entries
    sent = entries.get((SEND_ACK, REQUEST_TYPE))
    delivered = entries.get((DELIVERY, REQUEST_TYPE))
    if (
        sent is not None
        and sent.num_requests > 0
        and (delivered is None or not delivered.num_requests)
    ):
        log.warning(
            "%d messages were acknowledged and none was delivered to a connected user: the "
            "users' interlocutors were not connected. Identities are lent in users-file order; "
            "put first the owners and requesters that share chats, or run more users.",
            sent.num_requests,
        )


def expected_workers(environment: Environment) -> int:
    """The workers a master deals users to (the dispatcher deals a class per worker
    in a row, which changes the split of the first users a little)."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return 1
    parsed = environment.parsed_options
    expected = getattr(parsed, "expect_workers", 1) if parsed is not None else 1
    return max(1, runner.worker_count or int(expected or 1))
