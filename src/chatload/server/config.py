"""The reference server's options, defined once.

Each option is a field of :class:`ServerConfig`: its type and default, and, for
those ``chatload serve`` takes, its help and choices in the field's metadata.
From that one table come the ``serve`` command's arguments
(:func:`add_serve_arguments`) and the config a parsed command line gives
(:meth:`ServerConfig.from_args`).
"""

from __future__ import annotations

import argparse
import dataclasses
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatload.argtypes import positive_int
from chatload.errors import ConfigError
from chatload.protocol.codec import EnvelopeCodec, codec_by_name
from chatload.protocol.socketio import SocketIOCodec
from chatload.server.faults import FAULT_KINDS, parse_faults

__all__ = ["ServerConfig", "add_serve_arguments"]

_TESTING = "FOR TESTING chatload only: "


def _option(
    default: Any,
    help: str | None = None,
    *,
    type: Any = None,
    choices: tuple[str, ...] | None = None,
    metavar: str | None = None,
) -> Any:
    """A field ``chatload serve`` takes as ``--its-name``."""
    meta = {"cli": True, "help": help, "type": type, "choices": choices, "metavar": metavar}
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    db: Path = dataclasses.field(
        metadata={"cli": True, "help": "SQLite database made by provision", "type": Path}
    )
    host: str = _option("127.0.0.1")
    port: int = _option(8765, "0 picks a free port", type=int)
    page_size: int = _option(
        50, "messages per initial_data chat and per history page", type=positive_int
    )
    token_param: str = _option("token", "query parameter holding the token")
    envelope: str = _option("object", choices=("object", "array"))
    transport: str = _option(
        "websocket",
        "plain WebSocket frames, or Socket.IO v5 (Engine.IO v4) at any path",
        choices=("websocket", "socketio"),
    )
    synchronous: str = _option(
        "full", "SQLite durability: full fsyncs every commit (default)", choices=("full", "normal")
    )
    # Frames above max_frame_bytes are answered with debug_info "too_large" and the
    # connection stays open; above max_message_bytes websockets closes with 1009.
    max_frame_bytes: int = _option(64 * 1024, type=positive_int)
    max_message_bytes: int = 1024 * 1024
    max_send_buffer: int = 8 * 1024 * 1024
    max_inflight: int = 512
    cached_chats: int = _option(
        10_000, "chats whose newest page is kept in memory", type=positive_int
    )
    open_timeout: float = 10.0
    close_timeout: float = 5.0
    ping_interval: float = _option(20.0, type=float)
    ping_timeout: float = 20.0
    drain_timeout: float = 10.0
    stats_interval: float = _option(10.0, "seconds between stats log lines, 0 for none", type=float)
    ready_file: Path | None = _option(
        None, "write {url, port, pid} as JSON here once listening", type=Path
    )
    tls_cert: Path | None = _option(None, "PEM certificate: serve wss://", type=Path)
    tls_key: Path | None = _option(None, "PEM private key of --tls-cert", type=Path)
    # For testing the load tool only (chatload.server.faults): off by default.
    test_faults: tuple[tuple[str, float], ...] = _option(
        (),
        _TESTING + f"break a guarantee on purpose ({', '.join(FAULT_KINDS)}); repeatable",
        metavar="KIND=RATE",
    )
    test_fault_seed: int = _option(1, type=int)
    test_delay_ms: float = _option(0.0, _TESTING + "delay every frame to some users", type=float)
    test_delay_from_user: int = _option(
        0, "the users --test-delay-ms delays: ids from this one up", type=int
    )
    test_delay_late_log: str = _option(
        "",
        "write the wall time and lateness (ms) of each frame the delay line let go 1 ms "
        "or more after it was due: a stall of the server (chatload bench-accuracy shows it)",
        metavar="PATH",
    )
    # Overload that loses nothing (chatload.server.overload): off by default.
    test_capacity: float = _option(
        0.0,
        _TESTING + "serve messages by one worker at N per second (overload that loses nothing)",
        type=float,
        metavar="N",
    )
    test_fanout_lag_ms: float = _option(
        0.0,
        _TESTING + "deliver to the other participant D ms after the writer's own answer "
        "(loses nothing)",
        type=float,
        metavar="D",
    )
    # Degradation that loses nothing, for drift verdicts (chatload.server.overload).
    test_creep_ms_per_min: float = _option(
        0.0,
        _TESTING + "every frame later by X ms more each minute since start (a creeping latency)",
        type=float,
        metavar="X",
    )
    test_leak_kib_per_s: float = _option(
        0.0,
        _TESTING + "keep K KiB more memory resident each second (a leak)",
        type=float,
        metavar="K",
    )
    # Keep Python's cyclic garbage collector off the world and the connections
    # (loadgen.engine.gc_policy explains why): on for `chatload serve`, off for a
    # server embedded in another program's process, whose objects it would freeze.
    freeze_gc: bool = False

    def __post_init__(self) -> None:
        if self.page_size < 1:
            raise ConfigError(f"--page-size must be at least 1, got {self.page_size}")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port must be within 0..65535, got {self.port}")
        if self.max_frame_bytes > self.max_message_bytes:
            raise ConfigError("--max-frame-bytes cannot exceed the hard message size limit")
        codec_by_name(self.envelope)
        if self.transport not in ("websocket", "socketio"):
            raise ConfigError(f"--transport must be websocket or socketio, got {self.transport!r}")
        if (
            min(
                self.test_capacity,
                self.test_fanout_lag_ms,
                self.test_creep_ms_per_min,
                self.test_leak_kib_per_s,
            )
            < 0
        ):
            raise ConfigError(
                "--test-capacity, --test-fanout-lag-ms, --test-creep-ms-per-min and "
                "--test-leak-kib-per-s cannot be negative"
            )
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("--tls-cert and --tls-key go together: give both or neither")

    @classmethod
    def from_args(cls, args: argparse.Namespace, **overrides: Any) -> ServerConfig:
        """The config of a parsed ``chatload serve`` command line."""
        given = {name: getattr(args, name) for name in _cli_fields()}
        given["test_faults"] = tuple(parse_faults(args.test_faults).items())
        return cls(**{**given, **overrides})

    def codec(self) -> EnvelopeCodec:
        """How events travel: Socket.IO's event packets, or the chosen envelope."""
        return SocketIOCodec() if self.transport == "socketio" else codec_by_name(self.envelope)

    def tls_context(self) -> ssl.SSLContext | None:
        """The server's TLS context when a certificate is configured."""
        if self.tls_cert is None or self.tls_key is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(self.tls_cert, self.tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot load --tls-cert {self.tls_cert} / --tls-key {self.tls_key}: {exc}"
            ) from None
        return context


def _cli_fields() -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(ServerConfig) if f.metadata.get("cli")}


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """``chatload serve``'s options, from the fields of :class:`ServerConfig`."""
    for name, field in _cli_fields().items():
        meta = field.metadata
        common: dict[str, Any] = {"help": meta.get("help")}
        for key in ("metavar", "type", "choices"):
            if meta.get(key):
                common[key] = meta[key]
        if name == "test_faults":
            # One --test-fault per fault: the flag is singular, the field plural.
            parser.add_argument("--test-fault", dest=name, action="append", default=[], **common)
        elif field.default is dataclasses.MISSING:
            parser.add_argument("--" + name.replace("_", "-"), required=True, **common)
        else:
            parser.add_argument("--" + name.replace("_", "-"), default=field.default, **common)
