"""The reference limits on what a ``send_message`` may carry.

These are the reference server's policy (PROTOCOL.md, "Reference limits"), not
shapes: a message that breaks them is well-formed JSON the server refuses. The
load tool reads the same limits so that it never generates a message the
reference server would refuse by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from chatload.errors import RequestRejected
from chatload.protocol.models import MessageDraft

__all__ = ["UUID_PATTERN", "MessageLimits", "is_uuid"]

UUID_PATTERN: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def is_uuid(value: str) -> bool:
    """Whether ``value`` is a UUID in its canonical 8-4-4-4-12 hex form."""
    return UUID_PATTERN.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class MessageLimits:
    max_text_chars: int = 4096
    max_photos: int = 10

    def check(self, draft: MessageDraft) -> None:
        """Raise :class:`RequestRejected` when ``draft`` breaks a limit."""
        if len(draft.text) > self.max_text_chars:
            raise RequestRejected(
                "too_large",
                f"text has {len(draft.text)} characters, the limit is {self.max_text_chars}",
                event="send_message",
            )
        for key, photos in (("photos", draft.photos), ("attachedPhotos", draft.attachedPhotos)):
            if photos is None:
                continue
            if len(photos) > self.max_photos:
                raise RequestRejected(
                    "too_large",
                    f"message.{key} has {len(photos)} photos, the limit is {self.max_photos}",
                    event="send_message",
                )
            for index, photo in enumerate(photos):
                if not is_uuid(photo):
                    raise RequestRejected(
                        "bad_request",
                        f"message.{key}[{index}] must be a UUID string, got {photo[:60]!r}",
                        event="send_message",
                    )
        if not draft.text and not draft.stored_photos():
            raise RequestRejected(
                "bad_request", "a message needs text or at least one photo", event="send_message"
            )
