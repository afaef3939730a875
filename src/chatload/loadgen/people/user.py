"""The abstract chat user: an identity, its connection, its lifecycle.

:class:`ChatUser` borrows an identity of its ``role`` when it starts and gives it
back when it stops, owns one :class:`ChatClient` (the connection and its receive
greenlet), reconnects with exponential backoff and full jitter after the server
drops it, and, if it is one of the churning users, disconnects and reconnects on
purpose now and then. Personas subclass it and only declare tasks, using
``chat_task`` so that a task runs only while connected.

With a traffic model (``--traffic-model``) a user is a slot instead: it waits for a
session the model offers, borrows a person of its role for it, connects, lives the
session (:class:`~chatload.loadgen.people.session.ModelSession`, or the persona's
``session_class``), and gives the person back. Its tasks are not used then.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import Any, ClassVar, Final, TypeVar

import gevent
from locust import User, task
from locust.env import Environment

from chatload.errors import ChatloadError, ConfigError, HandshakeRejected
from chatload.loadgen.connection.backoff import Backoff
from chatload.loadgen.connection.client import ChatClient
from chatload.loadgen.connection.transport import refused_token
from chatload.loadgen.engine.options import ChatOptions
from chatload.loadgen.engine.runtime import ChatRuntime
from chatload.loadgen.people.session import ModelSession
from chatload.loadgen.people.shares import Share
from chatload.tracking.view import Chat
from chatload.users_file import Identity, Role

__all__ = ["ChatUser", "chat_task", "runtime_for"]

log = logging.getLogger("chatload.loadgen")

U = TypeVar("U", bound="ChatUser")

_ARRIVALS_SPREAD: Final = 1.0  # seconds: Locust's spawn batches are a second apart


def runtime_for(environment: Environment) -> ChatRuntime:
    """The run's :class:`ChatRuntime`, which the plugin hangs off the environment."""
    runtime = getattr(environment, "chatload", None)
    if not isinstance(runtime, ChatRuntime):
        raise ConfigError(
            "chatload is not set up: call chatload.loadgen.install(events) in the locustfile"
        )
    return runtime


def set_runtime(environment: Environment, runtime: ChatRuntime | None) -> None:
    # Locust's Environment has no slot for a plugin's state: an attribute of ours.
    setattr(environment, "chatload", runtime)  # noqa: B010


def chat_task(weight: int = 1) -> Callable[[Callable[[U], None]], Callable[[U], None]]:
    """A Locust task that runs only when the user is connected (reconnecting first
    if it is due)."""

    def decorate(function: Callable[[U], None]) -> Callable[[U], None]:
        @functools.wraps(function)
        def run(user: U) -> None:
            if not user.runtime.quiet and user.ready():
                function(user)

        return task(weight)(run)

    return decorate


