"""The built-in traffic model (``--traffic-model default``), from published measurements.

Each parameter's source, or the assumption where no study gives a number, is in
``docs/traffic.md`` ("The default model"); the numbers live here once.
"""

from __future__ import annotations

import math
from typing import Final

from chatload.traffic.families import Family
from chatload.traffic.model import QUANTITIES, RoleModel, TrafficModel
from chatload.users_file import Role

__all__ = ["DAILY_CURVE", "default_model"]

# The share of a day's sessions in each hour (local time): low at night, rising
# through the working day to an evening peak at 18:00-21:00 (app usage peaks at
# about 18:00: Böhmer et al. 2011). Assumed shape; sums to 1.
_HOURLY: Final = (
    0.8, 0.5, 0.3, 0.2, 0.2, 0.4, 1.0, 2.2, 3.6, 4.6, 5.0, 5.2,
    5.4, 5.4, 5.4, 5.6, 6.0, 6.6, 7.4, 7.8, 7.6, 6.6, 4.4, 2.2,
)  # fmt: skip
DAILY_CURVE: Final = tuple(v / sum(_HOURLY) for v in _HOURLY)
# Sessions per person and day: owners answer the people who ask to join their
# events, so they come more often (assumed).
_SESSIONS_PER_DAY: Final = {"owner": 6.0, "requester": 3.0}


def _lognormal(median: float, sigma: float) -> Family:
    return Family("lognormal", {"mu": math.log(median), "sigma": sigma})


def _role(role: str) -> RoleModel:
    per_day = _SESSIONS_PER_DAY[role]
    arrivals = tuple(1000 * per_day * share for share in DAILY_CURVE)
    owner = role == "owner"
    families = {
        # Chat apps' sessions average about 45 s (ABI Research and Mobidia 2015), all
        # apps' 72 s (Böhmer et al. 2011): lognormal, median 45 s, mean 82 s.
        "duration_s": _lognormal(45.0, 1.1),
        # A mixture of two lognormals (Stouffer, Malmgren and Amaral 2006): most answers
        # within minutes (84 % of personal SMS within 30 min, 160 Characters 2007;
        # 68 % "immediately or within a few minutes", Pielot 2015), the rest hours
        # later. Owners answer a little slower (assumed).
        "reply_gap_s": Family(
            "lognormal_mixture",
            {
                "w": 0.7 if owner else 0.75,
                "mu1": math.log(40.0 if owner else 25.0),
                "sigma1": 1.0,
                "mu2": math.log(3 * 3600.0),
                "sigma2": 1.2,
            },
        ),
        # Gaps between messages are lognormal (WeChat traces: Li et al. 2017); a
        # second message of the same person follows in seconds (median assumed 12 s).
        "same_sender_gap_s": _lognormal(12.0, 1.0),
        # What the turns give (kept to compare a run with): heavy-tailed conversation
        # lengths (Hong et al. 2008); median 3 messages (assumed).
        "burst_size": _lognormal(3.0, 0.8),
        # While the chat is open a message is seen at once; 75 % of inattentive spells
        # end within 5 min (Dingler and Pielot 2015). Median 4 s (assumed).
        "read_delay_s": _lognormal(4.0, 1.0),
        "pages": _lognormal(1.2, 0.5),  # assumed: one page mostly, sometimes two or three
        # Chat messages are short: median 30 characters, mean about 45 (assumed, in
        # line with the 40-60 characters usually reported for WhatsApp messages).
        "text_length": _lognormal(30.0, 0.9),
        "photos": _lognormal(1.0, 0.6),  # assumed: one photo mostly, a few at times
        # Messages per user follow a Zipf-like curve (Caetano et al. 2018): lognormal
        # weights of mean 1, sigma 1.2, where the top 10 % write about 47 %.
        "weight": Family("lognormal", {"mu": -0.72, "sigma": 1.2}),
    }
    scalars = {
        # A connected person starts a burst about once every three sessions (assumed).
        "burst_starts_per_hour": 3600.0 / (3 * 82.0),
        # After a message, the other side writes next 55 % of the time, the same
        # person 30 %; 15 % ends the burst (assumed; a mean of about 6.7 messages).
        "next_same": 0.30,
        "next_other": 0.55,
        "page_back_share": 0.10,  # assumed
        "photo_share": 0.20,  # about 20 % of messages carry media (Caetano et al. 2018)
    }
    assert set(families) == {name for _, name in QUANTITIES}
    return RoleModel(arrivals, families, scalars)


def default_model() -> TrafficModel:
    roles: dict[Role, RoleModel] = {"owner": _role("owner"), "requester": _role("requester")}
    sources = {
        f"{role}.{name}": "default"
        for role, model in roles.items()
        for name in (*model.families, *model.scalars, "arrivals_per_hour")
    }
    return TrafficModel(
        roles,
        burst_gap_s=12 * 3600.0,
        sources=sources,
        name="default",
    )
