"""The chat's two kinds of people. They only declare what they do and how often.

- An event owner sees its events' chats grouped by event, answers chats with new
  messages from requesters, marks them read up to the last message seen, pages
  back through some chats' history and sometimes sends photos.
- A requester writes to the events it asked to join, reads the answers and pages
  back through history.
- A probe (only with ``--probes N``, in the security scenario) holds a requester's
  identity and tries to write to, read and page through other people's chats; the
  server must refuse each and leak nothing.
"""

from __future__ import annotations

from chatload.loadgen.engine.options import ChatOptions
from chatload.loadgen.people.shares import Share
from chatload.loadgen.people.user import ChatUser, chat_task
from chatload.tracking.view import Chat

__all__ = ["OwnerUser", "ProbeUser", "RequesterUser"]


class OwnerUser(ChatUser):
    role = "owner"

    def events(self) -> dict[int, list[Chat]]:
        """The chats people write to my events in, grouped by event."""
        grouped: dict[int, list[Chat]] = {}
        me = self.identity.user_id if self.identity else 0
        for view in self.chats:
            if view.owner_id == me:
                grouped.setdefault(view.event_id, []).append(view)
        return grouped

    def waiting_for_me(self) -> list[Chat]:
        return [
            view
            for chats in self.events().values()
            for view in chats
            if view.my_unread > 0 or (view.last_from and view.last_from == view.interlocutor_id)
        ]

    @chat_task(5)
    def answer(self) -> None:
        waiting = self.waiting_for_me()
        if waiting:
            view = self.rng.choice(waiting)
            self.write(view)
            if view.my_unread > 0:
                self.read_up_to_last(view)

    @chat_task(2)
    def mark_read(self) -> None:
        self.read_an_unread_chat()

    @chat_task(1)
    def page_history(self) -> None:
        self.page_back_a_chat()


class RequesterUser(ChatUser):
    role = "requester"

    @chat_task(4)
    def write_to_event(self) -> None:
        chats = self.chats
        if chats:
            self.write(self.rng.choice(chats))

    @chat_task(3)
    def read_answers(self) -> None:
        self.read_an_unread_chat()

    @chat_task(1)
    def page_history(self) -> None:
        self.page_back_a_chat()


class ProbeUser(ChatUser):
    role = "requester"
    fixed_count = 0  # set from --probes; with none, the class is not run at all

    @classmethod
    def share(cls, options: ChatOptions) -> Share:
        return Share(cls.role, 0, options.probes)

    @chat_task()
    def poke_a_foreign_chat(self) -> None:
        assert self.identity is not None and self.client is not None
        chat_id = self.runtime.ledger.foreign_chat(self.identity.user_id, self.rng.choice)
        if chat_id is not None:
            kind = self.rng.choice(("send_message", "read_messages", "load_history"))
            self.client.probe(kind, chat_id)