class ChatUser(User):
    """The abstract chat user: it owns the connection; personas declare tasks.

    A persona's own ``weight`` or ``fixed_count`` is kept; a persona that sets
    neither gets ``--owner-weight`` or ``--requester-weight`` by its ``role``.
    """

    abstract = True
    role: ClassVar[Role] = "requester"
    declares_share: ClassVar[bool] = False
    session_class: ClassVar[type[ModelSession]] = ModelSession  # a model run's person

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.declares_share = "weight" in cls.__dict__ or "fixed_count" in cls.__dict__

    @classmethod
    def share(cls, options: ChatOptions) -> Share:
        """Its role, weight and fixed count in a run with ``options``."""
        if cls.declares_share:
            return Share(cls.role, cls.weight, cls.fixed_count)
        weight = options.owner_weight if cls.role == "owner" else options.requester_weight
        return Share(cls.role, weight, 0)

    def __init__(self, environment: Environment) -> None:
        # Locust makes a second's worth of users in one loop turn: what can wait
        # for the user's own greenlet (on_start) does.
        super().__init__(environment)
        self.runtime = runtime_for(environment)
        self.identity: Identity | None = None
        self.client: ChatClient | None = None
        self.churner = False
        self.next_churn = 0.0
        self._next_start = 0.0
        self._backoff: Backoff | None = None

    @property
    def rng(self) -> random.Random:
        """The process's random generator (one per process: a Random is 2.5 kB)."""
        return self.runtime.rng

    @property
    def backoff(self) -> Backoff:
        if self._backoff is None:
            options = self.runtime.options
            self._backoff = Backoff(options.reconnect_base, options.reconnect_max, self.rng)
        return self._backoff

    def wait_time(self) -> float:
        if self.runtime.traffic is not None:
            return 0.0  # a slot waits for its sessions itself
        options = self.runtime.options
        if options.task_rate > 0:
            # Constant pace: the next action starts 1/rate after the previous one did.
            now = time.monotonic()
            self._next_start = max(self._next_start + 1.0 / options.task_rate, now)
            return self._next_start - now
        return self.rng.uniform(options.think_min, options.think_max)

    def on_start(self) -> None:
        # Locust starts a second's worth of users at once; people arrive spread
        # over the second, and a thousand connects begun in one loop turn would
        # hold the event loop (and every timing in flight) for a tenth of a second.
        runtime = self.runtime
        if runtime.traffic is not None:
            return  # a slot: a person is borrowed for each session
        gevent.sleep(self.rng.random() * _ARRIVALS_SPREAD)
        # On failure the user stays idle (ready() is False) while the run ends:
        # StopUser from on_start would make Locust log a traceback per user.
        if runtime.failed:
            return
        try:
            self.identity = self._borrow()
        except ConfigError as exc:
            runtime.fatal(str(exc))
            return
        self.client = ChatClient(runtime, self.identity)
        options = runtime.options
        self.churner = self.rng.random() < options.churn_share
        self.next_churn = time.monotonic() + self.rng.uniform(0.5, 1.5) * options.churn_interval
        self._next_start = time.monotonic()
        if self.ready():
            # Someone who opens the chat looks before writing: the first action
            # comes a think time after initial_data, as every later one does.
            self.wait()

    def _borrow(self) -> Identity:
        """A person for this user. While every person of the role is lent, up to the
        connect timeout for one to come back: a user Locust stopped gives its person
        back once its connection has closed, and a new level may need that person."""
        runtime = self.runtime
        deadline = time.monotonic() + runtime.options.connect_timeout
        while True:
            try:
                return runtime.lender.acquire(self.role, runtime.options.connect_timeout)
            except ConfigError:
                if time.monotonic() >= deadline or runtime.failed:
                    raise
            gevent.sleep(0.1)

    def on_stop(self) -> None:
        # Locust kills the users it stops, and may kill one again while it closes: the
        # person is given back whatever happens to the close, or a level that needs
        # every identity waits for one that never comes (seen in a search in CI).
        try:
            if self.client is not None:
                self.client.close()
        finally:
            if self.identity is not None:
                self.runtime.lender.release(self.identity)
                self.identity = None

    def live_sessions(self) -> None:
        """A model run's only task: wait for a session, live it, give the person back."""
        runtime, engine = self.runtime, self.runtime.traffic
        if engine is None or runtime.quiet or runtime.failed:
            gevent.sleep(0.5)
            return
        ticket = engine.wait_for_session(self.role)
        if ticket is None or runtime.quiet:
            return
        identity = ticket.identity
        if identity is None:
            try:
                identity = runtime.lender.acquire(self.role, runtime.options.connect_timeout)
            except ConfigError:  # every person of the role is online already
                engine.batch.count(f"{self.role}.dropped")
                return
        # An arrival's session, or one begun to answer (``answering``).
        kind = (
            "answering" if ticket.turn is not None else "resumed" if ticket.resumed else "started"
        )
        engine.batch.count(f"{self.role}.{kind}")
        self.identity, self.client = identity, ChatClient(runtime, identity)
        try:
            connecting = time.time()
            self.client.connect()
            engine.connected_in(time.time() - connecting)
            self.session_class(engine, self.client, runtime.writer, self.role, ticket).run()
            self.client.finish_sends()
        except ChatloadError:
            pass  # the failure was reported as a sample; the slot waits again
        finally:
            self.client.close()
            runtime.lender.release(identity)
            self.identity = self.client = None

    def ready(self) -> bool:
        """Connected now? Reconnects when due: after a drop (with backoff) or to churn."""
        client = self.client
        if client is None or self.runtime.failed:
            return False
        now = time.monotonic()
        if self.churner and client.connected and now >= self.next_churn:
            client.close()
            self.next_churn = now + self.rng.uniform(0.5, 1.5) * self.runtime.options.churn_interval
        if client.connected:
            return True
        if now >= self.backoff.next_attempt:
            self._reconnect(client, now)
        return client.connected

    def _reconnect(self, client: ChatClient, now: float) -> None:
        try:
            client.connect()
        except HandshakeRejected as exc:
            if exc.status in (401, 403):
                assert self.identity is not None
                self.runtime.fatal(
                    refused_token(self.runtime.host, self.identity.user_id, exc.status)
                )
            self.backoff.failed(now)
        except ChatloadError as exc:
            delay = self.backoff.failed(now)
            log.debug("connect failed, retrying in %.1f s: %s", delay, exc)
        else:
            self.backoff.succeeded()

    # What personas build on. Each is a no-op while the user is not connected
    # (a persona's plain @task runs then too; a @chat_task does not).

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.connected

    @property
    def chats(self) -> list[Chat]:
        return list(self.client.chats.values()) if self.client is not None else []

    def chats_by_event(self) -> dict[int, list[Chat]]:
        """This user's chats grouped by event id."""
        grouped: dict[int, list[Chat]] = {}
        for view in self.chats:
            grouped.setdefault(view.event_id, []).append(view)
        return grouped

    def unread_chats(self) -> list[Chat]:
        return [view for view in self.chats if view.my_unread > 0]

    def write(self, view: Chat, photos: int | None = None) -> None:
        """A message in ``view``'s chat: Faker text of the run's length, with the
        run's share of photos, or exactly ``photos`` photo UUIDs."""
        client = self.client
        if client is None or not client.connected:
            return
        writer = self.runtime.writer
        if photos is None:
            text, drafted = writer.draft()
        else:  # not the run's draw of photos too: only the ones asked for
            text, drafted = writer.text(), writer.photo_ids(photos)
        client.send_message(view.chat_id, text, drafted)

    def read_up_to_last(self, view: Chat) -> None:
        client = self.client
        if client is not None and client.connected and view.last_id:
            client.read_messages(view.chat_id, view.last_id)

    def read_an_unread_chat(self) -> None:
        """Read one chat with unread messages, up to the last message seen."""
        unread = self.unread_chats()
        if unread:
            self.read_up_to_last(self.rng.choice(unread))

    def page_back_a_chat(self) -> None:
        chats = self.chats
        if chats:
            self.page_back(self.rng.choice(chats))

    def page_back(self, view: Chat) -> None:
        """Load up to ``--history-pages`` pages below the oldest message seen."""
        if self.client is None:
            return
        for _ in range(self.runtime.options.history_pages):
            before = view.oldest_loaded or view.last_id + 1
            if before <= 1 or not self.client.connected:
                return
            page = self.client.load_history(view.chat_id, before)
            if not page:
                return
