"""Envelope codecs: how an event name and its payload travel in one text frame.

PROTOCOL.md's envelope is ``{"event": "<name>", "data": <payload>}``, the NestJS
gateway convention. A backend may wrap differently, so the envelope is one small
object behind the :class:`EnvelopeCodec` protocol and every other module goes
through it. Payload JSON is orjson both ways.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

import orjson

from chatload.errors import ConfigError, MalformedFrame

__all__ = [
    "CODECS",
    "ArrayEnvelopeCodec",
    "EnvelopeCodec",
    "ObjectEnvelopeCodec",
    "codec_by_name",
]


class EnvelopeCodec(Protocol):
    """Turns (event, payload) into frame bytes and back."""

    name: str

    def encode(self, event: str, data: Any) -> bytes:
        """The UTF-8 JSON text of one frame."""
        ...

    def decode(self, frame: bytes | str) -> tuple[str, Any]:
        """The event name and payload of one frame.

        Raises :class:`MalformedFrame` when the frame is not JSON or not an envelope.
        """
        ...


def _loads(frame: bytes | str) -> Any:
    try:
        return orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise MalformedFrame(f"frame is not valid UTF-8 JSON ({exc})") from None


class ObjectEnvelopeCodec:
    """``{"event": name, "data": payload}``; the key names are configurable."""

    __slots__ = ("data_key", "event_key", "name")

    def __init__(self, event_key: str = "event", data_key: str = "data") -> None:
        self.event_key = event_key
        self.data_key = data_key
        self.name = "object" if (event_key, data_key) == ("event", "data") else "object-custom"

    def encode(self, event: str, data: Any) -> bytes:
        return orjson.dumps({self.event_key: event, self.data_key: data})

    def decode(self, frame: bytes | str) -> tuple[str, Any]:
        envelope = _loads(frame)
        if not isinstance(envelope, dict):
            raise MalformedFrame(
                f"frame is not an envelope: expected a JSON object with "
                f"{self.event_key!r} and {self.data_key!r}, got {type(envelope).__name__}"
            )
        event = envelope.get(self.event_key)
        if not isinstance(event, str):
            raise MalformedFrame(
                f"frame is not an envelope: {self.event_key!r} must be a string, "
                f"got {type(event).__name__}"
            )
        if self.data_key not in envelope:
            raise MalformedFrame(
                f"frame is not an envelope: {self.data_key!r} is missing", event=event
            )
        return event, envelope[self.data_key]


class ArrayEnvelopeCodec:
    """``[name, payload]``, the shape Socket.IO-like gateways use."""

    __slots__ = ()
    name = "array"

    def encode(self, event: str, data: Any) -> bytes:
        return orjson.dumps([event, data])

    def decode(self, frame: bytes | str) -> tuple[str, Any]:
        envelope = _loads(frame)
        if not (isinstance(envelope, list) and len(envelope) == 2):
            raise MalformedFrame("frame is not an envelope: expected [event, data]")
        event, data = envelope
        if not isinstance(event, str):
            raise MalformedFrame("frame is not an envelope: the event name must be a string")
        return event, data


CODECS: Final[dict[str, EnvelopeCodec]] = {
    "object": ObjectEnvelopeCodec(),
    "array": ArrayEnvelopeCodec(),
}


def codec_by_name(name: str) -> EnvelopeCodec:
    """The codec registered as ``name``; a :class:`ConfigError` names the choices."""
    try:
        return CODECS[name]
    except KeyError:
        choices = ", ".join(sorted(CODECS))
        raise ConfigError(f"unknown envelope {name!r}: choose one of {choices}") from None
