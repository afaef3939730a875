"""``chatload report RESULTS -o DIR``: one HTML page with its PNGs, from a run's files.

The page opens in a browser straight from disk (images are files beside it):
- a summary table with every metric's percentiles;
- the SLO verdicts, and the capacity verdict of a step run;
- latency over time;
- delivery and unread-propagation distributions (histogram and CDF, log axis);
- throughput and users;
- failures by kind;
- breaches of the guarantees;
- generator health with the saturated intervals shaded;
- the server's CPU, RSS and open files (``--server-metrics``);
- a model run's traffic against its model (``analysis.traffic_report``);
- drift: each series' trend over the running phase and its projection;
- Locust's failures and exceptions.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

from chatload.analysis import plots
from chatload.analysis.capacity import Capacity, find_steps, judge_capacity
from chatload.analysis.html import cell, page, rows_table
from chatload.analysis.inputs import RunData, load_run
from chatload.analysis.replay import replay
from chatload.analysis.search_report import load_search, multipliers, search_section
from chatload.analysis.traffic_report import load_traffic, traffic_section
from chatload.analysis.trends import drift_plot, drift_table, server_plot
from chatload.errors import ConfigError
from chatload.records.drift_feed import DriftFeed
from chatload.records.files import iso_time
from chatload.records.trust import TrustCounter
from chatload.records.windows import Window
from chatload.slo import (
    RunFigures,
    Threshold,
    Verdict,
    evaluate,
    parse_threshold,
    parse_thresholds,
    run_figures,
)
from chatload.tracking.metrics import METRICS

__all__ = ["write_report"]


def write_report(
    results: Path,
    out: Path,
    *,
    thresholds: Sequence[Threshold] = (),
    step_hold: float = 20.0,
    step_settle: float = 10.0,
    horizon_hours: float = 24.0,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write ``out/index.html`` and its PNGs; the page's path.

    A user count held ``step_hold`` seconds is a load level; its first
    ``step_settle`` seconds are left out of the level's figures."""
    say = progress or (lambda text: None)
    started = time.monotonic()
    run = load_run(results, say)
    steps = find_steps(run.users, min_hold=step_hold, settle=step_settle)
    levels = f"{len(steps)} load level" + ("" if len(steps) == 1 else "s")
    say(f"merging the interval histograms ({levels})")
    replayed = replay(
        run,
        [(start, end) for _, start, end in steps],
        horizon_hours=horizon_hours,
        progress=say,
    )
    totals = replayed.run
    breaches = dict(Counter(breach.kind for breach in run.breaches))
    trends = replayed.drift.trends()  # judged once: the SLOs, the table and the plot use them
    figures = run_figures(totals.metrics, run.end - run.start, breaches, trends)
    searched = load_search(run.prefix) is not None
    if not thresholds and run.slo:
        try:
            thresholds = parse_thresholds(text for text, _, _, _ in run.slo)
        except ConfigError as exc:
            raise ConfigError(f"{run.prefix}_slo.csv: {exc}") from None
        if searched:  # judged at the answer's level, not over the levels that failed
            thresholds = []
    verdicts = evaluate(thresholds, figures) if thresholds else _recorded(run)
    capacity = judge_capacity(run, replayed.steps, steps, list(thresholds))
    out.mkdir(parents=True, exist_ok=True)
    say("drawing the plots")
    images = _images(run, totals, capacity, out, searched=searched)
    named = [t.statistic for t in thresholds if t.drift and t.target == "server"]
    sections = [*_run_sections(run.prefix, out), *_drift_section(replayed.drift, named, out)]
    index = out / "index.html"
    page = _page(
        run,
        figures,
        totals,
        replayed.trust,
        verdicts=verdicts,
        capacity=None if searched else capacity,  # one verdict: the search's
        images=images,
        drift=sections,
    )
    index.write_text(page, encoding="utf-8")
    say(f"done in {time.monotonic() - started:.1f} s")
    return index


def _recorded(run: RunData) -> list[Verdict]:
    """The verdicts the run wrote (a capacity search's: at its answer's level)."""
    verdicts = []
    for text, value, passed, word in run.slo:
        judged = word != "NOT JUDGED"
        figure = float(value) if value else None
        detail = "" if judged else "undecided: too few samples at the answer's level"
        threshold = parse_threshold(text)
        verdicts.append(Verdict(threshold, figure, passed or not judged, judged, detail))
    return verdicts


