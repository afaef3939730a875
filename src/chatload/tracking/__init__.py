"""What the load tool measures, computed from frames with no I/O.

A :class:`ConnectionTracker` is fed what one connection sends and receives
(parsed models, with the clocks read by the caller) and gives back
:class:`Sample` objects: one per METRICS.md measurement or failure. A process-wide
:class:`Ledger` lets trackers of one process time each other's messages on the
monotonic clock; the :class:`Marker` in a message's text carries its send time on
the wall clock across processes. :class:`Deadlines` tells a process which
trackers have something due, so that time passing costs what expires.

The modules, along the frame path: ``view`` (one chat as a connection knows it),
``pending`` (what waits, until when), ``matching`` (frames into samples),
``checks`` and ``invariants`` (the guarantees), ``tracker`` (one connection),
``ledger`` and ``deadlines`` (one process).
"""

from __future__ import annotations

from chatload.tracking.deadlines import Deadlines
from chatload.tracking.invariants import BREACH_KINDS, INVARIANT, Breach, ChatSummary, compare_sides
from chatload.tracking.ledger import Ledger, ReadNotice
from chatload.tracking.marker import Marker, MarkerFactory, parse_marker
from chatload.tracking.metrics import (
    ACCESS_PROBE,
    CONNECT,
    CONNECTION,
    DELIVERY,
    HISTORY,
    INITIAL_DATA,
    METRICS,
    READ_ACK,
    READ_PROPAGATION,
    SEND_ACK,
    UNATTRIBUTED,
    UNREAD_PROPAGATION,
    Sample,
    failure_kind,
)
from chatload.tracking.pending import Timeouts
from chatload.tracking.tracker import ConnectionTracker
from chatload.tracking.view import Chat, ChatView

__all__ = [
    "ACCESS_PROBE",
    "BREACH_KINDS",
    "CONNECT",
    "CONNECTION",
    "DELIVERY",
    "HISTORY",
    "INITIAL_DATA",
    "INVARIANT",
    "METRICS",
    "READ_ACK",
    "READ_PROPAGATION",
    "SEND_ACK",
    "UNATTRIBUTED",
    "UNREAD_PROPAGATION",
    "Breach",
    "Chat",
    "ChatSummary",
    "ChatView",
    "ConnectionTracker",
    "Deadlines",
    "Ledger",
    "Marker",
    "MarkerFactory",
    "ReadNotice",
    "Sample",
    "Timeouts",
    "compare_sides",
    "failure_kind",
    "parse_marker",
]
