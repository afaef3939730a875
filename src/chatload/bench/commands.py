"""The ``chatload bench-*`` commands: their options and how they start."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from chatload.argtypes import positive_int, user_counts

__all__ = ["add_bench_commands"]


def add_bench_commands(commands: Any) -> None:
    _add_bench_server(commands)
    _add_bench_generator(commands)
    _add_bench_scale(commands)
    _add_bench_accuracy(commands)
    _add_bench_report(commands)
    _add_bench_history(commands)


def _bench_server(args: argparse.Namespace) -> int:
    from chatload.bench.server_bench import BenchOptions, run_server_benchmark

    options = BenchOptions(
        pairs=args.pairs,
        duration=args.duration,
        warmup=args.warmup,
        window=args.window,
        server_cpu=args.server_cpu,
        client_cpu=args.client_cpu,
        synchronous=args.synchronous,
        workdir=args.workdir,
        target=args.target,
    )
    return run_server_benchmark(options)


def _bench_generator(args: argparse.Namespace) -> int:
    from chatload.bench.generator_bench import GeneratorBenchOptions, run_generator_benchmark

    return run_generator_benchmark(
        GeneratorBenchOptions(
            pairs=args.pairs,
            window=args.window,
            duration=args.duration,
            memory_users=args.memory_users,
            echo_connections=args.echo_connections,
            server_cpu=args.server_cpu,
            client_cpu=args.client_cpu,
            workdir=args.workdir,
            socketio=args.socketio,
        )
    )


def _bench_scale(args: argparse.Namespace) -> int:
    from chatload.bench.scale_bench import ScaleBenchOptions, run_scale_benchmark

    return run_scale_benchmark(
        ScaleBenchOptions(
            users=tuple(args.users),
            spawn_rate=args.spawn_rate,
            steady=args.steady,
            think_min=args.think_min,
            think_max=args.think_max,
            history=args.history,
            server_cpu=args.server_cpu,
            client_cpu=args.client_cpu,
            workdir=args.workdir,
            generator=not args.no_generator,
        )
    )


def _bench_accuracy(args: argparse.Namespace) -> int:
    from chatload.bench.accuracy import run_accuracy_benchmark

    return run_accuracy_benchmark(args.delay_ms, args.pairs, args.duration)


def _bench_report(args: argparse.Namespace) -> int:
    from chatload.bench.report_bench import ReportBenchOptions, run_report_benchmark

    return run_report_benchmark(
        ReportBenchOptions(
            samples=args.samples,
            hours=args.hours,
            interval=args.interval,
            max_seconds=args.max_seconds,
            max_mib=args.max_mib,
            workdir=args.workdir,
        )
    )


def _add_bench_server(commands: Any) -> None:
    bench = commands.add_parser(
        "bench-server", help="measure the reference server's durable messages/s"
    )
    bench.add_argument(
        "--pairs",
        type=positive_int,
        default=200,
        help="chats, each with both participants connected and sending",
    )
    bench.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    bench.add_argument("--warmup", type=float, default=2.0)
    bench.add_argument(
        "--window", type=positive_int, default=1, help="messages each sender keeps unacknowledged"
    )
    bench.add_argument("--server-cpu", type=int, default=0, help="core the server is pinned to")
    bench.add_argument("--client-cpu", type=int, default=1, help="core the client is pinned to")
    bench.add_argument("--synchronous", default="full", choices=("full", "normal"))
    bench.add_argument("--workdir", type=Path, help="keep the dataset here (default: temporary)")
    bench.add_argument(
        "--target", type=float, default=15_000.0, help="messages/s to reach; exit 1 below it"
    )
    bench.set_defaults(handler=_bench_server)


def _add_bench_generator(commands: Any) -> None:
    generator = commands.add_parser(
        "bench-generator",
        help="measure chat messages/s per generator core and RSS per connected user",
    )
    generator.add_argument("--pairs", type=positive_int, default=200)
    generator.add_argument(
        "--window", type=positive_int, default=8, help="unacknowledged messages per user"
    )
    generator.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    generator.add_argument(
        "--memory-users",
        type=int,
        default=5000,
        help="connected users for the RSS figure (0: skip)",
    )
    generator.add_argument("--echo-connections", type=positive_int, default=100)
    generator.add_argument("--server-cpu", type=int, default=0)
    generator.add_argument("--client-cpu", type=int, default=1)
    generator.add_argument("--workdir", type=Path)
    generator.add_argument(
        "--socketio",
        action="store_true",
        help="also measure chat messages/s over Socket.IO, beside the plain transport",
    )
    generator.set_defaults(handler=_bench_generator)


def _add_bench_scale(commands: Any) -> None:
    scale = commands.add_parser(
        "bench-scale",
        help="many mostly idle users in one generator process: connect, memory, loop lag",
    )
    scale.add_argument(
        "--users",
        type=user_counts,
        default=[],
        help="user counts to measure (default: 5000, 10000 and the most the open-file "
        "limit allows)",
    )
    scale.add_argument("--spawn-rate", type=float, default=1000.0, help="users started per second")
    scale.add_argument("--steady", type=float, default=60.0, help="measured seconds once connected")
    scale.add_argument("--think-min", type=float, default=20.0, help="seconds between actions")
    scale.add_argument("--think-max", type=float, default=40.0)
    scale.add_argument("--history", type=int, default=20, help="messages per provisioned chat")
    scale.add_argument("--server-cpu", type=int, default=0)
    scale.add_argument("--client-cpu", type=int, default=1)
    scale.add_argument("--workdir", type=Path, help="keep the datasets and exports here")
    scale.add_argument(
        "--no-generator", action="store_true", help="skip the bench-generator comparison"
    )
    scale.set_defaults(handler=_bench_scale)


def _add_bench_accuracy(commands: Any) -> None:
    accuracy = commands.add_parser(
        "bench-accuracy", help="check that a known server delay is measured to within 2 %%"
    )
    accuracy.add_argument("--delay-ms", type=float, default=100.0)
    accuracy.add_argument("--pairs", type=positive_int, default=15)
    accuracy.add_argument("--duration", type=float, default=30.0)
    accuracy.set_defaults(handler=_bench_accuracy)


def _add_bench_report(commands: Any) -> None:
    bench = commands.add_parser(
        "bench-report", help="time and weigh the report of a long soak's files"
    )
    bench.add_argument("--samples", type=positive_int, default=10_000_000)
    bench.add_argument("--hours", type=float, default=24.0, help="the soak's length")
    bench.add_argument(
        "--interval", type=float, default=1.0, help="reporting interval (--chat-interval), s"
    )
    bench.add_argument("--max-seconds", type=float, default=60.0)
    bench.add_argument("--max-mib", type=float, default=1024.0)
    bench.add_argument("--workdir", type=Path, help="keep the files and the report here")
    bench.set_defaults(handler=_bench_report)


def _bench_history(args: argparse.Namespace) -> int:
    from chatload.bench.history_bench import HistoryBenchOptions, run_history_benchmark

    return run_history_benchmark(
        HistoryBenchOptions(args.runs, args.series, args.max_seconds, args.workdir)
    )


def _add_bench_history(commands: Any) -> None:
    bench = commands.add_parser("bench-history", help="time chatload history analyze")
    bench.add_argument("--runs", type=positive_int, default=10_000)
    bench.add_argument("--series", type=positive_int, default=50)
    bench.add_argument("--max-seconds", type=float, default=10.0)
    bench.add_argument("--workdir", type=Path, help="keep the store here")
    bench.set_defaults(handler=_bench_history)