def _run_sections(prefix: Path, out: Path) -> list[str]:
    """The sections of what kind of run it was: a capacity search, a traffic model."""
    search, traffic = load_search(prefix), load_traffic(prefix)
    return [
        *(search_section(search) if search is not None else []),
        *(traffic_section(traffic, prefix, out) if traffic is not None else []),
    ]


def _drift_section(drift: DriftFeed, server_series: list[str], out: Path) -> list[str]:
    trends = drift.trends()
    image = drift_plot(drift.series, out / "drift.png", trends, server_series)
    return [
        "<h2>Drift</h2>",
        drift_table(drift.series, drift.horizon_hours, trends),
        *([f'<img src="{image.name}" alt="drift">'] if image is not None else []),
    ]


def _images(
    run: RunData, totals: Window, capacity: Capacity | None, out: Path, *, searched: bool = False
) -> list[tuple[str, Path, str]]:
    """The report's pictures: (title, PNG, caption) each."""
    images = [
        (
            "Latency over time",
            plots.latency_plot(run, out / "latency.png"),
            "p50, p95 and p99 of each metric per interval (log scale). On a long run each "
            "point stands for several intervals: their mean p50 and their highest p95 and p99.",
        ),
        (
            "Delivery and unread propagation",
            plots.distribution_plot(
                {name: metric.histogram for name, metric in totals.metrics.items()},
                ("delivery", "unread_propagation"),
                out / "distributions.png",
            ),
            "Whole-run distributions at microsecond resolution; the dashed lines are p50 and p99.",
        ),
        ("Throughput and users", plots.throughput_plot(run, out / "throughput.png"), ""),
        ("Failures by kind", plots.failures_plot(run, out / "failures.png"), ""),
        ("Breaches of the guarantees", plots.invariants_plot(run, out / "invariants.png"), ""),
        (
            "Generator health",
            plots.health_plot(run, out / "health.png"),
            "CPU and event-loop lag per generator process.",
        ),
    ]
    if capacity is not None:
        caption = (
            "Latency and throughput at each level the search held, in the order of the users "
            "(its verdict: the capacity search's, above)."
            if searched
            else capacity.text
        )
        against = multipliers(load_search(run.prefix)) if searched else {}
        if against:
            caption = caption.replace("in the order of the users", "against the multiplier")
        image = plots.capacity_plot(capacity, out / "capacity.png", against)
        images.append(("Capacity", image, caption))
    server = server_plot(run, out / "server.png")
    if server is not None:
        images.append(
            (
                "The server's resources",
                server,
                "CPU, resident memory and open files of the server under test, scraped "
                "with --server-metrics (the embedded server's without asking).",
            )
        )
    return images


def _summary_table(figures: RunFigures, totals: Window) -> str:
    head = (
        "metric",
        "count",
        "failures",
        "failure %",
        "late",
        "never answered",
        "min",
        "p50",
        "p90",
        "p95",
        "p99",
        "p99.9",
        "max",
    )
    rows = [
        "<tr>"
        + "".join(f'<th class="{"left" if i == 0 else ""}">{h}</th>' for i, h in enumerate(head))
        + "</tr>"
    ]
    for metric in (*METRICS, *sorted(set(figures.metrics) - set(METRICS))):
        data = figures.metrics.get(metric)
        if data is None:
            continue
        p = data.percentiles
        share = data.failures / data.count if data.count else 0.0
        merged = totals.metrics[metric]
        rows.append(
            "<tr>"
            + cell(metric, "left")
            + cell(f"{data.count:,}")
            + cell(f"{data.failures:,}")
            + cell(f"{share:.2%}")
            + cell(f"{merged.late:,}")
            + cell(f"{merged.unanswered:,}")
            + "".join(
                cell(f"{v:.3f}")
                for v in (p.min_ms, p.p50_ms, p.p90_ms, p.p95_ms, p.p99_ms, p.p999_ms, p.max_ms)
            )
            + "</tr>"
        )
    return (
        "<table>"
        + "".join(rows)
        + "</table><p class='note'>Latencies in milliseconds. A late answer (after its "
        "timeout, a failure) counts at its true latency; one never answered counts as "
        "slower than every answer (inf).</p>"
    )


