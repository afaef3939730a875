"""Nothing acknowledged is ever lost, and ids stay contiguous, whatever happens."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support import Client, Dataset, ServerProcess, ServerThread


def _full_history(
    client: Client, chat_id: str, newest: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    seen = list(newest)
    while seen:
        client.send("load_history", {"chatId": chat_id, "lastMessageId": seen[0]["messageId"]})
        _, data = client.expect("history")
        if not data["messages"]:
            break
        seen = data["messages"] + seen
    return seen


def _initial_chats(client: Client) -> dict[str, dict[str, Any]]:
    return {chat["chatId"]: chat for entry in client.initial for chat in entry["chats"]}


def test_a_restart_keeps_everything(dataset: Dataset, tmp_path: Path) -> None:
    chat = dataset.chats()[0]
    with ServerProcess(dataset.db, tmp_path) as server:
        with (
            Client(server.url, dataset.token(chat.owner_id)) as owner,
            Client(server.url, dataset.token(chat.requester_id)) as requester,
        ):
            for n in range(5):
                requester.send(
                    "send_message", {"chatId": chat.chat_id, "message": {"text": f"r{n}"}}
                )
                requester.expect("chat_updates")
                requester.expect("chat_unread")
            owner.send("read_messages", {"chatId": chat.chat_id, "lastReadedMessageId": 123})
            requester.expect("chat_unread")
        with Client(server.url, dataset.token(chat.owner_id)) as owner:
            before = _initial_chats(owner)
            history_before = _full_history(owner, chat.chat_id, before[chat.chat_id]["messages"])
        assert server.signal(signal.SIGTERM) == 0
    with (
        ServerProcess(dataset.db, tmp_path) as server,
        Client(server.url, dataset.token(chat.owner_id)) as owner,
    ):
        after = _initial_chats(owner)
        assert after == before
        assert after[chat.chat_id]["myUnreadCount"] == 2
        assert _full_history(owner, chat.chat_id, after[chat.chat_id]["messages"]) == history_before
        assert [m["messageId"] for m in history_before] == list(range(1, 126))
        owner.send("send_message", {"chatId": chat.chat_id, "message": {"text": "after restart"}})
        _, data = owner.expect("chat_updates")
        assert data["messages"][0]["messageId"] == 126


async def _burst(
    url: str, token: str, chat_id: str, tag: str, acked: dict[str, int], window: int
) -> None:
    """Send as fast as acks allow (``window`` in flight) until the connection dies."""
    sent = 0
    credit = asyncio.Semaphore(window)
    with contextlib.suppress(ConnectionClosed, OSError):
        async with connect(f"{url}?token={token}", max_size=None) as ws:
            await ws.recv()  # initial_data

            closed = asyncio.Event()

            async def read(ws: ClientConnection) -> None:
                try:
                    async for raw in ws:
                        envelope = orjson.loads(raw)
                        if envelope["event"] != "chat_updates":
                            continue
                        for message in envelope["data"]["messages"]:
                            if message["text"].startswith(tag + ":"):
                                acked[message["text"]] = message["messageId"]
                                credit.release()
                finally:
                    closed.set()
                    credit.release()  # wakes the sender so that it sees the end

            reader = asyncio.create_task(read(ws))
            try:
                while True:
                    await credit.acquire()
                    if closed.is_set():
                        break
                    sent += 1
                    await ws.send(
                        orjson.dumps(
                            {
                                "event": "send_message",
                                "data": {"chatId": chat_id, "message": {"text": f"{tag}:{sent}"}},
                            }
                        ).decode()
                    )
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await reader


def test_kill_9_during_a_burst_loses_no_acknowledged_message(
    dataset: Dataset, tmp_path: Path
) -> None:
    chats = dataset.chats()[:4]
    acked: dict[str, dict[str, int]] = {}

    async def run(server: ServerProcess) -> None:
        tasks = []
        for index, chat in enumerate(chats):
            for side, user in (("o", chat.owner_id), ("r", chat.requester_id)):
                tag = f"{side}{index}"
                acked[tag] = {}
                tasks.append(
                    asyncio.create_task(
                        _burst(server.url, dataset.token(user), chat.chat_id, tag, acked[tag], 20)
                    )
                )
        await asyncio.sleep(1.5)
        server.kill9()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)

    with ServerProcess(dataset.db, tmp_path) as server:
        asyncio.run(run(server))
    total_acked = sum(len(a) for a in acked.values())
    assert total_acked > 500, "the burst was too small to prove anything"

    with ServerProcess(dataset.db, tmp_path) as server:
        for index, chat in enumerate(chats):
            with Client(server.url, dataset.token(chat.owner_id)) as owner:
                newest = _initial_chats(owner)[chat.chat_id]["messages"]
                history = _full_history(owner, chat.chat_id, newest)
            ids = [m["messageId"] for m in history]
            assert ids == list(range(1, len(ids) + 1)), f"gap or repeat in {chat.chat_id}"
            stored = {m["text"]: m["messageId"] for m in history}
            for side in ("o", "r"):
                for text, message_id in acked[f"{side}{index}"].items():
                    assert stored.get(text) == message_id, f"acknowledged {text} lost or moved"
            texts = [m["text"] for m in history[120:]]
            assert len(texts) == len(set(texts)), "a message was stored twice"


def _assert_contiguous(last: int, frames: list[dict[str, Any]], total: int) -> None:
    ids = [m["messageId"] for f in frames for m in f["messages"]]
    assert ids == list(range(last + 1, last + total + 1))


def test_concurrent_senders_get_contiguous_ids(server: ServerThread, dataset: Dataset) -> None:
    chat = dataset.chats()[0]
    last = len(dataset.messages(chat.chat_id))
    per_sender = 150
    users = [chat.owner_id, chat.owner_id, chat.requester_id, chat.requester_id]

    async def sender(user_id: int, tag: str) -> list[dict[str, Any]]:
        updates: list[dict[str, Any]] = []
        async with connect(f"{server.url}?token={dataset.token(user_id)}", max_size=None) as ws:
            await ws.recv()
            for n in range(per_sender):
                await ws.send(
                    orjson.dumps(
                        {
                            "event": "send_message",
                            "data": {"chatId": chat.chat_id, "message": {"text": f"{tag}:{n}"}},
                        }
                    ).decode()
                )
            while len(updates) < per_sender * len(users):
                envelope = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
                if envelope["event"] == "chat_updates":
                    updates.append(envelope["data"])
        return updates

    async def run() -> list[list[dict[str, Any]]]:
        return await asyncio.gather(*(sender(u, f"s{i}") for i, u in enumerate(users)))

    seen_by = asyncio.run(run())
    for updates in seen_by:
        # Every connection sees every message of the chat, in id order, once.
        _assert_contiguous(last, updates, per_sender * len(users))
    texts = [m["text"] for m in (msg for f in seen_by[0] for msg in f["messages"])]
    for index in range(len(users)):
        mine = [t for t in texts if t.startswith(f"s{index}:")]
        assert mine == [f"s{index}:{n}" for n in range(per_sender)]


def test_sigterm_finishes_accepted_writes_then_closes_with_1001(
    dataset: Dataset, tmp_path: Path
) -> None:
    chat = dataset.chats()[0]
    with (
        ServerProcess(dataset.db, tmp_path) as server,
        Client(server.url, dataset.token(chat.owner_id)) as owner,
    ):
        for n in range(50):
            owner.send("send_message", {"chatId": chat.chat_id, "message": {"text": f"t{n}"}})
        server.process.send_signal(signal.SIGTERM)
        texts: list[str] = []
        close_code = None
        try:
            while True:
                event, data, _ = owner.recv(10)
                if event == "chat_updates":
                    texts.extend(m["text"] for m in data["messages"])
        except ConnectionClosed as closed:
            close_code = closed.rcvd.code if closed.rcvd else None
        assert server.process.wait(30) == 0
    assert close_code == 1001
    stored = [m["text"] for m in dataset.messages(chat.chat_id)[120:]]
    # Whatever was acknowledged is stored, in order; what was stored was acknowledged.
    assert texts == stored
    assert texts == [f"t{n}" for n in range(len(texts))]
    log = server.log_file.read_text()
    assert "shutting down" in log
    assert "stopped" in log
