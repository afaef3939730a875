"""The chat protocol with no I/O: models, envelope codecs, validation, chat state.

Strings and decoded JSON go in, typed objects come out. The Locust client and the
asyncio server are adapters around this package; nothing here imports sockets,
gevent or asyncio.
"""

from __future__ import annotations

from chatload.protocol.chatstate import ChatState, UnreadCounts
from chatload.protocol.codec import (
    CODECS,
    ArrayEnvelopeCodec,
    EnvelopeCodec,
    ObjectEnvelopeCodec,
    codec_by_name,
)
from chatload.protocol.dates import format_message_date
from chatload.protocol.limits import MessageLimits, is_uuid
from chatload.protocol.models import (
    CLIENT_EVENTS,
    EVENT_NAME,
    SERVER_EVENTS,
    ChatUnread,
    ChatUpdates,
    ClientEvent,
    DebugInfo,
    EventDetails,
    EventSummary,
    History,
    InitialChat,
    InitialData,
    InitialEntry,
    Interlocutor,
    LoadHistory,
    Message,
    MessageDraft,
    ReadMessages,
    SendMessage,
    ServerEvent,
)
from chatload.protocol.validation import (
    parse_client_event,
    parse_message,
    parse_server_event,
)

__all__ = [
    "CLIENT_EVENTS",
    "CODECS",
    "EVENT_NAME",
    "SERVER_EVENTS",
    "ArrayEnvelopeCodec",
    "ChatState",
    "ChatUnread",
    "ChatUpdates",
    "ClientEvent",
    "DebugInfo",
    "EnvelopeCodec",
    "EventDetails",
    "EventSummary",
    "History",
    "InitialChat",
    "InitialData",
    "InitialEntry",
    "Interlocutor",
    "LoadHistory",
    "Message",
    "MessageDraft",
    "MessageLimits",
    "ObjectEnvelopeCodec",
    "ReadMessages",
    "SendMessage",
    "ServerEvent",
    "UnreadCounts",
    "codec_by_name",
    "decode_client_frame",
    "decode_server_frame",
    "encode_event",
    "format_message_date",
    "is_uuid",
    "parse_client_event",
    "parse_message",
    "parse_server_event",
]


def decode_server_frame(codec: EnvelopeCodec, frame: bytes | str) -> ServerEvent:
    """One server-to-client frame as a model; raises ProtocolViolation."""
    event, data = codec.decode(frame)
    return parse_server_event(event, data)


def decode_client_frame(codec: EnvelopeCodec, frame: bytes | str) -> ClientEvent:
    """One client-to-server frame as a model; raises ProtocolViolation."""
    event, data = codec.decode(frame)
    return parse_client_event(event, data)


def encode_event(codec: EnvelopeCodec, event: ServerEvent | ClientEvent) -> bytes:
    """The frame bytes of a model."""
    return codec.encode(EVENT_NAME[type(event)], event.to_wire())
