"""The reference server's options, defined once: the command line is built from them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from chatload.cli import build_parser
from chatload.errors import ConfigError
from chatload.server.config import ServerConfig


def _config(*argv: str) -> ServerConfig:
    args = build_parser().parse_args(["serve", "--db", "chat.db", *argv])
    return ServerConfig.from_args(args)


def test_defaults_on_the_command_line_are_the_configs() -> None:
    assert _config() == ServerConfig(db=Path("chat.db"))


def test_each_option_reaches_its_field() -> None:
    config = _config(
        "--port",
        "0",
        "--page-size",
        "7",
        "--transport",
        "socketio",
        "--test-fault",
        "drop=0.5",
        "--test-fault",
        "miscount",
        "--test-capacity",
        "300",
        "--test-fanout-lag-ms",
        "12000",
        "--ready-file",
        "ready.json",
    )
    assert (config.port, config.page_size, config.transport) == (0, 7, "socketio")
    assert config.test_faults == (("drop", 0.5), ("miscount", 1.0))
    assert (config.test_capacity, config.test_fanout_lag_ms) == (300.0, 12000.0)
    assert config.ready_file == Path("ready.json")


def test_every_command_line_field_is_a_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    help_text = capsys.readouterr().out
    for field in dataclasses.fields(ServerConfig):
        name = "test_fault" if field.name == "test_faults" else field.name
        flag = "--" + name.replace("_", "-") + " "
        assert (flag in help_text) == bool(field.metadata.get("cli")), field.name


def test_bad_options_say_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match="--test-fault 'bogus'"):
        _config("--test-fault", "bogus")
    with pytest.raises(SystemExit):
        _config("--page-size", "0")
