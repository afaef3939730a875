"""The capacity search's part of a report: its answer, its levels, a USL fit.

Read from ``PREFIX_capacity.json`` (written by ``--shape search``); the latency and
throughput against users come from the report's capacity section, which finds the
search's levels again as plateaus of the user count.
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

__all__ = ["USL_MAX_ERROR", "load_search", "search_section", "usl_text"]

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


def search_section(search: dict[str, Any]) -> list[str]:
    failing = search.get("first_failing") or {}
    verdict = (
        f"Capacity: {search['users']:,} users, {search['messages_per_s']:,.1f} messages/s "
        f"within every SLO; limited by {search['limited_by']}"
    )
    if search.get("complete") is False and search["limited_by"] == "time":
        above = search.get("fails_at")
        verdict += (
            f" (cut short before its resolution: at least {search['users']:,} users"
            + (f", under {above:,}" if above else "")
            + ")"
        )
    if failing.get("slo"):
        verdict += (
            f"; {failing['slo']} broke first ({failing['measured']}) at {failing['users']:,} users"
        )
    rows = [
        "<tr><th>#</th><th>users</th><th>messages/s</th><th>held</th><th class='left'>"
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
        f"<p class='verdict'><b>{escape(verdict)}</b></p>",
        "<table>" + "".join(rows) + "</table>",
        f"<p class='note'>Levels in the order the search held them. "
        f"{escape(usl_text(usl_of(search)))}</p>",
    ]


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
