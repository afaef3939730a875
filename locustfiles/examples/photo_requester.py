"""A requester who sends many photos, beside the main locustfile's event owners.

    locust -f locustfiles/examples/photo_requester.py --headless -u 20 -r 20 -t 30s

docs/personas.md walks through it.
"""

from locust import events

from chatload.loadgen import ChatUser, OwnerUser, chat_task, install

install(events)  # chatload's options, metrics, checks and exports on this run


class PhotoRequester(ChatUser):
    role = "requester"
    weight = 3  # its own weight: three of these to each owner

    @chat_task(3)
    def send_photos(self) -> None:
        if self.chats:
            self.write(self.rng.choice(self.chats), photos=self.rng.randint(1, 10))

    @chat_task(1)
    def read_answers(self) -> None:
        self.read_an_unread_chat()


__all__ = ["OwnerUser", "PhotoRequester"]  # OwnerUser answers them, weight --owner-weight
