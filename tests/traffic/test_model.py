"""The model file: written and read back whole; a bad one is one line; a time scale
divides every time and multiplies every rate."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from chatload.errors import ConfigError
from chatload.traffic.default import default_model
from chatload.traffic.families import Family
from chatload.traffic.loading import load_model
from chatload.traffic.model import QUANTITIES


def test_the_default_model_round_trips_through_its_file(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    default_model().write(path)
    again = load_model(str(path))
    for role in ("owner", "requester"):
        for _, name in QUANTITIES:
            assert (
                again.role(role).family(name).to_json()
                == default_model().role(role).family(name).to_json()
            )
    assert again.sources["owner.reply_gap_s"] == "default"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="other/9"), r"format 'other/9', expected 'chatload-traffic/1'"),
        (lambda d: d["roles"].pop("owner"), r"'roles' needs exactly owner and requester"),
        (
            lambda d: d["roles"]["owner"]["sessions"].update(arrivals_per_hour=[1] * 23),
            r"owner\.sessions\.arrivals_per_hour: 24 numbers",
        ),
        (
            lambda d: d["roles"]["owner"]["conversations"]["reply_gap_s"].update(family="zipf"),
            r"reply_gap_s: zipf: not a family",
        ),
        (
            lambda d: d["roles"]["owner"]["conversations"]["reply_gap_s"].update(sigma1=-1),
            r"must be positive",
        ),
        (
            lambda d: d["roles"]["requester"]["conversations"].update(next_same=0.9),
            r"next_same \+ next_other must be <= 1",
        ),
        (
            lambda d: d["roles"]["requester"]["content"].update(photo_share=1.5),
            r"photo_share: a share, within 0\.\.1",
        ),
    ],
)
def test_a_bad_model_file_is_one_line(tmp_path: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    data = default_model().to_json()
    change(data)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=message):
        load_model(str(path))


def test_a_missing_or_broken_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such file \(write one with chatload traffic fit"):
        load_model(str(tmp_path / "none.json"))
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": ')
    with pytest.raises(ConfigError, match=r"broken\.json, line 1: not JSON"):
        load_model(str(broken))


def test_a_time_scale_divides_times_and_multiplies_rates() -> None:
    model, fast = default_model(), default_model().time_scaled(60)
    owner, quick = model.role("owner"), fast.role("owner")
    assert quick.arrivals_at(18) == pytest.approx(60 * owner.arrivals_at(18))
    assert quick.scalar("burst_starts_per_hour") == pytest.approx(
        60 * owner.scalar("burst_starts_per_hour")
    )
    assert quick.family("reply_gap_s").mean() == pytest.approx(
        owner.family("reply_gap_s").mean() / 60
    )
    assert quick.family("text_length") == owner.family("text_length")  # a count stays
    assert fast.burst_gap_s == pytest.approx(model.burst_gap_s / 60)


@pytest.mark.parametrize(
    "family",
    [
        Family("lognormal", {"mu": 3.0, "sigma": 1.0}),
        Family(
            "lognormal_mixture", {"w": 0.7, "mu1": 3.0, "sigma1": 1.0, "mu2": 8.0, "sigma2": 1.2}
        ),
        Family("weibull", {"shape": 0.8, "scale": 40.0}),
        Family("gamma", {"shape": 2.0, "scale": 1.5}),
        Family("exponential", {"scale": 30.0}),
        Family("empirical", {}, (0.0, 0.5, 1.0), (1.0, 10.0, 100.0)),
    ],
)
def test_each_family_draws_what_its_cdf_says(family: Family) -> None:
    import numpy as np

    from chatload.traffic.fitting import ks_distance

    rng = random.Random(1)
    draws = np.array([family.draw(rng) for _ in range(20_000)])
    assert ks_distance(draws, family) < 0.015  # 20,000 draws: the 99 % critical D is 0.0115
    assert family.quantile(0.5) == pytest.approx(float(family.ppf(np.array([0.5]))[0]), rel=1e-6)
