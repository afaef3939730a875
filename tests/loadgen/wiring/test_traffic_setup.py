"""A model run's slots: the persona classes weighted by the sessions each role has at
once, and a -u too small for the people said once, at start-up. In a child process:
Locust patches the standard library when imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.loadgen.support import ROOT

_SLOTS = """
import json, logging, sys
from argparse import Namespace
from locust.env import Environment
from chatload.loadgen import OwnerUser, RequesterUser
from chatload.loadgen.engine.options import ChatOptions
from chatload.loadgen.people.identities import IdentityPool
from chatload.loadgen.wiring.traffic_setup import TrafficSetup
from chatload.users_file import Identity

said = []
class Said(logging.Handler):
    def emit(self, record):
        said.append(record.getMessage())
logging.getLogger("chatload").addHandler(Said(logging.WARNING))

class Owners(OwnerUser):
    pass
class Requesters(RequesterUser):
    pass

environment = Environment(user_classes=[Owners, Requesters])
environment.parsed_options = Namespace(num_users=int(sys.argv[1]))
setup = TrafficSetup.of(ChatOptions(traffic_model="default"))
pool = IdentityPool(
    Identity(n, f"t{n}", "owner" if n <= 500 else "requester") for n in range(1, 2501)
)
setup.slots(environment, pool, {})
setup.slots(environment, pool, {})  # the start asks again
needed = setup.sizing.slots_for(setup.populations)
print(json.dumps({
    "said": [m for m in said if "busiest hour needs" in m],
    "weights": [Owners.weight, Requesters.weight],
    "needed": [needed["owner"], needed["requester"]],
}))
"""


@pytest.mark.parametrize(("users", "times"), [(40, 1), (2000, 0)])
def test_a_u_too_small_for_the_people_is_said_once(users: int, times: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SLOTS, str(users)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=True,
    )
    found = json.loads(done.stdout.splitlines()[-1])
    assert len(found["said"]) == times, found
    # The slots lean to the role with more sessions at once.
    (owners, requesters), (owner_slots, requester_slots) = found["weights"], found["needed"]
    assert (owners > requesters) == (owner_slots > requester_slots), found
