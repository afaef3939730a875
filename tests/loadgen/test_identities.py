"""The identity pool: lent one at a time, given back once, at any scale."""

from __future__ import annotations

import time

import pytest

from chatload.errors import ConfigError
from chatload.loadgen.identities import IdentityPool
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


def test_giving_back_twenty_thousand_is_quick() -> None:
    identities = pool(4_000, 16_000)
    lent = [identities.lend("requester") for _ in range(16_000)]
    started = time.perf_counter()
    for identity in lent:
        identities.give_back(identity.user_id)
    assert time.perf_counter() - started < 0.5  # a scan of the queue each would take minutes
    assert len(identities.free["requester"]) == 16_000
