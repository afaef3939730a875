"""A traffic model with known parameters, and a seeded export of it (the tests' own).

Chosen where the people's interplay leaves the drawn distributions as they are:
sessions long beside the gaps (a turn is rarely cut by a session's end), enough
chats per person for a burst to find a quiet one, every gap well inside the burst gap.
"""

from __future__ import annotations

import math
from functools import cache

from chatload.traffic.default import DAILY_CURVE
from chatload.traffic.families import Family
from chatload.traffic.model import RoleModel, TrafficModel
from chatload.traffic.observe import Export
from chatload.traffic.simulate import World, simulate


def _lognormal(median: float, sigma: float) -> Family:
    return Family("lognormal", {"mu": math.log(median), "sigma": sigma})


def _role(sessions_per_day: float, quick_share: float) -> RoleModel:
    families = {
        "duration_s": _lognormal(900.0, 0.6),
        "reply_gap_s": Family(
            "lognormal_mixture",
            {
                "w": quick_share,
                "mu1": math.log(20.0),
                "sigma1": 0.7,
                "mu2": math.log(600.0),
                "sigma2": 0.6,
            },
        ),
        "same_sender_gap_s": Family("weibull", {"shape": 1.4, "scale": 15.0}),
        "burst_size": _lognormal(3.0, 0.8),  # what the turns give: not drawn
        "read_delay_s": Family("gamma", {"shape": 2.0, "scale": 1.5}),
        "pages": _lognormal(1.5, 0.5),
        "text_length": _lognormal(30.0, 0.9),
        "photos": _lognormal(1.5, 0.6),
        "weight": Family("lognormal", {"mu": -0.18, "sigma": 0.6}),
    }
    scalars = {
        "burst_starts_per_hour": 1.5,
        "next_same": 0.3,
        "next_other": 0.55,
        "page_back_share": 0.2,
        "photo_share": 0.2,
    }
    return RoleModel(tuple(1000 * sessions_per_day * s for s in DAILY_CURVE), families, scalars)


KNOWN = TrafficModel(
    {"owner": _role(8.0, 0.7), "requester": _role(4.0, 0.8)}, burst_gap_s=7200.0, name="known"
)
# Recovered from the export: every family's parameters (burst_size excepted: the
# turns make it) and every rate and share.
DRAWN = (
    "duration_s",
    "reply_gap_s",
    "same_sender_gap_s",
    "read_delay_s",
    "pages",
    "text_length",
    "photos",
    "weight",
)


@cache
def known_export(messages: int = 50_000) -> Export:
    world = World.made(400, 1600, 10, seed=3)
    return simulate(KNOWN, world, days=60, seed=4, messages=messages)
