"""The embedded default target: a provisioned reference server for one run.

With no ``--host``, the master provisions a dataset into a temporary directory,
starts ``chatload serve`` on a free loopback port, points the run at it and stops
it when Locust quits.
"""

from __future__ import annotations

import atexit
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from chatload.loadgen.engine.options import ChatOptions
from chatload.loadgen.people.shares import Share, roles_wanted
from chatload.provision import ProvisionPlan, provision
from chatload.server.launcher import LaunchedServer
from chatload.users_file import Identity, read_users

__all__ = ["EmbeddedServer"]

log = logging.getLogger("chatload.loadgen")

_WEB_UI_OWNERS = 100
_WEB_UI_REQUESTERS = 1000
CHATS_PER_REQUESTER: Final = 2  # each requester's chats, each with another owner


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
            chats_per_requester=min(CHATS_PER_REQUESTER, owners * 2),
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
