"""chatload's Locust side, in rooms that are layers (lowest first): connection, engine,
people, watching, wiring; the wire, the exit codes and the side-job base below them all.

Most of this package imports Locust, which monkey-patches the standard library
with gevent: a locustfile imports ``locust`` first, as Locust wants. The names
below are imported on first use, so that ``chatload.loadgen.engine.options`` and other
Locust-free modules can be used (and tested) without that patching. Nothing here
registers anything on import; ``install(events)`` does.
"""

from __future__ import annotations

import importlib
from typing import Any, Final

__all__ = [
    "ChatClient",
    "ChatOptions",
    "ChatUser",
    "ModelSession",
    "OwnerUser",
    "ProbeUser",
    "RequesterUser",
    "chat_task",
    "install",
]

_HOMES: Final = {
    "ChatClient": "chatload.loadgen.connection.client",
    "ChatOptions": "chatload.loadgen.engine.options",
    "ChatUser": "chatload.loadgen.people.user",
    "chat_task": "chatload.loadgen.people.user",
    "ModelSession": "chatload.loadgen.people.session",
    "OwnerUser": "chatload.loadgen.people.personas",
    "RequesterUser": "chatload.loadgen.people.personas",
    "ProbeUser": "chatload.loadgen.people.personas",
    "install": "chatload.loadgen.wiring.plugin",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'chatload.loadgen' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
