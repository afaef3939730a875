"""Structured logs: one line per record, as ``key=value`` text or JSON lines.

Fields come from ``extra={...}`` on the logging call, so a call site reads
``log.info("listening", extra={"url": url})`` and a log collector gets ``url``
as a field.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Final, TextIO

import orjson

from chatload.errors import ConfigError

__all__ = ["LOG_LEVELS", "StructuredFormatter", "configure_logging"]

LOG_LEVELS: Final = ("debug", "info", "warning", "error", "critical")
_RESERVED: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


def _timestamp(created: float) -> str:
    whole = int(created)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        + f".{int((created - whole) * 1000):03d}Z"
    )


class StructuredFormatter(logging.Formatter):
    def __init__(self, *, json_lines: bool = False) -> None:
        super().__init__()
        self.json_lines = json_lines

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            key: value for key, value in record.__dict__.items() if key not in _RESERVED
        }
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        if self.json_lines:
            line = {
                "ts": _timestamp(record.created),
                "level": record.levelname.lower(),
                "logger": record.name,
                "msg": record.getMessage(),
                **fields,
            }
            return orjson.dumps(line, default=str).decode()
        stamp = _timestamp(record.created)
        text = f"{stamp} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if fields:
            text += " " + " ".join(f"{key}={_plain(value)}" for key, value in fields.items())
        return text


def _plain(value: Any) -> str:
    text = str(value)
    return repr(text) if (" " in text or not text) else text


def configure_logging(
    level: str = "info", *, json_lines: bool = False, stream: TextIO | None = None
) -> None:
    """Send chatload's logs to ``stream`` (stderr) at ``level``."""
    if level.lower() not in LOG_LEVELS:
        raise ConfigError(f"unknown log level {level!r}: choose one of {', '.join(LOG_LEVELS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(StructuredFormatter(json_lines=json_lines))
    root = logging.getLogger("chatload")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    # websockets logs every connection at INFO; that is noise below debug level.
    logging.getLogger("chatload.server.websocket").setLevel(
        logging.DEBUG if level.lower() == "debug" else logging.WARNING
    )
