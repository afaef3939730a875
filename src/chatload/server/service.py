"""What the reference server does with each frame, independent of the transport.

:class:`ChatService` answers connections (:class:`Peer`), checks every request,
hands accepted writes to the commit pipeline and, once a batch is durable,
applies it to the world and fans it out. Its order of work is the protocol's
order of guarantees:

1. validate the frame and the request; on any failure answer ``debug_info`` and
   change nothing;
2. reserve the next ``messageId`` of the chat (on the event loop, so concurrent
   senders get contiguous ids);
3. the pipeline commits the batch (group commit);
4. apply: chat state, page cache, then ``chat_updates`` to every connection of
   both participants, then ``chat_unread`` to both.

A connection that registers while a batch commits receives that batch through
fan-out, because ``initial_data`` is built from applied state in the same loop
step that registers the connection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from chatload.errors import ProtocolViolation, RequestRejected
from chatload.protocol.codec import EnvelopeCodec
from chatload.protocol.dates import format_message_date
from chatload.protocol.limits import MessageLimits
from chatload.protocol.models import LoadHistory, ReadMessages, SendMessage
from chatload.protocol.validation import parse_client_event
from chatload.server.faults import Faults
from chatload.server.store import MessageRow, ReadRow, Store, join_uuids
from chatload.server.world import ChatRecord, WireMessage, World

__all__ = ["ChatService", "Peer", "PendingMessage", "PendingRead", "PendingWrite"]

log = logging.getLogger("chatload.server")


class Peer(Protocol):
    """One open connection as the service sees it."""

    user_id: int

    def send(self, frame: bytes) -> None:
        """Queue one text frame; the transport flushes it soon."""
        ...

    def hold(self) -> None:
        """A write of this peer entered the pipeline."""
        ...

    def release(self) -> None:
        """A write of this peer left the pipeline."""
        ...


@dataclass(slots=True)
class PendingMessage:
    chat: ChatRecord
    wire: WireMessage
    origin: Peer


@dataclass(slots=True)
class PendingRead:
    chat: ChatRecord
    reader_id: int
    up_to: int
    origin: Peer


PendingWrite = PendingMessage | PendingRead


class ChatService:
    def __init__(
        self,
        world: World,
        store: Store,
        codec: EnvelopeCodec,
        *,
        submit: Callable[[PendingWrite], None],
        limits: MessageLimits | None = None,
        clock: Callable[[], float] = time.time,
        faults: Faults | None = None,
        lag: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        self.world = world
        self.store = store
        self.codec = codec
        self.limits = limits or MessageLimits()
        self._submit = submit
        self._clock = clock
        self.faults = faults
        # The fan-out lag test mode (chatload.server.overload): what a write changes
        # for the other participant is handed to this, to run later.
        self.lag = lag
        self.connections: dict[int, list[Peer]] = {}
        self.messages_accepted = 0

    # Connections

    def authenticate(self, token: str | None) -> int | None:
        """The user a token belongs to, or None."""
        return None if token is None else self.world.tokens.get(token)

    def open(self, peer: Peer) -> None:
        """Send ``initial_data`` and start fan-out to ``peer``, in one step."""
        payload = self.world.initial_data(peer.user_id, self._newest_page)
        peer.send(self.codec.encode("initial_data", payload))
        self.connections.setdefault(peer.user_id, []).append(peer)

    def close(self, peer: Peer) -> None:
        peers = self.connections.get(peer.user_id)
        if peers is not None and peer in peers:
            peers.remove(peer)
            if not peers:
                del self.connections[peer.user_id]

    # Requests

    def receive(self, peer: Peer, frame: bytes) -> None:
        """Handle one text frame; every failure is answered with ``debug_info``."""
        event: str | None = None
        try:
            event, data = self.codec.decode(frame)
            request = parse_client_event(event, data)
            if isinstance(request, SendMessage):
                self._send_message(peer, request)
            elif isinstance(request, ReadMessages):
                self._read_messages(peer, request)
            else:
                self._load_history(peer, request)
        except ProtocolViolation as exc:
            self.reply_error(peer, exc.code, str(exc), getattr(exc, "event", event))
        except RequestRejected as exc:
            self.reply_error(peer, exc.code, exc.message, exc.event or event)

    def reply_error(self, peer: Peer, code: str, message: str, event: str | None) -> None:
        log.debug("debug_info sent", extra={"user_id": peer.user_id, "code": code, "event": event})
        peer.send(
            self.codec.encode("debug_info", {"code": code, "message": message, "event": event})
        )

    def _chat_of(self, peer: Peer, chat_id: str, event: str) -> ChatRecord:
        chat = self.world.chats.get(chat_id)
        if chat is None:
            raise RequestRejected("not_found", f"chat {chat_id!r} does not exist", event=event)
        if event == "load_history" and self.faults and self.faults.serves_foreign_chat():
            return chat
        if not chat.state.is_participant(peer.user_id):
            raise RequestRejected(
                "forbidden", f"user {peer.user_id} is not in chat {chat_id!r}", event=event
            )
        return chat

    def _send_message(self, peer: Peer, request: SendMessage) -> None:
        chat = self._chat_of(peer, request.chatId, "send_message")
        draft = request.message
        self.limits.check(draft)
        chat.reserved_last_id += 1
        sender = peer.user_id
        wire: WireMessage = {
            "messageId": chat.reserved_last_id,
            "text": draft.text,
            "photos": list(draft.stored_photos()),
            "date": format_message_date(self._clock()),
            "fromUserId": sender,
            "toUserId": chat.state.interlocutor(sender),
        }
        peer.hold()
        self.messages_accepted += 1
        self._submit(PendingMessage(chat, wire, peer))

    def _read_messages(self, peer: Peer, request: ReadMessages) -> None:
        chat = self._chat_of(peer, request.chatId, "read_messages")
        # Reserved ids count as existing: they are committed before this read applies.
        if request.lastReadedMessageId > chat.reserved_last_id:
            raise RequestRejected(
                "bad_request",
                f"lastReadedMessageId {request.lastReadedMessageId} is beyond the last "
                f"message of chat {chat.chat_id!r} ({chat.reserved_last_id})",
                event="read_messages",
            )
        peer.hold()
        self._submit(PendingRead(chat, peer.user_id, request.lastReadedMessageId, peer))

    def _load_history(self, peer: Peer, request: LoadHistory) -> None:
        chat = self._chat_of(peer, request.chatId, "load_history")
        peer.send(
            self.codec.encode(
                "history",
                {
                    "chatId": chat.chat_id,
                    "messages": self.history_page(chat, request.lastMessageId),
                },
            )
        )

    def history_page(self, chat: ChatRecord, before: int) -> list[WireMessage]:
        """The page of messages just below ``before``, ascending; ids are contiguous,
        so a page is the range ending at ``min(before - 1, last)``."""
        last = min(before - 1, chat.state.last_message_id)
        if last < 1:
            return []
        first = max(1, last - self.world.page_size + 1)
        newest = self._newest_page(chat)
        if newest and newest[0]["messageId"] <= first:
            offset = newest[0]["messageId"]
            page = [newest[i - offset] for i in range(first, last + 1)]
        else:
            page = self.store.fetch_range(chat, first, last)
        return self.faults.skip_in_history(page) if self.faults else page

    def _newest_page(self, chat: ChatRecord) -> Any:
        return self.world.newest_page(chat, self.store.fetch_range)

    # The commit pipeline

    def commit(self, batch: list[PendingWrite]) -> None:
        """Make ``batch`` durable (runs on the commit thread)."""
        messages: list[MessageRow] = []
        owner_reads: list[ReadRow] = []
        requester_reads: list[ReadRow] = []
        for write in batch:
            if isinstance(write, PendingMessage):
                wire = write.wire
                messages.append(
                    (
                        write.chat.key,
                        wire["messageId"],
                        wire["fromUserId"],
                        wire["text"],
                        join_uuids(wire["photos"]),
                        wire["date"],
                    )
                )
            elif write.reader_id == write.chat.owner_id:
                owner_reads.append((write.up_to, write.chat.key))
            else:
                requester_reads.append((write.up_to, write.chat.key))
        self.store.commit(messages, owner_reads, requester_reads)

    def apply(self, batch: list[PendingWrite]) -> None:
        """Apply a durable batch to the world and fan it out, in order."""
        encode = self.codec.encode
        for write in batch:
            chat = write.chat
            if isinstance(write, PendingMessage):
                wire = write.wire
                writer = wire["fromUserId"]
                chat.state.add_message(wire["messageId"], writer)
                if chat.page is not None:
                    chat.page.append(wire)
                head = chat.updates_head
                frame: bytes | None = encode("chat_updates", {**head, "messages": [wire]})
            else:
                writer = write.reader_id
                chat.state.mark_read(writer, write.up_to)
                frame = None
            for user_id in chat.state.participants:
                peers = self.connections.get(user_id)
                if not peers:
                    continue
                if self.lag is not None and user_id != writer:
                    self.lag(partial(self._fan_out, chat, user_id, list(peers), frame, writer))
                else:
                    self._fan_out(chat, user_id, peers, frame, writer)
            write.origin.release()

    def _fan_out(
        self,
        chat: ChatRecord,
        user_id: int,
        peers: list[Peer],
        frame: bytes | None,
        writer: int,
    ) -> None:
        """One participant's frames about a write: the message (if it was one),
        then the counts as they are now."""
        if frame is not None:
            faults = self.faults
            for peer in peers:
                if faults is not None and user_id != writer:
                    faults.deliver(peer, frame, chat.chat_id)
                else:
                    peer.send(frame)
        counts = chat.state.unread(user_id)
        mine = counts.my + 1 if self.faults and self.faults.miscounts(chat.chat_id) else counts.my
        unread = self.codec.encode(
            "chat_unread",
            {
                "chatId": chat.chat_id,
                "myUnreadCount": mine,
                "interlocutorUnreadCount": counts.interlocutor,
            },
        )
        for peer in peers:
            peer.send(unread)

    def fail(self, batch: list[PendingWrite], error: BaseException) -> None:
        """A batch could not be made durable: tell every sender; nothing was applied."""
        log.critical("commit failed, the batch is lost", extra={"error": repr(error)})
        for write in batch:
            event = "send_message" if isinstance(write, PendingMessage) else "read_messages"
            self.reply_error(write.origin, "internal", "the server could not store this", event)
            write.origin.release()
