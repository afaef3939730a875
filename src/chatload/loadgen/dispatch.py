"""Each worker gets every persona in proportion, so that chats can stay in one worker.

Locust's dispatcher orders users by weight (owner, requester, requester,
requester, owner, ...) and deals them to workers in turn. With a cycle as long as
a multiple of the number of workers, every owner lands on the same worker: at
weights 1:3 on two workers, one worker runs all the owners and the other only
requesters, and no chat can have both ends in one process (so it is timed across
two wall clocks). Dealt in runs of one class per worker instead, each worker gets
its share of every class, and the master can lend it whole groups of identities
(``loadgen.identities``). Users with a fixed count are dealt as Locust deals them.
"""

from __future__ import annotations

from collections.abc import Iterator

from locust.dispatch import UsersDispatcher

__all__ = ["ChatDispatcher"]


class ChatDispatcher(UsersDispatcher):
    def _user_gen(self) -> Iterator[str | None]:
        fixed = {user.__name__ for user in self._user_classes if user.fixed_count}
        for user in super()._user_gen():
            if user is None or user in fixed:
                yield user
                continue
            for _ in range(max(1, len(self._worker_nodes))):
                yield user
