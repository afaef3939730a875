"""chatload's Locust side: users, client, transport and the wiring into Locust.

Importing this package imports Locust, which monkey-patches the standard
library with gevent: import ``locust`` first, in the locustfile, as Locust wants.
Nothing here registers anything on import; ``install(events)`` does.
"""

from __future__ import annotations

from chatload.loadgen.client import ChatClient
from chatload.loadgen.options import ChatOptions
from chatload.loadgen.personas import OwnerUser, RequesterUser
from chatload.loadgen.plugin import install
from chatload.loadgen.user import ChatUser, chat_task

__all__ = [
    "ChatClient",
    "ChatOptions",
    "ChatUser",
    "OwnerUser",
    "RequesterUser",
    "chat_task",
    "install",
]
