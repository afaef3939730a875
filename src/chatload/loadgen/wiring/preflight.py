"""Before any user starts: the target answers as the protocol says, and this
machine (and each worker's) can hold the run's share of connections. Each
problem is one :class:`~chatload.errors.ConfigError` line saying the fix."""

from __future__ import annotations

import math

from locust.env import Environment
from locust.runners import LocalRunner, MasterRunner

from chatload.errors import (
    AwaitTimeout,
    ChatloadError,
    ConfigError,
    HandshakeRejected,
    ProtocolViolation,
)
from chatload.limits import (
    Capacity,
    ephemeral_ports,
    open_file_limits,
    server_capacity_problem,
)
from chatload.loadgen.connection.transport import WebSocketTransport, dialer_for, refused_token
from chatload.loadgen.engine import options as chat_options
from chatload.loadgen.messages import CAPACITY, send
from chatload.protocol.socketio import looks_like_engineio_open
from chatload.users_file import Identity

__all__ = [
    "check_capacity",
    "check_worker_capacity",
    "local_capacity",
    "preflight",
    "report_capacity",
]


def local_capacity(options: chat_options.ChatOptions) -> Capacity:
    """What this process can hold, its soft file limit raised to the hard one."""
    soft, hard = open_file_limits()
    return Capacity(soft, hard, ephemeral_ports(), len(options.source_addresses))


def preflight(host: str, identities: list[Identity], options: chat_options.ChatOptions) -> None:
    """Connect once as the first identity; a :class:`ConfigError` says what is wrong,
    and which transport the server looks like when it is not the one chosen."""
    identity = identities[0]
    transport = WebSocketTransport(host, options.transport_settings)
    socketio = options.transport == "socketio"
    try:
        transport.open(identity.token)
    except HandshakeRejected as exc:
        if exc.status in (401, 403) and socketio and "socket.io" in str(exc):
            raise ConfigError(
                f"{exc} (user {identity.user_id}): check --auth-mode (auth puts the token in "
                "the connect packet) and the users file"
            ) from None
        if exc.status in (401, 403):
            raise ConfigError(refused_token(host, identity.user_id, exc.status)) from None
        hint = (
            "is --socketio-path right, and is it a Socket.IO server (else --transport websocket)?"
            if socketio
            else "is --host the chat's WebSocket endpoint? A Socket.IO server answers at "
            "/socket.io/: try --transport socketio"
        )
        raise ConfigError(
            f"the server at {transport.url} answered the WebSocket upgrade with HTTP "
            f"{exc.status}: {hint}"
        ) from None
    except AwaitTimeout as exc:
        raise ConfigError(
            f"the server at {host}: {exc}: it does not speak Socket.IO (--transport websocket?)"
        ) from None
    except ProtocolViolation as exc:
        raise ConfigError(f"the server at {host}: {exc}") from None
    except ChatloadError as exc:
        raise ConfigError(
            f"{exc}: start the server or fix --host (leave --host out to run against the "
            "embedded reference server)"
        ) from None
    try:
        _first_frame_is_initial_data(host, transport, options)
    finally:
        transport.close()


def _first_frame_is_initial_data(
    host: str, transport: WebSocketTransport, options: chat_options.ChatOptions
) -> None:
    try:
        frames, _ = transport.receive(options.initial_data_timeout)
    except AwaitTimeout:
        hint = (
            "a Socket.IO server waits for the client's connect packet: try --transport socketio"
            if options.transport == "websocket"
            else "is --namespace the chat's?"
        )
        raise ConfigError(
            f"the server at {host} sent nothing within {options.initial_data_timeout} s after the "
            f"handshake, where initial_data was expected: {hint}"
        ) from None
    except ChatloadError as exc:
        raise ConfigError(f"the server at {host} sent no valid initial_data: {exc}") from None
    first = frames[0]
    if options.transport == "websocket" and looks_like_engineio_open(first):
        raise ConfigError(
            f"the server at {host} speaks Socket.IO (it sent an Engine.IO open packet): use "
            "--transport socketio, with --host at the server's root"
        )
    try:
        event, _ = options.codec().decode(first)
    except ProtocolViolation as exc:
        raise ConfigError(
            f"the server at {host} sent no valid initial_data ({exc}): check --envelope"
        ) from None
    if event != "initial_data":
        raise ConfigError(
            f"the server at {host} sent {event!r} first, not initial_data: is --host the "
            "chat's endpoint and --envelope right?"
        )


def check_capacity(
    environment: Environment, options: chat_options.ChatOptions, users: int | None
) -> None:
    """Before any user starts: the run's users fit this process's open files and
    local ports (local runs), and the embedded server's open files."""
    dialer_for(environment.host or "ws://127.0.0.1/", options.transport_settings).check_sources()
    if not users:
        return
    if not environment.host:
        problem = server_capacity_problem(users, open_file_limits()[1])
        if problem:
            raise ConfigError(problem)
    if isinstance(environment.runner, LocalRunner):
        target = environment.host or "the embedded server"
        problem = local_capacity(options).problem(users, target)
        if problem:
            raise ConfigError(problem)


def report_capacity(environment: Environment) -> None:
    """A worker tells the master what it can hold (its own machine's limits)."""
    options = chat_options.ChatOptions.from_parsed(environment.parsed_options)
    capacity = local_capacity(options)
    runner = environment.runner
    assert runner is not None, "a worker reports its capacity once Locust made its runner"
    send(runner, CAPACITY, capacity)


def check_worker_capacity(environment: Environment, capacities: dict[str, Capacity]) -> None:
    """On the master, as a run starts: each worker's share fits its limits."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return
    users, workers = runner.target_user_count, runner.worker_count
    if not users or not workers or environment.host is None:
        return
    known = [capacities[node] for node in runner.clients if node in capacities]
    if not known:
        return
    share = math.ceil(users / workers)
    smallest = min(known, key=lambda capacity: capacity.connections)
    problem = smallest.problem(share, environment.host, where="each worker")
    if problem:
        raise ConfigError(problem)
