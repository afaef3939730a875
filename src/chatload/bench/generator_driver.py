"""The generator side of ``chatload bench-generator``, run as its own process.

    python -m chatload.bench.generator_driver throughput HOST USERS_CSV USERS SECONDS WINDOW
    python -m chatload.bench.generator_driver memory HOST USERS_CSV USERS
    python -m chatload.bench.generator_driver floor USERS

Both build a real Locust Environment with chatload's users and print one JSON
line. ``throughput``: every user writes to its one chat (``--layout pairs``) as
fast as its window of unacknowledged messages allows, with every metric on;
counts and CPU are taken over a window after a warm-up. ``memory``: the real
personas connect and idle; the RSS added per connected user is reported.
Locust patches the standard library when this module runs, which is why it is a
process of its own.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from typing import Any, ClassVar

from chatload.bench.common import own_cpu_seconds, rss_bytes


def environment_for(host: str, users_csv: str, users: int, extra: list[str]) -> tuple[Any, Any]:
    from locust import events
    from locust.argument_parser import get_empty_argument_parser, setup_parser_arguments
    from locust.env import Environment

    from chatload.loadgen import install
    from chatload.loadgen.people.personas import OwnerUser, RequesterUser

    install(events)
    parser = get_empty_argument_parser(add_help=False, default_config_files=[])
    setup_parser_arguments(parser)
    events.init_command_line_parser.fire(parser=parser)
    options = parser.parse_args(
        ["--headless", "-u", str(users), "--host", host, "--users-file", users_csv, *extra]
    )
    classes: list[Any] = _pair_senders() if options.think_max == 0 else [OwnerUser, RequesterUser]
    environment = Environment(
        user_classes=classes, events=events, parsed_options=options, host=host
    )
    runner = environment.create_local_runner()
    events.init.fire(environment=environment, runner=runner, web_ui=None)
    return environment, runner


def _pair_senders() -> list[type]:
    from chatload.loadgen.people.user import ChatUser, chat_task
    from chatload.users_file import Role

    class PairOwner(ChatUser):
        role: ClassVar[Role] = "owner"

        @chat_task()
        def write_to_the_pair(self) -> None:
            for view in self.chats:
                self.write(view)

    class PairRequester(PairOwner):
        role = "requester"

    return [PairOwner, PairRequester]


def _connected(runner: Any) -> int:
    from chatload.errors import ConfigError
    from chatload.loadgen.people.user import runtime_for

    try:
        return len(runtime_for(runner.environment).clients)
    except ConfigError:
        return 0  # test_start has not run yet: Locust fires it from a greenlet


def _wait_connected(runner: Any, users: int, limit: float) -> float:
    import gevent

    started = time.monotonic()
    while _connected(runner) < users:
        if time.monotonic() - started > limit:
            raise RuntimeError(f"only {_connected(runner)} of {users} users connected")
        gevent.sleep(0.2)
    return time.monotonic() - started


def _counts(runner: Any) -> dict[str, tuple[int, int]]:
    return {name: (e.num_requests, e.num_failures) for (name, _), e in runner.stats.entries.items()}


def throughput(
    host: str, users_csv: str, users: int, seconds: float, window: int, *, transport: str
) -> dict[str, Any]:
    import gevent

    from chatload.loadgen.people.user import runtime_for

    _, runner = environment_for(
        host,
        users_csv,
        users,
        [
            "--think-min",
            "0",
            "--think-max",
            "0",
            "--max-in-flight",
            str(window),
            "--churn-share",
            "0",
            "--owner-weight",
            "1",
            "--requester-weight",
            "1",
            "--transport",
            transport,
        ],
    )
    runner.start(users, spawn_rate=users)
    _wait_connected(runner, users, 120)
    gevent.sleep(2.0)  # warm-up
    runtime = runtime_for(runner.environment)
    before, frames_before = _counts(runner), runtime.frames_received
    cpu_before, started = own_cpu_seconds(), time.perf_counter()
    gevent.sleep(seconds)
    elapsed = time.perf_counter() - started
    cpu = (own_cpu_seconds() - cpu_before) / elapsed
    after, frames = _counts(runner), runtime.frames_received - frames_before
    runner.quit()
    rates = {name: (after[name][0] - before.get(name, (0, 0))[0]) / elapsed for name in after}
    failures = sum(count[1] for count in after.values())
    return {
        "rates": rates,
        "frames_per_s": frames / elapsed,
        "cpu": cpu,
        "failures": failures,
        "seconds": elapsed,
    }


def memory(host: str, users_csv: str, users: int) -> dict[str, Any]:
    import gevent
    from locust import events

    baseline: list[int] = []

    def measure_baseline(**_: Any) -> None:
        gc.collect()
        baseline.append(rss_bytes())

    _, runner = environment_for(
        host,
        users_csv,
        users,
        [
            "--think-min",
            "3600",
            "--think-max",
            "3600",
            "--churn-share",
            "0",
            "--owner-weight",
            "1",
            "--requester-weight",
            "4",
        ],
    )
    events.test_start.add_listener(measure_baseline)  # after chatload's own listener
    runner.start(users, spawn_rate=500)
    took = _wait_connected(runner, users, 300)
    gevent.sleep(3.0)  # every user's first action done
    gc.collect()
    rss = rss_bytes()
    runner.quit()
    return {
        "users": users,
        "baseline_bytes": baseline[0],
        "rss_bytes": rss,
        "per_user_bytes": (rss - baseline[0]) / users,
        "connect_seconds": took,
    }


def floor(users: int) -> dict[str, Any]:
    """What Locust and gevent cost before chatload adds anything: an idle Locust
    user, and a greenlet blocked reading a connected socket (as a receive greenlet is)."""
    import socket

    import gevent
    from locust import User, constant, events, task
    from locust.env import Environment

    class Idle(User):
        wait_time = constant(3600)

        @task
        def nothing(self) -> None:
            pass

    runner = Environment(user_classes=[Idle], events=events).create_local_runner()
    gc.collect()
    before = rss_bytes()
    runner.start(users, spawn_rate=users)
    gevent.sleep(2.0)
    gc.collect()
    idle_user = (rss_bytes() - before) / users
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    accepted: list[Any] = []

    def accept() -> None:
        while len(accepted) < users:
            accepted.append(listener.accept()[0])

    acceptor = gevent.spawn(accept)
    clients = [socket.create_connection(listener.getsockname()) for _ in range(users)]
    acceptor.join(30)
    gc.collect()
    before = rss_bytes()
    readers = [gevent.spawn(client.recv, 65536) for client in clients]
    gevent.sleep(1.0)
    gc.collect()
    blocked_greenlet = (rss_bytes() - before) / users
    gevent.killall(readers, block=False)
    return {
        "users": users,
        "idle_locust_user_bytes": idle_user,
        "blocked_receive_greenlet_bytes": blocked_greenlet,
    }


def main(argv: list[str]) -> int:
    from locust import events  # noqa: F401  - Locust patches the standard library first

    mode = argv[0]
    if mode == "throughput":
        host, users_csv, users, seconds, window, transport = argv[1:7]
        result = throughput(
            host, users_csv, int(users), float(seconds), int(window), transport=transport
        )
    elif mode == "memory":
        result = memory(argv[1], argv[2], int(argv[3]))
    elif mode == "floor":
        result = floor(int(argv[1]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(json.dumps(result), flush=True)
    os._exit(0)  # skip interpreter teardown of thousands of sockets: the numbers are out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
