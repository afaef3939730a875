"""Where a history is kept: a directory (``store``) or a PostgreSQL database
(``pgstore``), chosen by ``--store``."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from chatload.history.pgstore import SCHEMES, PostgresStore
from chatload.history.store import Ack, RunSummary, Store

__all__ = ["HistoryStore", "open_store"]


class HistoryStore(Protocol):
    """What both stores answer. ``problems``: what was named and skipped."""

    problems: list[str]

    @property
    def location(self) -> str: ...
    def add(self, summary: RunSummary) -> Path | str: ...
    def runs(self) -> list[RunSummary]: ...
    def acks(self) -> list[Ack]: ...
    def acknowledge(self, ack: Ack) -> Path | str: ...
    def reported(self) -> set[tuple[str, str]]: ...
    def report(self, points: list[tuple[str, str]]) -> None: ...


def open_store(location: str) -> HistoryStore:
    """The store at ``location``: a PostgreSQL URL, else a directory."""
    if location.startswith(SCHEMES):
        return PostgresStore(location)
    return Store(Path(location))
