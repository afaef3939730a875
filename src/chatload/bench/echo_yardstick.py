"""The yardstick of ``chatload bench-generator``: a raw gevent + websocket-client echo loop.

    python -m chatload.bench.echo_yardstick serve READY_FILE
    python -m chatload.bench.echo_yardstick client URL CONNECTIONS SECONDS

``serve`` is a websockets echo server (asyncio, uvloop when installed).
``client`` patches the standard library with gevent, opens CONNECTIONS
websocket-client connections, each in its own greenlet sending a chat-sized text
frame and waiting for its echo, and prints one JSON line: round trips and frames
per second and the CPU it used. No chat logic, no metrics: what the client
library alone can do on one core, to read the generator's figure against.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from chatload.bench.common import own_cpu_seconds

_PAYLOAD = json.dumps(
    {"event": "chat_updates", "data": {"chatId": "x" * 36, "messages": [{"text": "y" * 200}]}}
)


def serve(ready_file: Path) -> None:
    import asyncio

    from websockets.asyncio.server import ServerConnection
    from websockets.asyncio.server import serve as websocket_serve

    from chatload.server.app import event_loop_factory

    async def echo(connection: ServerConnection) -> None:
        async for message in connection:
            await connection.send(message)

    async def main() -> None:
        async with websocket_serve(echo, "127.0.0.1", 0, compression=None) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            ready_file.write_text(
                json.dumps({"url": f"ws://127.0.0.1:{port}/", "pid": os.getpid()})
            )
            await asyncio.Future()

    with asyncio.Runner(loop_factory=event_loop_factory("auto")) as runner:
        runner.run(main())


def client(url: str, connections: int, seconds: float) -> dict[str, Any]:
    from gevent import monkey

    monkey.patch_all()
    import gevent
    import websocket

    counts = [0]
    running = [True]

    def loop(ws: Any) -> None:
        while running[0]:
            ws.send(_PAYLOAD)
            ws.recv()
            counts[0] += 1

    sockets = [websocket.create_connection(url) for _ in range(connections)]
    greenlets = [gevent.spawn(loop, ws) for ws in sockets]
    gevent.sleep(1.0)  # warm-up
    before, cpu_before, started = counts[0], own_cpu_seconds(), time.perf_counter()
    gevent.sleep(seconds)
    elapsed = time.perf_counter() - started
    round_trips = (counts[0] - before) / elapsed
    cpu = (own_cpu_seconds() - cpu_before) / elapsed
    running[0] = False
    gevent.killall(greenlets, timeout=2)
    return {"round_trips_per_s": round_trips, "frames_per_s": 2 * round_trips, "cpu": cpu}


def main(argv: list[str]) -> int:
    if argv[0] == "serve":
        serve(Path(argv[1]))
        return 0
    result = client(argv[1], int(argv[2]), float(argv[3]))
    print(json.dumps(result), flush=True)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
