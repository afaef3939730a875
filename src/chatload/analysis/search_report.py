"""The capacity search's part of a report: its answer, its levels, a USL fit.

Read from ``PREFIX_capacity.json`` (written by ``--shape search``); the latency and
throughput against users come from the report's capacity section, which finds the
search's levels again as plateaus of the user count (a model search's against its
multiplier of the model's busiest hour, :func:`multipliers`).
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any, Final

from chatload.analysis.csvfiles import csv_file
from chatload.analysis.html import cell
from chatload.analysis.usl import UslFit, fit_usl
from chatload.errors import ConfigError

__all__ = ["USL_MAX_ERROR", "load_search", "multipliers", "search_section", "usl_text"]

# A fit whose relative residuals exceed this (RMS) does not describe the levels. An
# exact hard cap (throughput linear up to it, flat past it) leaves 6.0 % to 9.1 % on
# the levels a search holds (tests/analysis/test_search_report.py), and the USL would
# predict a peak and a decline that is not there; measured levels of a USL-shaped
# server scatter by 1-3 %.
USL_MAX_ERROR: Final = 0.05


def load_search(prefix: Path) -> dict[str, Any] | None:
    path = csv_file(prefix, "capacity").with_suffix(".json")
    if not path.exists():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        data["levels"] = list(data["levels"])
        int(data["users"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a capacity search's answer ({exc})") from None
    return data


def usl_of(search: dict[str, Any]) -> UslFit | None:
    return fit_usl([(level["users"], level["messages_per_s"]) for level in search["levels"]])


def multipliers(search: dict[str, Any] | None) -> dict[int, float]:
    """A model search's levels: the users Locust ran for each, and its multiplier
    (none for a search of users)."""
    if search is None:
        return {}
    return {
        int(level["locust_users"]): float(level["multiplier"])
        for level in search["levels"]
        if level.get("multiplier") is not None
    }


def _named(search: dict[str, Any], users: int | None) -> str:
    """A level as the answer names it: users, or (a model search) its multiplier."""
    level = next((lv for lv in search["levels"] if lv["users"] == users), None)
    if level is None or level.get("multiplier") is None:
        return f"{users:,} users"
    return f"{level['multiplier']:.3g}x"


def _verdict(search: dict[str, Any]) -> str:
    failing = search.get("first_failing") or {}
    if search.get("multiplier") is not None:
        peak = search.get("model_peak") or {}
        verdict = (
            f"Capacity: {search['multiplier']:.3g}x the traffic model's busiest hour "
            f"({search['concurrent_sessions'] or 0:,.0f} sessions at once, "
            f"{search['messages_per_s']:,.1f} messages/s, {search['sessions_per_s'] or 0:,.2f} "
            f"sessions/s) within every SLO; limited by {search['limited_by']}; 1x is "
            f"{peak.get('people', 0):,} people at hour {peak.get('hour', '?')}"
        )
    else:
        verdict = (
            f"Capacity: {search['users']:,} users, {search['messages_per_s']:,.1f} messages/s "
            f"within every SLO; limited by {search['limited_by']}"
        )
    if search.get("complete") is False and search["limited_by"] == "time":
        above = search.get("fails_at")
        verdict += (
            f" (cut short before its resolution: at least {_named(search, search['users'])}"
            + (f", under {_named(search, above)}" if above else "")
            + ")"
        )
    if failing.get("slo"):
        verdict += (
            f"; {failing['slo']} broke first ({failing['measured']}) at "
            f"{_named(search, failing['users'])}"
        )
    return verdict


def search_section(search: dict[str, Any]) -> list[str]:
    model = bool(multipliers(search))
    extra = (
        "<th>x busiest hour</th><th>sessions at once</th><th>sessions/s</th>"
        "<th>messages / the model's</th>"
    )
    peak = search.get("model_peak") or {}
    rows = [
        "<tr><th>#</th><th>users</th>"
        + (extra if model else "")
        + "<th>messages/s</th><th>held</th><th class='left'>"
        "first failing SLO</th><th>generator saturated</th><th>server CPU %</th>"
        "<th>server RSS MiB</th></tr>"
    ]
    for index, level in enumerate(search["levels"], 1):
        broke = next((s for s in level["slos"] if not s["holds"]), None)
        cpu, rss = level.get("server_cpu_percent"), level.get("server_rss_bytes")
        rows.append(
            "<tr>"
            + cell(index)
            + cell(f"{level['users']:,}")
            + (_production_cells(level, peak) if model else "")
            + cell(f"{level['messages_per_s']:,.1f}")
            + cell(
                level.get("verdict", "holds" if level["holds"] else "fails"),
                "pass" if level["holds"] else "fail",
            )
            + cell(f"{broke['slo']}: {broke['measured']}" if broke else "", "left")
            + cell("yes" if level["generator_saturated"] else "no")
            + cell("" if cpu is None else f"{cpu:.0f}")
            + cell("" if rss is None else f"{rss / (1 << 20):,.0f}")
            + "</tr>"
        )
    return [
        "<h2>Capacity search</h2>",
        f"<p class='verdict'><b>{escape(_verdict(search))}</b></p>",
        "<table>" + "".join(rows) + "</table>",
        f"<p class='note'>Levels in the order the search held them. "
        f"{escape(usl_text(usl_of(search)))}</p>",
    ]


def _production_cells(level: dict[str, Any], peak: dict[str, Any]) -> str:
    """A level's multiplier, its sessions, and its messages over what the model sends
    at that multiplier (how true to the model the level's traffic was)."""
    at_once, per_s = level.get("concurrent_sessions"), level.get("sessions_per_s")
    expected = level["multiplier"] * float(peak.get("messages_per_s") or 0)
    return (
        cell(f"{level['multiplier']:.3g}")
        + cell("" if at_once is None else f"{at_once:,.0f}")
        + cell("" if per_s is None else f"{per_s:,.2f}")
        + cell(f"{level['messages_per_s'] / expected:.2f}" if expected > 0 else "")
    )


def usl_text(fit: UslFit | None) -> str:
    """The fit where it describes the levels; where it does not, that it does not."""
    if fit is None:
        return "USL fit: needs at least four levels of different users."
    if fit.error > USL_MAX_ERROR:
        return (
            f"The levels do not follow the USL's shape (fit error {fit.error:.1%} over "
            f"{fit.levels} levels, more than {USL_MAX_ERROR:.0%}: a hard cap, for one, does "
            "not), so no peak is predicted from them."
        )
    return fit.text()
