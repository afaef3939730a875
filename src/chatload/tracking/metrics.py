"""Metric names (stable: they are Locust request names and CSV rows) and samples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from chatload.errors import (
    AwaitTimeout,
    ChatloadError,
    Disconnected,
    GeneratorLimit,
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
    "generator_limit",
    "invariant",
)


def failure_kind(error: BaseException) -> str:
    """METRICS.md's kind of a failure."""
    if isinstance(error, AwaitTimeout):
        return "timeout"
    if isinstance(error, RequestRejected):
        return "server_error"
    if isinstance(error, ProtocolViolation):
        return "protocol_error"
    if isinstance(error, Disconnected):
        return "disconnect"
    if isinstance(error, GeneratorLimit):
        return "generator_limit"
    return getattr(error, "kind", "error")


@dataclass(slots=True)
class Sample:
    """One measurement (``error`` is None) or one failure of ``metric``.

    ``seconds`` is always a real elapsed time: for a failure, how long the tool
    waited before it knew. ``token`` identifies the request a waiter blocks on.
    """

    metric: str
    seconds: float
    length: int = 0
    error: ChatloadError | None = None
    chat_id: str | None = None
    token: int = 0
    payload: object = None
    user_id: int = 0  # who observed it; set by the client that reports it
