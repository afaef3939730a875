"""A chat on python-socketio's server, for chatload to be tested against a Socket.IO
implementation it did not write.

    python tests/loadgen/socketio_chat_app.py DB READY_FILE

python-socketio (threading mode, simple-websocket under werkzeug) does the
Engine.IO and Socket.IO side: the open packet, the namespace connect with its auth
object, the pings (every second, so a client that misses a pong is dropped), event
packets. The chat behind it is chatload's service on the provisioned database,
driven synchronously under one lock: each event in is one ``[name, payload]``
frame for the service, each frame out one ``emit``. The token comes from the
connect's auth object or the ``token`` query parameter. It writes
``{"port": ...}`` to READY_FILE once it listens, and stops on SIGTERM.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson
import socketio
from werkzeug.serving import make_server

from chatload.protocol.codec import ArrayEnvelopeCodec
from chatload.server.service import ChatService, PendingWrite
from chatload.server.store import Store

PING_SECONDS = 1


class Peer:
    def __init__(self, server: socketio.Server, sid: str, user_id: int) -> None:
        self.server, self.sid, self.user_id = server, sid, user_id

    def send(self, frame: bytes) -> None:
        event, data = orjson.loads(frame)
        self.server.emit(event, data, to=self.sid)

    def hold(self) -> None:
        pass

    def release(self) -> None:
        pass


def main(db: Path, ready: Path) -> None:
    store = Store(db)
    world = store.load_world(page_size=50, cached_chats=10_000)
    lock = threading.RLock()

    def submit(write: PendingWrite) -> None:
        service.commit([write])
        service.apply([write])

    service = ChatService(world, store, ArrayEnvelopeCodec(), submit=submit)
    sio = socketio.Server(
        async_mode="threading",
        transports=["websocket"],
        ping_interval=PING_SECONDS,
        ping_timeout=PING_SECONDS,
    )
    peers: dict[str, Peer] = {}

    @sio.event
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if token is None:
            token = parse_qs(environ.get("QUERY_STRING", "")).get("token", [None])[0]
        with lock:
            user_id = service.authenticate(token)
            if user_id is None:
                raise socketio.exceptions.ConnectionRefusedError("invalid token")
            peers[sid] = peer = Peer(sio, sid, user_id)
            service.open(peer)

    @sio.event
    def disconnect(sid: str, *_: Any) -> None:
        with lock:
            peer = peers.pop(sid, None)
            if peer is not None:
                service.close(peer)

    @sio.on("*")
    def any_event(event: str, sid: str, data: Any = None) -> None:
        with lock:
            peer = peers.get(sid)
            if peer is not None:
                service.receive(peer, orjson.dumps([event, data]))

    server = make_server("127.0.0.1", 0, socketio.WSGIApp(sio), threaded=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    ready.write_text(json.dumps({"port": server.server_port}))
    server.serve_forever()
    store.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
