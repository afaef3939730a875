"""Metric names (stable: they are Locust request names and CSV rows) and samples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from chatload.errors import (
    AwaitTimeout,
    ChatloadError,
    ConnectionProblem,
    Disconnected,
    GeneratorLimit,
    HandshakeRejected,
    ProtocolViolation,
    RequestRejected,
)

__all__ = [
    "ACCESS_PROBE",
    "CONNECT",
    "CONNECTION",
    "DELIVERY",
    "FAILURE_KINDS",
    "HISTORY",
    "INITIAL_DATA",
    "METRICS",
    "READ_ACK",
    "READ_PROPAGATION",
    "REQUEST_TYPE",
    "SEND_ACK",
    "UNATTRIBUTED",
    "UNREAD_PROPAGATION",
    "Sample",
    "failure_kind",
]

REQUEST_TYPE: Final = "chat"

CONNECT: Final = "connect"
INITIAL_DATA: Final = "initial_data"
SEND_ACK: Final = "send_ack"
DELIVERY: Final = "delivery"
UNREAD_PROPAGATION: Final = "unread_propagation"
READ_ACK: Final = "read_ack"
READ_PROPAGATION: Final = "read_propagation"
HISTORY: Final = "history"
# The probe persona's requests on chats not its own: a refusal is a success.
ACCESS_PROBE: Final = "access_probe"

METRICS: Final = (
    CONNECT,
    INITIAL_DATA,
    SEND_ACK,
    DELIVERY,
    UNREAD_PROPAGATION,
    READ_ACK,
    READ_PROPAGATION,
    HISTORY,
)
# Failures no request can own: a connection the server dropped, a debug_info or a
# malformed frame that answers nothing the tool asked.
CONNECTION: Final = "connection"
UNATTRIBUTED: Final = "unattributed"

FAILURE_KINDS: Final = (
    "timeout",
    "server_error",
    "protocol_error",
    "disconnect",
    "unreachable",
    "generator_limit",
    "invariant",
)


# The first class an error is an instance of names its kind (order matters: the
# last two are the parents of the ones before).
_KINDS: Final = (
    (AwaitTimeout, "timeout"),
    (RequestRejected, "server_error"),
    (ProtocolViolation, "protocol_error"),
    (Disconnected, "disconnect"),
    (GeneratorLimit, "generator_limit"),
    (HandshakeRejected, "server_error"),  # the server answered the upgrade with an HTTP error
    (ConnectionProblem, "unreachable"),  # nothing accepted the connection, or TLS failed
)


def failure_kind(error: BaseException) -> str:
    """METRICS.md's kind of a failure."""
    for kind_of, kind in _KINDS:
        if isinstance(error, kind_of):
            return kind
    return getattr(error, "kind", "error")


@dataclass(slots=True)
class Sample:
    """One measurement (``error`` is None) or one failure of ``metric``.

    ``seconds`` is always a real elapsed time: for a failure, how long the tool
    waited before it knew. ``request_id`` identifies the request a waiter blocks on.
    ``late``: the answer to a request already failed by its timeout, matched now;
    counted as late, not as a sample. ``cross_process``: timed from another
    process's wall clock (a marker or a read notice), not this one's monotonic clock.
    """

    metric: str
    seconds: float
    length: int = 0
    error: ChatloadError | None = None
    chat_id: str | None = None
    request_id: int = 0
    payload: object = None
    user_id: int = 0  # who observed it; set by the client that reports it
    late: bool = False
    cross_process: bool = False
