from __future__ import annotations

import re
import uuid

import pytest

from chatload.errors import RequestRejected
from chatload.protocol import MessageDraft, MessageLimits, format_message_date, is_uuid

PHOTO = str(uuid.UUID(int=1, version=4))


def test_valid_drafts_pass() -> None:
    limits = MessageLimits()
    limits.check(MessageDraft("x" * 4096))
    limits.check(MessageDraft("", photos=(PHOTO,)))
    limits.check(MessageDraft("", attachedPhotos=(PHOTO.upper(),)))
    limits.check(MessageDraft("hi", photos=(PHOTO,) * 10, attachedPhotos=(PHOTO,) * 10))


@pytest.mark.parametrize(
    ("draft", "code", "words"),
    [
        (MessageDraft("x" * 4097), "too_large", "4097 characters, the limit is 4096"),
        (MessageDraft("a", photos=(PHOTO,) * 11), "too_large", "message.photos has 11 photos"),
        (
            MessageDraft("a", attachedPhotos=(PHOTO,) * 11),
            "too_large",
            "message.attachedPhotos has 11",
        ),
        (MessageDraft("a", photos=("uuid1",)), "bad_request", "message.photos[0] must be a UUID"),
        (
            MessageDraft("a", attachedPhotos=(PHOTO, "x")),
            "bad_request",
            "attachedPhotos[1] must be a UUID",
        ),
        (MessageDraft(""), "bad_request", "needs text or at least one photo"),
        (MessageDraft("", photos=(), attachedPhotos=(PHOTO,)), "bad_request", "needs text"),
    ],
)
def test_limit_breaches(draft: MessageDraft, code: str, words: str) -> None:
    with pytest.raises(RequestRejected, match=re.escape(words)) as caught:
        MessageLimits().check(draft)
    assert caught.value.code == code


def test_is_uuid() -> None:
    assert is_uuid(PHOTO)
    assert not is_uuid(PHOTO + "0")
    assert not is_uuid(PHOTO.replace("-", ""))


def test_message_dates() -> None:
    assert format_message_date(1740837113.2851) == "2025-03-01T13:51:53.285Z"
    assert format_message_date(1740837114.0) == "2025-03-01T13:51:54.000Z"
    assert format_message_date(0.999) == "1970-01-01T00:00:00.999Z"
