from __future__ import annotations

import statistics

from chatload.loadgen.engine.content import Writer
from chatload.loadgen.engine.options import ChatOptions
from chatload.protocol import MessageDraft, MessageLimits
from chatload.tracking.marker import MAX_MARKER_CHARS


def test_lengths_follow_the_median_and_respect_the_limits() -> None:
    writer = Writer(ChatOptions(text_median=60, text_max=4096), seed=3)
    texts = [writer.text() for _ in range(3000)]
    lengths = [len(t) for t in texts]
    assert 45 <= statistics.median(lengths) <= 75
    assert max(lengths) <= MessageLimits().max_text_chars - MAX_MARKER_CHARS
    assert max(lengths) > 300, "a long tail of long messages"
    assert all(t and t == t.strip() for t in texts)


def test_russian_by_default_english_by_option() -> None:
    ru = Writer(ChatOptions(), seed=1).text() + Writer(ChatOptions(), seed=2).text()
    assert any("\u0430" <= ch.lower() <= "\u044f" for ch in ru)
    en = " ".join(Writer(ChatOptions(text_locale="en_US"), seed=1).text() for _ in range(20))
    assert not any("\u0430" <= ch.lower() <= "\u044f" for ch in en)


def test_photos_are_uuids_with_the_configured_share_and_count() -> None:
    writer = Writer(ChatOptions(photo_probability=0.3, photo_max=4), seed=5)
    drafts = [writer.draft() for _ in range(2000)]
    with_photos = [photos for _, photos in drafts if photos]
    assert 0.25 < len(with_photos) / len(drafts) < 0.35
    assert {len(p) for p in with_photos} == {1, 2, 3, 4}
    for text, photos in drafts[:200]:
        MessageLimits().check(
            MessageDraft(text, photos=tuple(photos), attachedPhotos=tuple(photos))
        )


def test_a_models_draws_stay_within_the_protocols_limits() -> None:
    # A heavy-tailed draw now and then asks for more than the server takes (seen in a
    # 2-minute default-model run: one message refused as too large of 10,106).
    writer = Writer(ChatOptions(), seed=7)
    limits = MessageLimits()
    assert len(writer.photo_ids(3)) == 3
    assert len(writer.photo_ids(37)) == limits.max_photos
    assert len(writer.text_of(99_999)) <= limits.max_text_chars
    assert len(writer.text_of(12)) == 12
