"""Each worker gets every persona in proportion, so that chats can stay in one worker.

Locust's dispatcher orders users by weight (owner, requester, requester,
requester, owner, ...) and deals them to workers in turn. With a cycle as long as
a multiple of the number of workers, every owner lands on the same worker: at
weights 1:3 on two workers, one worker runs all the owners and the other only
requesters, and no chat can have both ends in one process (so it is timed across
two wall clocks). Dealt in runs of one class per worker instead, each worker gets
its share of every class, and the master can lend it whole groups of identities
(``loadgen.people.identities``). Users with a fixed count are dealt as Locust deals them.
"""

from __future__ import annotations

from collections.abc import Iterator

import locust
from locust import User
from locust.dispatch import UsersDispatcher
from locust.runners import WorkerNode

from chatload.errors import ConfigError
from chatload.loadgen.people.shares import weighted_split

__all__ = ["ChatDispatcher", "check_dispatcher"]


class ChatDispatcher(UsersDispatcher):
    def _user_gen(self) -> Iterator[str | None]:
        fixed = {user.__name__ for user in self._user_classes if user.fixed_count}
        for user in super()._user_gen():
            if user is None or user in fixed:
                yield user
                continue
            for _ in range(max(1, len(self._worker_nodes))):
                yield user


def check_dispatcher() -> None:
    """Locust has no public hook for the order of its dispatch, so ChatDispatcher
    overrides a private generator: deal a small run to two workers and check each
    got its share of both classes, or stop with one line naming the Locust version."""

    class _Few(User):
        weight = 1

    class _Many(User):
        weight = 3

    weights = {"_Few": 1.0, "_Many": 3.0}
    try:
        nodes = [WorkerNode("a"), WorkerNode("b")]
        dispatcher = ChatDispatcher(worker_nodes=nodes, user_classes=[_Few, _Many])
        dispatcher.new_dispatch(8, spawn_rate=8)
        dispatcher._wait_between_dispatch = 0
        dealt: dict[str, dict[str, int]] = list(dispatcher)[-1]
        ok = all(counts == {"_Few": 1, "_Many": 3} for counts in dealt.values())
        # The embedded dataset is sized by the same split, computed apart.
        dealt_in_all = {name: sum(counts[name] for counts in dealt.values()) for name in weights}
        ok = ok and weighted_split(8, weights, repeat=2) == dealt_in_all
    except (AttributeError, TypeError, AssertionError):
        ok = False
    if not ok:
        raise ConfigError(
            f"Locust {locust.__version__} deals users in a way chatload's dispatcher does "
            "not know (UsersDispatcher._user_gen changed): install a Locust version "
            "pyproject.toml allows"
        )
