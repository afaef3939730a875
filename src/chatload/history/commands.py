"""The ``chatload history`` commands: record, analyze, ack, report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from chatload.argtypes import positive_int, share
from chatload.errors import ConfigError
from chatload.history.changes import MIN_CHANGE, MIN_RUNS, P_VALUE, WINDOW

__all__ = ["add_history_commands"]

NEW_REGRESSION = 1
TOO_LITTLE_HISTORY = 2


def add_history_commands(commands: Any) -> None:
    history = commands.add_parser(
        "history", help="keep every run's figures and find the commit where one changed"
    )
    verbs = history.add_subparsers(dest="verb", required=True, metavar="VERB")
    record = verbs.add_parser("record", help="add one run to a history store")
    record.add_argument("results", type=Path, help="the run's --csv prefix or directory")
    _store(record)
    record.add_argument("--commit", help="the commit run (default: git rev-parse HEAD here)")
    record.add_argument("--branch", help="its branch (default: git's current branch)")
    record.add_argument("--scenario", help="the series' scenario (default: the prefix's name)")
    record.add_argument("--options", help="the run's options, kept as a hash")
    record.add_argument(
        "--yardstick", type=float, help="chatload bench-generator's yardstick on this machine"
    )
    record.set_defaults(handler=_record)

    analyze = verbs.add_parser("analyze", help="the change points of every series")
    _store(analyze)
    _analysis_options(analyze)
    analyze.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    analyze.add_argument("--junit", type=Path, help="also write a JUnit verdict here")
    analyze.add_argument(
        "--dry-run", action="store_true", help="do not mark what is shown as reported"
    )
    analyze.set_defaults(handler=_analyze)

    ack = verbs.add_parser("ack", help="acknowledge a change: it never alerts again")
    ack.add_argument("commit", help="the commit of the change point (or its first 7+ digits)")
    _store(ack)
    ack.add_argument("--series", default="*", help="scenario:figure, a pattern (default: all)")
    ack.add_argument("--reason", required=True, help="why: an environment change, a trade-off")
    ack.set_defaults(handler=_ack)

    report = verbs.add_parser("report", help="an HTML page of the history and its changes")
    _store(report)
    _analysis_options(report)
    report.add_argument("-o", "--output", type=Path, required=True, help="a directory")
    report.set_defaults(handler=_report)


def _store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        required=True,
        metavar="DIR|URL",
        help="the history store: a directory, or a PostgreSQL URL (postgresql://...)",
    )


def _analysis_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", type=Path, help="order runs by this git repository's commits")
    parser.add_argument(
        "--min-change", type=share, default=MIN_CHANGE, help="smallest change that counts (5%%)"
    )
    parser.add_argument("--p-value", type=float, default=P_VALUE, help="significance (0.001)")
    parser.add_argument("--window", type=positive_int, default=WINDOW, help="runs a window (50)")
    parser.add_argument("--since", help="runs from this time on (ISO 8601, e.g. 2026-12-01)")
    parser.add_argument("--last", type=positive_int, help="the last N runs of each series")
    parser.add_argument(
        "--metric", action="append", default=[], help="figures to analyze, a pattern (repeatable)"
    )


def _record(args: argparse.Namespace) -> int:
    from chatload.history.record import RecordOptions, record_run
    from chatload.history.stores import open_store

    options = RecordOptions(
        commit=args.commit,
        branch=args.branch,
        scenario=args.scenario,
        options=args.options,
        yardstick=args.yardstick,
    )
    print(record_run(args.results, open_store(args.store), options))
    return 0


def _analysis(args: argparse.Namespace) -> tuple[Any, Any]:
    from chatload.history.analyze import Policy, analyze, commit_order
    from chatload.history.stores import open_store

    if not 0 < args.p_value < 1:
        raise ConfigError("--p-value must be between 0 and 1")
    if args.window < 4:
        raise ConfigError("--window must hold at least 4 runs")
    store = open_store(args.store)
    runs = store.runs()
    order = None
    if args.repo is not None:
        order = commit_order(args.repo)
        if not order:
            raise ConfigError(f"--repo {args.repo} is not a git repository with commits")
    policy = Policy(
        window=args.window,
        p_value=args.p_value,
        min_change=args.min_change,
        metrics=tuple(args.metric),
        since=args.since,
        last=args.last,
    )
    analysis = analyze(runs, policy, order=order, acks=store.acks(), reported=store.reported())
    analysis.problems = store.problems
    for problem in store.problems:
        print(problem, file=sys.stderr)
    return store, analysis


def _analyze(args: argparse.Namespace) -> int:
    from chatload.history import render

    store, analysis = _analysis(args)
    needed = 2 * MIN_RUNS
    if analysis.longest < needed:
        print(
            f"Error: too little history in {store.location}: the longest series has "
            f"{analysis.longest} run(s), and a change needs at least {needed}",
            file=sys.stderr,
        )
        return TOO_LITTLE_HISTORY
    shown = {"text": render.as_text, "json": render.as_json, "markdown": render.as_markdown}
    print(shown[args.format](analysis))
    if args.junit is not None:
        args.junit.parent.mkdir(parents=True, exist_ok=True)
        args.junit.write_text(render.as_junit(analysis), encoding="utf-8")
    if not args.dry_run:
        store.report([(f.series.key, f.commit) for f in analysis.findings if f.new])
    return NEW_REGRESSION if analysis.alerts else 0


def _ack(args: argparse.Namespace) -> int:
    from chatload.history.store import Ack, now
    from chatload.history.stores import open_store

    if not args.reason.strip():
        raise ConfigError("--reason must say why the change is acknowledged")
    path = open_store(args.store).acknowledge(Ack(args.commit, args.series, args.reason, now()))
    print(f"acknowledged {args.commit} for {args.series}: {path}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from chatload.history.page import write_history_report

    _, analysis = _analysis(args)
    print(write_history_report(analysis, args.output))
    return 0
