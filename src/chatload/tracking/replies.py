"""The rules of the frames that answer one request each: ``history`` and
``debug_info``.

- ``history``: the next ``history`` of that chat answers its oldest
  ``load_history``, in request order; the page is checked whole
  (:func:`chatload.tracking.checks.page_breach`).
- ``debug_info`` fails the oldest pending request of the event it names (or of
  all kinds, when it names none); it is the refusal an access probe expects; with
  nothing pending it is an unattributed error.
"""

from __future__ import annotations

from chatload.errors import ProtocolViolation, RequestRejected
from chatload.protocol.models import DebugInfo, History
from chatload.tracking import checks
from chatload.tracking.metrics import ACCESS_PROBE, UNATTRIBUTED, Sample
from chatload.tracking.pending import LOAD, READ, SEND
from chatload.tracking.state import ConnectionState

__all__ = ["Replies"]


class Replies:
    __slots__ = ("state",)

    def __init__(self, state: ConnectionState) -> None:
        self.state = state

    def history(self, event: History, size: int, now: float, wall: float) -> None:
        state = self.state
        view = state.view_of(event.chatId, event.messages, "history", wall)
        if view is None:
            return
        histories = view.histories
        while histories and histories[0].answered:
            del histories[0]
        if not histories:
            state.produced.append(
                Sample(
                    UNATTRIBUTED,
                    0.0,
                    size,
                    ProtocolViolation("protocol_error: history nobody asked for"),
                    chat_id=event.chatId,
                )
            )
            return
        request = histories.pop(0)
        # Late when it answers a request already failed by its timeout.
        answer = state.requests.answer(request, now, size, payload=event.messages)
        breach = checks.page_breach(view, request.detail, event.messages, state.user_id, wall)
        if breach is not None:
            state.breaches.append(breach)
        if event.messages:
            first = event.messages[0].messageId
            view.oldest_loaded = min(view.oldest_loaded, first) if view.oldest_loaded else first
        state.produced.append(answer)

    def debug_info(self, event: DebugInfo, size: int, now: float) -> None:
        state = self.state
        error = RequestRejected(
            event.code or "unknown",
            f"server_error: debug_info {event.code or 'with no code'}",
            event=event.event,
        )
        named = event.event if event.event in (SEND, READ, LOAD) else None
        oldest = state.requests.oldest(named)
        if oldest is None:
            state.produced.append(Sample(UNATTRIBUTED, 0.0, size, error))
            return
        state.requests.finish(oldest)
        if oldest.probe:  # the refusal a probe expects
            state.produced.append(
                Sample(
                    ACCESS_PROBE,
                    now - oldest.started,
                    size,
                    chat_id=oldest.chat_id,
                    request_id=oldest.request_id,
                )
            )
            return
        sample = oldest.failure(now, error)
        sample.length = size
        state.produced.append(sample)
