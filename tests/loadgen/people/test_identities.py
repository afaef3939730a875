"""The identity pool: lent one at a time, given back once, at any scale."""

from __future__ import annotations

import time

import pytest

from chatload.errors import ConfigError
from chatload.loadgen.people.identities import IdentityPool
from chatload.users_file import Identity


def pool(owners: int, requesters: int) -> IdentityPool:
    people = [Identity(n, f"t{n}", "owner") for n in range(1, owners + 1)]
    people += [
        Identity(owners + n, f"t{owners + n}", "requester") for n in range(1, requesters + 1)
    ]
    return IdentityPool(people)


def test_lent_in_file_order_and_given_back_once() -> None:
    identities = pool(2, 3)
    first, second = identities.lend("owner"), identities.lend("owner")
    assert (first.user_id, second.user_id) == (1, 2)
    with pytest.raises(ConfigError, match="the users file has 2 owners"):
        identities.lend("owner")
    identities.give_back(1)
    identities.give_back(1)  # twice: still one identity
    identities.give_back(999)  # unknown: ignored
    assert [i.user_id for i in identities.free["owner"]] == [1]
    identities.give_back(3)  # never lent: not added twice
    assert [i.user_id for i in identities.free["requester"]] == [3, 4, 5]


def test_a_new_run_lends_in_file_order_again_and_keeps_the_lent_lent() -> None:
    identities = pool(3, 0)
    first, second = identities.lend("owner"), identities.lend("owner")
    identities.give_back(first.user_id)  # queued after 3: the order a run leaves behind
    assert [identities.lend("owner").user_id for _ in range(2)] == [3, 1]
    identities.give_back(3)
    identities.give_back(1)  # queued: 3, 1
    identities.rewind()
    assert identities.lend("owner").user_id == 1  # the file's order
    assert identities.lend("owner").user_id == 3  # 2 is still lent
    with pytest.raises(ConfigError):
        identities.lend("owner")
    identities.give_back(second.user_id)
    assert identities.lend("owner").user_id == 2


def test_giving_back_twenty_thousand_is_quick() -> None:
    identities = pool(4_000, 16_000)
    lent = [identities.lend("requester") for _ in range(16_000)]
    started = time.perf_counter()
    for identity in lent:
        identities.give_back(identity.user_id)
    assert time.perf_counter() - started < 0.5  # a scan of the queue each would take minutes
    assert len(identities.free["requester"]) == 16_000


def grouped(groups: int, requesters_per_group: int) -> IdentityPool:
    people: list[Identity] = []
    for group in range(1, groups + 1):
        people.append(Identity(group, f"o{group}", "owner", {"group": str(group)}))
    for group in range(1, groups + 1):
        for n in range(requesters_per_group):
            user_id = groups + (group - 1) * requesters_per_group + n + 1
            people.append(Identity(user_id, f"r{user_id}", "requester", {"group": str(group)}))
    return IdentityPool(people)


def test_a_group_goes_to_one_worker() -> None:
    identities = grouped(groups=4, requesters_per_group=3)
    taken: dict[str, list[Identity]] = {"a": [], "b": []}
    # The two workers ask in turns, requesters before owners, as spawning does.
    for role in ("requester",) * 6 + ("owner",) * 2:
        for worker in ("a", "b"):
            taken[worker].append(identities.lend(role, worker))
    for people in taken.values():
        groups = {identity.group for identity in people}
        assert len(groups) == 2  # whole groups: 1 owner and 3 requesters each
        for group in groups:
            roles = sorted(identity.role for identity in people if identity.group == group)
            assert roles == ["owner", "requester", "requester", "requester"]
    with pytest.raises(ConfigError):
        identities.lend("owner", "a")


def test_when_its_groups_run_out_a_worker_takes_any() -> None:
    identities = grouped(groups=2, requesters_per_group=1)
    first = identities.lend("requester", "a")
    second = identities.lend("requester", "a")  # its group has none left: the next group
    assert {first.group, second.group} == {"1", "2"}
    owner = identities.lend("owner", "b")  # every group is held: any free owner
    assert owner.role == "owner"
    identities.give_back(first.user_id)
    assert identities.lend("requester", "a").user_id == first.user_id
