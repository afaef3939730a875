"""What simulated people write: Faker text of realistic length, photo UUIDs."""

from __future__ import annotations

import math
import random
import uuid
from typing import Final

from chatload.loadgen.engine.options import ChatOptions
from chatload.protocol.limits import MessageLimits
from chatload.tracking.marker import MAX_MARKER_CHARS

__all__ = ["MessageContent", "Writer"]

_POOL: Final = 300
_TEXTS: Final = 4096  # texts drawn in advance, with the length distribution
_SIGMA: Final = 0.9  # spread of the log-normal length: most messages short, a few long

MessageContent = tuple[str, list[str]]


class Writer:
    """Draws message texts and photo lists as one process's users write them.

    Texts come from a pool of Faker paragraphs cut at a word boundary to a
    log-normal length, so drawing one costs microseconds, not a Faker call.
    """

    def __init__(self, options: ChatOptions, *, seed: int | None = None) -> None:
        from faker import Faker

        self.options = options
        self.rng = random.Random(seed)
        fake = Faker(options.text_locale)
        if seed is not None:
            fake.seed_instance(seed)
        self._pool = [str(fake.text(max_nb_chars=2000)).replace("\n", " ") for _ in range(_POOL)]
        marker_room = MAX_MARKER_CHARS if options.markers else 0
        self._longest = min(options.text_max, MessageLimits().max_text_chars - marker_room)
        # Drawn in advance: at thousands of messages a second per core, cutting a text
        # to a log-normal length each time would be a noticeable share of the work.
        self._texts = [self._cut() for _ in range(_TEXTS)]

    def text(self) -> str:
        return self.rng.choice(self._texts)

    def text_of(self, length: int) -> str:
        """A text of exactly ``length`` characters (a traffic model's draw), within
        the protocol's limit."""
        length = max(1, min(length, self._longest))
        source = self.rng.choice(self._pool)
        while len(source) < length:
            source += " " + self.rng.choice(self._pool)
        start = self.rng.randrange(0, len(source) - length + 1)
        text = source[start : start + length]
        return (
            text
            if not text[-1].isspace() and not text[0].isspace()
            else text.strip().ljust(length, ".")
        )

    def _cut(self) -> str:
        length = int(self.rng.lognormvariate(math.log(self.options.text_median), _SIGMA))
        length = max(1, min(length, self._longest))
        source = self.rng.choice(self._pool)
        while len(source) < length:
            source += " " + self.rng.choice(self._pool)
        cut = source.rfind(" ", 0, length + 1)
        return source[: cut if cut > 0 else length].strip() or source[:length]

    def photos(self) -> list[str]:
        if self.rng.random() >= self.options.photo_probability:
            return []
        count = self.rng.randint(1, min(self.options.photo_max, MessageLimits().max_photos))
        return self.photo_ids(count)

    def photo_ids(self, count: int) -> list[str]:
        """``count`` photo UUIDs (a traffic model's draw), within the protocol's limit: a
        heavy-tailed draw goes past it now and then, and the server would refuse the
        message as too large."""
        count = min(count, MessageLimits().max_photos)
        return [str(uuid.UUID(int=self.rng.getrandbits(128), version=4)) for _ in range(count)]

    def draft(self) -> MessageContent:
        return self.text(), self.photos()
