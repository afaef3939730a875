"""The one exception tree of chatload.

Every error chatload raises on purpose is a :class:`ChatloadError`, so callers
(the CLI, Locust users, the server) can catch one type and print one line.

The tree separates whose fault an error is, because for a load tool that is the
difference between "fix the tool or its input" and "the server under test is
wrong"::

    ChatloadError
    ├── ConfigError                 bad options or input files: the operator fixes it
    │   ├── UsersFileError          users.csv missing, unreadable or malformed
    │   └── NotConnected            a persona asked a client that is not connected
    ├── ProtocolViolation           a frame breaks PROTOCOL.md (whoever sent it)
    │   ├── MalformedFrame          not JSON, not an envelope, unknown event name
    │   └── InvalidPayload          a payload field is missing or has the wrong shape
    ├── RequestRejected             a valid request the server refuses (not_found,
    │                               forbidden, too_large, bad_request): debug_info
    ├── InvariantBreach             the server broke one of PROTOCOL.md's guarantees
    ├── StoreError                  the reference server's storage failed
    └── ConnectionProblem           the transport, not the payloads
        ├── ServerUnreachable       nothing listens at the address
        ├── HandshakeRejected       the server refused the WebSocket upgrade (bad token)
        ├── Disconnected            an established connection closed unexpectedly
        ├── AwaitTimeout            an awaited answer did not come in time
        └── GeneratorLimit          the generator's own limits (file descriptors,
                                    local ports) refused a connection: not the server

Each error renders as one line (``str(error)``) that says what happened and, for
operator errors, how to fix it.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "AwaitTimeout",
    "ChatloadError",
    "ConfigError",
    "ConnectionProblem",
    "Disconnected",
    "GeneratorLimit",
    "HandshakeRejected",
    "InvalidPayload",
    "InvariantBreach",
    "MalformedFrame",
    "NotConnected",
    "ProtocolViolation",
    "RequestRejected",
    "ServerUnreachable",
    "StoreError",
    "UsersFileError",
]


class ChatloadError(Exception):
    """Base of every error chatload raises on purpose."""


class ConfigError(ChatloadError):
    """Bad options, arguments or input files."""


class UsersFileError(ConfigError):
    """The users file is missing, unreadable or does not follow the contract."""


class NotConnected(ConfigError):
    """A persona used its client while the user was not connected: a persona's
    own ``@task`` runs whether or not the user is connected, a ``@chat_task`` only
    when it is."""

    def __init__(self, user_id: int) -> None:
        super().__init__(
            f"user {user_id} is not connected: decorate the persona's task with "
            "@chat_task (it runs only when connected), or check self.connected first"
        )
        self.user_id = user_id


class ProtocolViolation(ChatloadError):
    """A frame does not follow the protocol.

    ``code`` is the ``debug_info`` code a server answers such a frame with.
    """

    code: str = "bad_request"


class MalformedFrame(ProtocolViolation):
    """The frame is not JSON, not an envelope, or names an unknown event."""

    def __init__(self, reason: str, *, event: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.event = event


_MAX_SHOWN: Final = 60


def _shorten(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


class InvalidPayload(ProtocolViolation):
    """A payload field is missing or has the wrong type or value.

    ``path`` locates the field (``data.message.photos[2]``), ``expected`` says
    what the protocol wants there and ``got`` what arrived (``MISSING`` when the
    field is absent).
    """

    MISSING: Final = object()

    def __init__(self, event: str, path: str, expected: str, got: object) -> None:
        self.event = event
        self.path = path
        self.expected = expected
        self.got = got
        shown = "nothing" if got is InvalidPayload.MISSING else _shorten(got)
        super().__init__(f"{event}: {path} must be {expected}, got {shown}")


class RequestRejected(ChatloadError):
    """A well-formed request the server refuses; carried to the client as debug_info."""

    def __init__(self, code: str, message: str, *, event: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.event = event


class InvariantBreach(ChatloadError):
    """The server broke a guarantee: ``kind`` is loss, duplicate, reorder, gap,
    unread, history or access. The message stays the same for one kind (Locust
    groups failures by it); the ids involved travel in the invariants export."""

    kind: str = "invariant"

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class StoreError(ChatloadError):
    """The reference server's database failed or holds something unexpected."""


class ConnectionProblem(ChatloadError):
    """The transport failed, as opposed to the payloads on it."""


class ServerUnreachable(ConnectionProblem):
    """Nothing accepts connections at the target address."""


class HandshakeRejected(ConnectionProblem):
    """The server answered the WebSocket upgrade with an HTTP error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Disconnected(ConnectionProblem):
    """An established connection closed without the tool closing it."""


class AwaitTimeout(ConnectionProblem):
    """An awaited answer did not arrive within its timeout."""


class GeneratorLimit(ConnectionProblem):
    """The generator could not open a connection because of its own limits: no file
    descriptor left, no free local port. The message says how to lift the limit."""

    kind: str = "generator_limit"
