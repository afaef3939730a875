"""The ``chatload`` command: serve, provision, the benchmarks, reports and history.

``main(argv)`` returns the exit code, so tests call it directly. Every error
chatload expects ends as one line on stderr, ``Error: what, and how to fix it``:

- 0: success;
- 1: the work ran and failed (a server whose storage failed, a missed target);
- 2: bad input or configuration (options, files, an address in use).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from chatload import __version__
from chatload.argtypes import duration, positive_float, positive_int, share
from chatload.bench.commands import add_bench_commands
from chatload.errors import ChatloadError, ConfigError
from chatload.history.commands import add_history_commands
from chatload.logs import LOG_LEVELS, configure_logging

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], int]


def _serve(args: argparse.Namespace) -> int:
    from chatload.server.app import run_server
    from chatload.server.config import ServerConfig

    configure_logging(args.log_level, json_lines=args.log_format == "json")
    config = ServerConfig.from_args(args, freeze_gc=True)
    return run_server(config, loop=args.loop)


def _provision(args: argparse.Namespace) -> int:
    from chatload.provision import ProvisionPlan, provision

    plan = ProvisionPlan(
        owners=args.owners,
        requesters=args.requesters,
        events_per_owner=args.events_per_owner,
        chats_per_requester=args.chats_per_requester,
        history=args.history,
        seed=args.seed,
        locale=args.locale,
        layout=args.layout,
    )
    summary = provision(args.db, args.users_out, plan, force=args.force)
    print(
        f"provisioned {summary.users} users, {summary.events} events, {summary.chats} chats "
        f"and {summary.messages} messages into {args.db}; users file: {args.users_out}"
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    from chatload.analysis.inputs import progress_to_stderr
    from chatload.analysis.report import write_report
    from chatload.slo import parse_thresholds

    if args.step_settle < 0 or args.step_hold <= args.step_settle:
        raise ConfigError("--step-hold must be longer than --step-settle, and neither negative")
    page = write_report(
        args.results,
        args.output,
        thresholds=parse_thresholds(args.slo),
        step_hold=args.step_hold,
        step_settle=args.step_settle,
        horizon_hours=args.soak_horizon,
        progress=None if args.quiet else progress_to_stderr,
    )
    print(page)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from chatload.analysis.compare import ComparePolicy, compare_runs, table, write_comparison
    from chatload.analysis.inputs import progress_to_stderr

    policy = ComparePolicy(
        tolerance=args.tolerance,
        min_change_ms=args.min_change_ms,
        failure_tolerance=args.failure_tolerance,
        judged=tuple(name.strip() for name in args.percentiles.split(",") if name.strip()),
    )
    comparison = compare_runs(
        args.baseline, args.candidate, policy, None if args.quiet else progress_to_stderr
    )
    print(table(comparison))
    if args.output is not None:
        print(write_comparison(comparison, args.output))
    print(comparison.verdict())
    return 1 if comparison.regressions else 0


def _traffic_fit(args: argparse.Namespace) -> int:
    import tempfile

    from chatload.analysis.fit_report import write_fit_report
    from chatload.traffic.exportfiles import read_db, read_export
    from chatload.traffic.fit import fit_model
    from chatload.traffic.loading import load_model

    if (args.messages is None) == (args.db is None):
        raise ConfigError("give the export's messages.csv or --db chat.db (one of the two)")
    base = load_model(args.base)
    if args.db is not None:
        export = read_db(args.db, time_scale=args.time_scale)
    else:
        export = read_export(
            args.messages,
            chats=args.chats,
            reads=args.reads,
            sessions=args.sessions,
            time_scale=args.time_scale,
        )
    if args.owners:
        export.people["owner"] = args.owners
    if args.requesters:
        export.people["requester"] = args.requesters
    result = fit_model(export, burst_gap_s=args.burst_gap, base=base, name=args.output.stem)
    # Nothing is written half: the model and its report appear whole, or not at all.
    report = args.report or args.output.with_name(f"{args.output.stem}-fit")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.output.parent) as scratch:
        staged = Path(scratch) / "model.json"
        result.model.write(staged)
        page = write_fit_report(
            result, Path(scratch) / "report", f"Traffic fit: {args.output.name}"
        )
        if report.exists():
            import shutil

            shutil.rmtree(report)
        page.parent.rename(report)
        staged.replace(args.output)
    for quantity in result.quantities:
        print(f"{quantity.role:<9} {quantity.name:<18} {quantity.source}")
    print(f"model: {args.output}\nfit report: {report / 'index.html'}")
    return 0


def _traffic_simulate(args: argparse.Namespace) -> int:
    from chatload.traffic.exportfiles import write_export
    from chatload.traffic.loading import load_model
    from chatload.traffic.simulate import World, simulate

    model = load_model(args.model)
    world = World.made(args.owners, args.requesters, args.chats_each, seed=args.seed)
    export = simulate(model, world, days=args.days, seed=args.seed, messages=args.messages)
    write_export(export, args.output)
    sessions = 0 if export.sessions is None else len(export.sessions)
    print(f"{len(export.chat):,} messages, {sessions:,} sessions in {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatload",
        description="Load and soak testing for the events platform's WebSocket chat.",
    )
    parser.add_argument("--version", action="version", version=f"chatload {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_serve(commands)
    _add_provision(commands)
    add_bench_commands(commands)
    _add_report(commands)
    _add_compare(commands)
    _add_traffic(commands)
    add_history_commands(commands)
    return parser


def _add_traffic(commands: Any) -> None:
    traffic = commands.add_parser("traffic", help="traffic models: fit one from an export")
    verbs = traffic.add_subparsers(dest="verb", required=True, metavar="VERB")
    fit = verbs.add_parser("fit", help="fit a traffic model from a production export")
    fit.add_argument("messages", type=Path, nargs="?", help="messages.csv (docs/traffic.md)")
    fit.add_argument("--chats", type=Path, help="chats.csv: chat_id,owner_id")
    fit.add_argument("--reads", type=Path, help="reads.csv")
    fit.add_argument("--sessions", type=Path, help="sessions.csv")
    fit.add_argument("--db", type=Path, help="the reference server's database instead")
    fit.add_argument(
        "--time-scale",
        type=positive_float,
        default=1.0,
        help="the export was played K times faster: times are multiplied by K",
    )
    fit.add_argument(
        "--burst-gap",
        type=duration,
        default=12 * 3600.0,
        help="a longer silence in a chat starts a new burst (default 12h)",
    )
    fit.add_argument("--owners", type=positive_int, help="people who own events (default: seen)")
    fit.add_argument("--requesters", type=positive_int, help="people who ask (default: seen)")
    fit.add_argument("--base", default="default", help="model for what the export lacks")
    fit.add_argument("-o", "--output", type=Path, default=Path("model.json"))
    fit.add_argument("--report", type=Path, help="the fit report's directory (MODEL-fit)")
    fit.set_defaults(handler=_traffic_fit)
    simulate = verbs.add_parser("simulate", help="a made-up export from a model (for tests)")
    simulate.add_argument("model", help="a model file, or default")
    simulate.add_argument("-o", "--output", type=Path, required=True, help="a directory")
    simulate.add_argument("--owners", type=positive_int, default=200, help="event owners")
    simulate.add_argument("--requesters", type=positive_int, default=1000, help="requesters")
    simulate.add_argument(
        "--chats-each", type=positive_int, default=4, help="chats per requester, each with an owner"
    )
    simulate.add_argument("--days", type=positive_float, default=7.0, help="days of traffic")
    simulate.add_argument(
        "--messages", type=int, default=0, help="stop after this many messages (0: the days)"
    )
    simulate.add_argument("--seed", type=int, default=0, help="the simulation's random seed")
    simulate.set_defaults(handler=_traffic_simulate)


def _add_serve(commands: Any) -> None:
    from chatload.server.config import add_serve_arguments

    serve = commands.add_parser("serve", help="run the reference chat server")
    add_serve_arguments(serve)
    serve.add_argument("--loop", default="auto", choices=("auto", "asyncio", "uvloop"))
    serve.add_argument("--log-level", default="info", choices=LOG_LEVELS)
    serve.add_argument("--log-format", default="text", choices=("text", "json"))
    serve.set_defaults(handler=_serve)


def _add_provision(commands: Any) -> None:
    prov = commands.add_parser("provision", help="create a test dataset and its users file")
    prov.add_argument("--db", type=Path, required=True)
    prov.add_argument("--users-out", type=Path, required=True, help="users.csv to write")
    prov.add_argument("--owners", type=int, default=10)
    prov.add_argument("--requesters", type=int, default=100)
    prov.add_argument("--events-per-owner", type=int, default=2)
    prov.add_argument("--chats-per-requester", type=int, default=2)
    prov.add_argument("--history", type=int, default=20, help="messages per chat")
    prov.add_argument("--seed", type=int, default=1)
    prov.add_argument("--locale", default="ru_RU", help="Faker locale of names and texts")
    prov.add_argument(
        "--layout",
        default="random",
        choices=("random", "pairs", "local"),
        help="pairs: requester i writes to event i only (independent chats); local: "
        "requesters join the events of owners of the same rank, so the users file's "
        "first identities talk together (the embedded server's layout)",
    )
    prov.add_argument("--force", action="store_true", help="replace an existing database")
    prov.set_defaults(handler=_provision)


def _add_report(commands: Any) -> None:
    report = commands.add_parser("report", help="an HTML report with plots from a run's CSVs")
    report.add_argument("results", type=Path, help="the run's --csv prefix, or its directory")
    report.add_argument("-o", "--output", type=Path, required=True, help="directory to write")
    report.add_argument(
        "--slo",
        action="append",
        default=[],
        help="thresholds to judge (default: those the run was given)",
    )
    report.add_argument(
        "--step-hold",
        type=float,
        default=20.0,
        help="seconds a user count must hold to be a load level of a capacity run",
    )
    report.add_argument(
        "--step-settle",
        type=float,
        default=10.0,
        help="seconds at the start of each level left out (users still connecting)",
    )
    report.add_argument(
        "--soak-horizon",
        type=float,
        default=24.0,
        metavar="H",
        help="hours past the run's end each drift is projected over",
    )
    report.add_argument("--quiet", action="store_true", help="no progress lines")
    report.set_defaults(handler=_report)


def _add_compare(commands: Any) -> None:
    compare = commands.add_parser(
        "compare", help="per-metric changes between two runs; exit 1 on a regression"
    )
    compare.add_argument(
        "baseline", type=Path, help="the reference run's --csv prefix or directory"
    )
    compare.add_argument("candidate", type=Path, help="the run under judgement")
    compare.add_argument(
        "--tolerance", type=share, default=0.10, help="relative worsening allowed (default 10%%)"
    )
    compare.add_argument(
        "--min-change-ms",
        type=float,
        default=1.0,
        help="a latency must also worsen by this much to count (default 1 ms)",
    )
    compare.add_argument(
        "--failure-tolerance",
        type=share,
        default=0.001,
        help="failure-ratio rise allowed, absolute (default 0.1%%)",
    )
    compare.add_argument(
        "--percentiles", default="p50,p95,p99", help="percentiles judged (others are shown)"
    )
    compare.add_argument("-o", "--output", type=Path, help="also write compare.html and plots here")
    compare.add_argument("--quiet", action="store_true", help="no progress lines")
    compare.set_defaults(handler=_compare)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except ChatloadError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
