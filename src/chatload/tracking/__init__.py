"""What the load tool measures, computed from frames with no I/O.

A :class:`ConnectionTracker` is fed what one connection sends and receives
(parsed models, with the clocks read by the caller) and gives back
:class:`Sample` objects: one per METRICS.md measurement or failure. A process-wide
:class:`Ledger` lets trackers of one process time each other's messages on the
monotonic clock; the :class:`Marker` in a message's text carries its send time on
the wall clock across processes.
"""

from __future__ import annotations

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
from chatload.tracking.tracker import ChatView, ConnectionTracker, Timeouts

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
    "ChatSummary",
    "ChatView",
    "ConnectionTracker",
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
