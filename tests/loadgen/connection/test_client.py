"""The client wrapper's surface, without a connection."""

from __future__ import annotations

from typing import Any, cast

import pytest

from chatload.errors import ConfigError, NotConnected
from chatload.loadgen.connection.client import ChatClient, ClientHost
from chatload.users_file import Identity


def test_a_request_on_a_client_that_is_not_connected_says_so_in_one_line() -> None:
    client = ChatClient(cast(ClientHost, cast(Any, None)), Identity(7, "token", "owner"))
    for request in (
        lambda: client.send_message("chat", "hello", []),
        lambda: client.read_messages("chat", 3),
        lambda: client.load_history("chat", 10),
    ):
        with pytest.raises(NotConnected) as raised:
            request()
        assert isinstance(raised.value, ConfigError)
        assert str(raised.value) == (
            "user 7 is not connected: decorate the persona's task with @chat_task "
            "(it runs only when connected), or check self.connected first"
        )
