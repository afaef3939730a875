"""The process-wide reader, on gevent's hub (no monkey patching, real sockets)."""

from __future__ import annotations

import socket
import time

import gevent

from chatload.loadgen.connection.receiver import Receiver, cooperatively


class Connection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.queued = False
        self.chunks: list[bytes] = []

    def on_readable(self) -> None:
        self.chunks.append(self.sock.recv(65536))


def wait_for(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        gevent.sleep(0.005)


def test_one_greenlet_reads_every_ready_connection() -> None:
    receiver = Receiver()
    receiver.start()
    pairs = [socket.socketpair() for _ in range(50)]
    connections = [Connection(ours) for ours, _ in pairs]
    watchers = [receiver.watch(c.sock.fileno(), c) for c in connections]
    for n, (_, theirs) in enumerate(pairs):
        theirs.send(f"frame {n}".encode())
    wait_for(lambda: all(c.chunks for c in connections))
    assert [c.chunks for c in connections] == [[f"frame {n}".encode()] for n in range(50)]
    assert receiver.visits == 50  # each connection once: nothing spun on a drained socket
    Receiver.unwatch(watchers[0])
    pairs[0][1].send(b"after")
    pairs[1][1].send(b"more")
    wait_for(lambda: len(connections[1].chunks) == 2)
    assert connections[0].chunks == [b"frame 0"]  # no longer watched
    receiver.stop()
    for watcher in watchers[1:]:
        Receiver.unwatch(watcher)
    for ours, theirs in pairs:
        ours.close()
        theirs.close()


def test_a_long_pass_lets_others_run_every_millisecond() -> None:
    ticks: list[float] = []

    def ticker() -> None:
        while True:
            ticks.append(time.perf_counter())
            gevent.sleep(0)

    other = gevent.spawn(ticker)
    gevent.sleep(0)
    ticks.clear()
    started = time.perf_counter()
    for _ in cooperatively(range(200)):
        spin_until = time.perf_counter() + 0.0002
        while time.perf_counter() < spin_until:
            pass
    elapsed = time.perf_counter() - started
    other.kill()
    # 40 ms of work, yielding each millisecond: without the yields the other
    # greenlet would wait for all of it (a margin for a busy machine).
    gaps = [b - a for a, b in zip([started, *ticks], ticks, strict=False)]
    assert len(ticks) >= 10 and max(gaps) < elapsed / 2
