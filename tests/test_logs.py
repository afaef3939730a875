from __future__ import annotations

import io
import logging

import orjson
import pytest

from chatload.errors import ConfigError
from chatload.logs import configure_logging


def _log_once(json_lines: bool) -> str:
    stream = io.StringIO()
    configure_logging("info", json_lines=json_lines, stream=stream)
    logging.getLogger("chatload.server").info("listening", extra={"url": "ws://x/", "users": 3})
    logging.getLogger("chatload.server").debug("hidden")
    logging.getLogger("chatload.server.websocket").info("connection open")
    return stream.getvalue()


def test_text_lines_carry_fields_as_key_value() -> None:
    [line] = _log_once(json_lines=False).splitlines()
    assert line.endswith("INFO    chatload.server: listening url=ws://x/ users=3")


def test_json_lines() -> None:
    [line] = _log_once(json_lines=True).splitlines()
    record = orjson.loads(line)
    assert record["msg"] == "listening"
    assert record["level"] == "info"
    assert (record["url"], record["users"]) == ("ws://x/", 3)
    assert record["ts"].endswith("Z")


def test_unknown_level() -> None:
    with pytest.raises(ConfigError, match="unknown log level 'loud'"):
        configure_logging("loud")