def _verdict_table(verdicts: list[Verdict]) -> str:
    if not verdicts:
        return "<p class='note'>No SLO thresholds: pass --slo to the run or to the report.</p>"
    rows = ["<tr><th class='left'>threshold</th><th>measured</th><th>verdict</th></tr>"]
    for verdict in verdicts:
        css = "" if not verdict.judged else "pass" if verdict.passed else "fail"
        rows.append(
            "<tr>"
            + cell(verdict.threshold.text, "left")
            + cell(verdict.measured())
            + cell(verdict.word, css)
            + "</tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def _capacity_table(capacity: Capacity) -> str:
    metric = capacity.key_metric
    rows = [
        f"<tr><th>users</th><th>messages/s</th><th>{metric} p50</th><th>{metric} p99</th>"
        "<th>every SLO</th></tr>"
    ]
    for step in capacity.steps:
        data = step.figures.metrics.get(metric)
        p50 = f"{data.percentiles.p50_ms:.3f}" if data else "-"
        p99 = f"{data.percentiles.p99_ms:.3f}" if data else "-"
        css = "pass" if step.passed else "fail" if step.measured else ""
        verdict = "holds" if step.passed else "breached" if step.measured else "not measured"
        rows.append(
            "<tr>"
            + cell(step.users)
            + cell(f"{step.throughput:,.0f}")
            + cell(p50)
            + cell(p99)
            + cell(verdict, css)
            + "</tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def _verdict_line(run: RunData, verdicts: list[Verdict], trust: TrustCounter) -> str:
    """The page's verdict: SLOs, breaches, saturation and the trust line."""
    saturated = trust.saturated_by_phase["running"]
    spawning = trust.saturated_by_phase["spawning"]
    line = (
        "every SLO holds"
        if verdicts and all(v.passed for v in verdicts)
        else f"{sum(1 for v in verdicts if not v.passed)} SLO(s) breached"
        if verdicts
        else "no SLOs given"
    )
    unjudged = [v for v in verdicts if not v.judged]
    if unjudged:  # each says why: a run too short, or a search's edge undecided
        why = "; ".join(
            dict.fromkeys(v.detail or "the run was too short to tell" for v in unjudged)
        )
        line += f" ({len(unjudged)} not judged: {why})"
    return (
        f"<p class='verdict'><b>{escape(line)}</b>; {len(run.breaches)} breach(es) of the "
        f"guarantees; generator saturated in {saturated} interval(s) under load"
        + (" (latencies measured then are the generator's, not the server's)" if saturated else "")
        + (
            f", and in {spawning} while users were spawning (start-up work, marked in the "
            "generator health)"
            if spawning
            else ""
        )
        + f".<br>{escape(trust.trust.line())}</p>"
    )


def _page(
    run: RunData,
    figures: RunFigures,
    totals: Window,
    trust: TrustCounter,
    *,
    verdicts: list[Verdict],
    capacity: Capacity | None,
    images: list[tuple[str, Path, str]],
    drift: list[str],
) -> str:
    peak_users = max((users for _, users in run.users), default=0)
    breach_rows = [
        {
            "time": iso_time(b.time),
            "kind": b.kind,
            "chat": b.chat_id,
            "messages": b.message_ids,
            "users": b.users,
            "detail": b.detail,
        }
        for b in run.breaches
    ]
    sections = [
        f"<h1>chatload report: {escape(run.name)}</h1>",
        f"<p class='note'>{iso_time(run.start)} to {iso_time(run.end)} "
        f"({(run.end - run.start) / 60:.1f} min), up to {peak_users} users; "
        f"report made {iso_time(time.time())}.</p>",
        _verdict_line(run, verdicts, trust),
        "<h2>Summary</h2>",
        _summary_table(figures, totals),
        "<h2>SLO verdicts</h2>",
        _verdict_table(verdicts),
    ]
    if capacity is not None:
        sections += [
            "<h2>Capacity verdict</h2>",
            f"<p class='verdict'>{escape(capacity.text)}</p>",
            _capacity_table(capacity),
        ]
    for title, image, caption in images:
        sections.append(f"<h2>{escape(title)}</h2>")
        if caption and (title != "Capacity" or capacity is None):
            sections.append(f"<p class='note'>{escape(caption)}</p>")
        sections.append(f'<img src="{image.name}" alt="{escape(title)}">')
    sections += drift
    sections += [
        "<h2>Breaches</h2>",
        rows_table(
            breach_rows,
            ("time", "kind", "chat", "messages", "users", "detail"),
            "No breaches: every guarantee held.",
        ),
        "<h2>Locust failures</h2>",
        rows_table(run.locust_failures, ("Method", "Name", "Error", "Occurrences"), "No failures."),
        "<h2>Locust exceptions</h2>",
        rows_table(run.locust_exceptions, ("Count", "Message"), "No exceptions."),
    ]
    return page(f"chatload report: {run.name}", "\n".join(sections))
