"""An owner who opens each event's chats by reading their history first, then
answers the chats waiting for them, in one sitting per event.

    locust -f locustfiles/examples/history_first.py --headless -u 20 -r 20 -t 30s

docs/personas.md walks through it.
"""

from locust import events

from chatload.loadgen import ChatUser, RequesterUser, chat_task, install

install(events)


class HistoryFirstOwner(ChatUser):
    role = "owner"
    fixed_count = 4  # exactly four of them, whatever -u is

    @chat_task()
    def sit_down_with_an_event(self) -> None:
        by_event = self.chats_by_event()
        if not by_event:
            return
        for view in by_event[self.rng.choice(sorted(by_event))]:
            self.page_back(view)
            if view.my_unread:
                self.write(view)
                self.read_up_to_last(view)


__all__ = ["HistoryFirstOwner", "RequesterUser"]  # RequesterUser writes to the events
