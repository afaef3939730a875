"""The ``chatload`` command: serve, provision and the benchmarks.

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
from chatload.argtypes import positive_int, share
from chatload.bench.commands import add_bench_commands
from chatload.errors import ChatloadError, ConfigError
from chatload.logs import LOG_LEVELS, configure_logging

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], int]


def _serve(args: argparse.Namespace) -> int:
    from chatload.server.app import ServerConfig, run_server
    from chatload.server.faults import parse_faults

    configure_logging(args.log_level, json_lines=args.log_format == "json")
    config = ServerConfig(
        db=args.db,
        host=args.host,
        port=args.port,
        page_size=args.page_size,
        token_param=args.token_param,
        envelope=args.envelope,
        transport=args.transport,
        synchronous=args.synchronous,
        max_frame_bytes=args.max_frame_bytes,
        cached_chats=args.cached_chats,
        ping_interval=args.ping_interval,
        stats_interval=args.stats_interval,
        ready_file=args.ready_file,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        test_faults=tuple(parse_faults(args.test_fault).items()),
        test_fault_seed=args.test_fault_seed,
        test_capacity=args.test_capacity,
        test_fanout_lag_ms=args.test_fanout_lag_ms,
        test_delay_ms=args.test_delay_ms,
        test_delay_from_user=args.test_delay_from_user,
        freeze_gc=True,
    )
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
    return parser


def _add_serve(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the reference chat server")
    serve.add_argument("--db", type=Path, required=True, help="SQLite database made by provision")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    serve.add_argument(
        "--page-size",
        type=positive_int,
        default=50,
        help="messages per initial_data chat and per history page",
    )
    serve.add_argument("--token-param", default="token", help="query parameter holding the token")
    serve.add_argument("--envelope", default="object", choices=("object", "array"))
    serve.add_argument(
        "--transport",
        default="websocket",
        choices=("websocket", "socketio"),
        help="plain WebSocket frames, or Socket.IO v5 (Engine.IO v4) at any path",
    )
    serve.add_argument(
        "--synchronous",
        default="full",
        choices=("full", "normal"),
        help="SQLite durability: full fsyncs every commit (default)",
    )
    serve.add_argument("--max-frame-bytes", type=positive_int, default=64 * 1024)
    serve.add_argument(
        "--cached-chats",
        type=positive_int,
        default=10_000,
        help="chats whose newest page is kept in memory",
    )
    serve.add_argument("--ping-interval", type=float, default=20.0)
    serve.add_argument(
        "--stats-interval",
        type=float,
        default=10.0,
        help="seconds between stats log lines, 0 for none",
    )
    serve.add_argument(
        "--ready-file", type=Path, help="write {url, port, pid} as JSON here once listening"
    )
    serve.add_argument(
        "--test-fault",
        action="append",
        default=[],
        metavar="KIND=RATE",
        help="FOR TESTING chatload only: break a guarantee on purpose "
        "(drop, duplicate, reorder, miscount, history-skip, foreign-chat)",
    )
    serve.add_argument("--test-fault-seed", type=int, default=1)
    serve.add_argument(
        "--test-delay-ms",
        type=float,
        default=0.0,
        help="FOR TESTING chatload only: delay every frame to some users",
    )
    serve.add_argument(
        "--test-delay-from-user",
        type=int,
        default=0,
        help="the users --test-delay-ms delays: ids from this one up",
    )
    serve.add_argument(
        "--test-capacity",
        type=float,
        default=0.0,
        metavar="N",
        help="FOR TESTING chatload only: serve messages by one worker at N per second "
        "(overload that loses nothing)",
    )
    serve.add_argument(
        "--test-fanout-lag-ms",
        type=float,
        default=0.0,
        metavar="D",
        help="FOR TESTING chatload only: deliver to the other participant D ms after "
        "the writer's own answer (loses nothing)",
    )
    serve.add_argument("--tls-cert", type=Path, help="PEM certificate: serve wss://")
    serve.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
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
        choices=("random", "pairs"),
        help="pairs: requester i writes to event i only (independent chats)",
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
