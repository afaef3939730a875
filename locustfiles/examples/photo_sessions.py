"""Under a traffic model: requesters whose every message carries a photo, beside the
main locustfile's event owners. Everything else they do is the model's.

    locust -f locustfiles/examples/photo_sessions.py --traffic-model default \
        --time-scale 60 --headless -u 100 -r 100 -t 2m

docs/personas.md walks through it.
"""

from locust import events

from chatload.loadgen import ModelSession, OwnerUser, RequesterUser, install

install(events)


class PhotoSession(ModelSession):
    def content(self) -> tuple[int, int]:
        characters, photos = super().content()  # the model's draw
        return characters, max(photos, 1)


class PhotoRequester(RequesterUser):
    session_class = PhotoSession  # what a session of this persona does


__all__ = ["OwnerUser", "PhotoRequester"]
