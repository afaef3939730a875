"""chatload's options on Locust's command line, in its web UI and in env vars.

Each option is defined once, as a field of :class:`ChatOptions`: its type, its
default and, in the field's metadata, its help, choices, section and whether the
web UI shows it. From that one table come Locust's ``add_argument`` calls
(``loadgen.engine.arguments``, an ``init_command_line_parser`` listener), the typed
options of a run (:meth:`ChatOptions.from_parsed`, which the web UI updates at
each start) and the options reference in ``docs/options.md``
(:mod:`chatload.docgen`).
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from chatload.errors import ConfigError
from chatload.loadgen.connection.dialer import parse_source_addresses
from chatload.loadgen.connection.transport import TransportSettings
from chatload.loadgen.engine.option_checks import check_options
from chatload.protocol.codec import CODECS, EnvelopeCodec, codec_by_name
from chatload.protocol.socketio import SocketIOCodec
from chatload.tracking.pending import Timeouts

__all__ = [
    "AUTH_MODES",
    "PHOTO_FIELDS",
    "SECTIONS",
    "ChatOptions",
    "flag_of",
]

AUTH_MODES: Final = ("query", "bearer", "cookie", "auth")
TRANSPORTS: Final = ("websocket", "socketio")
PHOTO_FIELDS: Final = ("both", "photos", "attachedPhotos")
SECTIONS: Final = {
    "target": "The target server",
    "people": "What the people do",
    "traffic": "Traffic like production (docs/traffic.md)",
    "timing": "Waits, timeouts and reconnects",
    "records": "Records and generator health",
    "scale": "Many connections",
    "slo": "SLO gates and live metrics",
    "shape": "Load shapes and the embedded server",
}


def _option(
    default: Any,
    help: str,
    *,
    section: str,
    choices: tuple[str, ...] | None = None,
    web_ui: bool = True,
    metavar: str | None = None,
) -> Any:
    """A field of :class:`ChatOptions` with what the command line needs to know."""
    assert section in SECTIONS
    meta = {
        "help": help,
        "section": section,
        "choices": choices,
        "web_ui": web_ui,
        "metavar": metavar,
    }
    if isinstance(default, list | tuple):
        return dataclasses.field(default=tuple(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True, slots=True)
class ChatOptions:
    # The target server
    users_file: Path | None = _option(
        None,
        "users.csv (user_id,token,role) of the server under --host; "
        "without --host chatload provisions its own",
        section="target",
        metavar="PATH",
    )
    transport: str = _option(
        "websocket",
        "plain WebSocket frames, or Socket.IO v5 over Engine.IO v4",
        section="target",
        choices=TRANSPORTS,
    )
    socketio_path: str = _option("/socket.io/", "Socket.IO's path on --host", section="target")
    namespace: str = _option("/", "Socket.IO namespace of the chat", section="target")
    auth_mode: str = _option(
        "query",
        "where the token goes: ?token=, Authorization: Bearer, a cookie, or Socket.IO's "
        "connect auth object",
        section="target",
        choices=AUTH_MODES,
    )
    token_param: str = _option("token", "query parameter of --auth-mode query", section="target")
    cookie_name: str = _option("token", "cookie of --auth-mode cookie", section="target")
    ca_bundle: Path | None = _option(
        None,
        "PEM file of CAs to trust for wss:// (default: the system's)",
        section="target",
        metavar="PEM",
    )
    insecure: bool = _option(False, "wss:// without certificate verification", section="target")
    envelope: str = _option(
        "object",
        "frame envelope: object {event,data} or array [event,data]",
        section="target",
        choices=tuple(sorted(CODECS)),
    )
    markers: bool = _option(
        True,
        "append a correlation marker to message text (off: match by order)",
        section="target",
        choices=("on", "off"),
    )
    # Traffic like production
    traffic_model: str = _option(
        "none",
        "a traffic model: a file from chatload traffic fit, default (the built-in one), or "
        "none (think times: -u users act all run)",
        section="traffic",
        metavar="FILE",
    )
    time_scale: float = _option(
        1.0,
        "play the traffic model K times faster: every gap divided by K, every rate times K",
        section="traffic",
        metavar="K",
    )
    traffic_start_hour: float = _option(
        0.0, "the model's hour of the day when the run starts (0-24)", section="traffic"
    )
    population: int = _option(
        0,
        "people in the model's world, the owners and requesters split by their weights "
        "(0: the users file's, or as many as -u holds at the busiest hour for the embedded "
        "server); with --shape search, the people of 1x (0: 1,000)",
        section="traffic",
    )
    # What the people do
    owner_weight: int = _option(1, "share of event owners among the users", section="people")
    requester_weight: int = _option(3, "share of requesters among the users", section="people")
    think_min: float = _option(
        1.0, "seconds between a user's actions, at least", section="people", metavar="S"
    )
    think_max: float = _option(
        4.0, "seconds between a user's actions, at most", section="people", metavar="S"
    )
    task_rate: float = _option(
        0.0,
        "actions per second per user at a constant pace (0: think times)",
        section="people",
        metavar="PER_S",
    )
    text_locale: str = _option(
        "ru_RU", "Faker locale of message texts, e.g. ru_RU or en_US", section="people"
    )
    text_median: int = _option(
        60, "median message length in characters (log-normal)", section="people"
    )
    text_max: int = _option(1000, "longest message in characters", section="people")
    photo_probability: float = _option(0.1, "share of messages with photo UUIDs", section="people")
    photo_max: int = _option(3, "photo UUIDs in a message with photos, at most", section="people")
    photo_fields: str = _option(
        "both", "which send_message photo lists to fill", section="people", choices=PHOTO_FIELDS
    )
    history_pages: int = _option(
        3, "pages a user loads when it pages back through a chat", section="people"
    )
    churn_share: float = _option(
        0.1,
        "share of users that disconnect and reconnect on purpose (think-time runs; "
        "a model run's sessions come and go by the model)",
        section="people",
    )
    churn_interval: float = _option(
        30.0, "seconds between a churning user's reconnects", section="people", metavar="S"
    )
    max_in_flight: int = _option(
        8, "unacknowledged messages a user may have before it waits", section="people"
    )
    # Waits, timeouts and reconnects
    reconnect_base: float = _option(
        0.5,
        "first reconnect delay after a drop, doubled per failure (full jitter)",
        section="timing",
        metavar="S",
    )
    reconnect_max: float = _option(30.0, "longest reconnect delay", section="timing", metavar="S")
    connect_timeout: float = _option(
        10.0,
        "seconds to open a connection (TCP, TLS, upgrade); initial_data is awaited this "
        "long when it is longer than --answer-timeout",
        section="timing",
        metavar="S",
    )
    answer_timeout: float = _option(
        10.0,
        "seconds to wait for any awaited frame before a timeout failure",
        section="timing",
        metavar="S",
    )
    quiesce_seconds: float = _option(
        60.0,
        "at the end, stop sending and settle: wait while answers still arrive, at most "
        "this long, before judging loss, gaps and unread counts (docs/checks.md)",
        section="timing",
        metavar="S",
    )
    # Records and generator health
    chat_interval: float = _option(
        5.0,
        "seconds per row of the microsecond export (PREFIX_chat_metrics.csv)",
        section="records",
        metavar="S",
    )
    chat_samples: Path | None = _option(
        None,
        "also write every sample to PATH.<process>.csv (large; off by default)",
        section="records",
        metavar="PATH",
    )
    history_store: str | None = _option(
        None, "at the end, add the run to this history store", section="records", metavar="DIR|URL"
    )
    saturation_cpu: float = _option(
        90.0,
        "generator CPU percent from which an interval is marked saturated",
        section="records",
    )
    saturation_lag_ms: float = _option(
        10.0,
        "event-loop lag p99 (ms) from which an interval is marked saturated",
        section="records",
    )
    probes: int = _option(
        0,
        "access-probe users that poke at other people's chats (security scenario)",
        section="records",
        web_ui=False,
    )
    # Many connections
    source_addresses: tuple[str, ...] = _option(
        (),
        "local addresses to spread connections over, e.g. 127.0.0.1-127.0.0.16 "
        "(each gives ~28,000 ports towards one server address)",
        section="scale",
        metavar="LIST",
    )
    # SLO gates
    slo: tuple[str, ...] = _option(
        (),
        "a threshold, e.g. 'delivery p99 < 250ms' or 'invariant breaches == 0' "
        "(repeatable); a breached one makes the run exit 1",
        section="slo",
    )
    slo_junit: Path | None = _option(
        None, "write the SLO verdicts as JUnit XML here", section="slo", metavar="PATH"
    )
    slo_check_interval: float = _option(
        0.0,
        "also check the SLOs every so many seconds during the run (0: at the end only)",
        section="slo",
        metavar="S",
    )
    slo_abort: bool = _option(
        False,
        "with --slo-check-interval, end the run as soon as an SLO is breached",
        section="slo",
    )
    soak_horizon: float = _option(
        24.0,
        "hours past the run's end each drift is projected over (PREFIX_drift.csv)",
        section="slo",
        metavar="H",
    )
    server_metrics: tuple[str, ...] = _option(
        (),
        "a Prometheus text endpoint of the server under test, scraped every --chat-interval "
        "into PREFIX_server_metrics.csv (repeatable; the embedded server's without asking)",
        section="slo",
        web_ui=False,
        metavar="URL",
    )
    server_metrics_match: str = _option(
        "",
        "keep only the scraped series whose name matches this regular expression",
        section="slo",
        web_ui=False,
        metavar="REGEX",
    )
    prometheus_port: int = _option(
        0,
        "serve the run's metrics for Prometheus on this port (0: off; master or local run)",
        section="slo",
        web_ui=False,
        metavar="PORT",
    )
    # Load shapes and the embedded server
    shape: str = _option(
        "",
        "a load shape: StagesShape or StepShape of the locustfile driven by --stages, or "
        "search (the capacity search, --search-*)",
        section="shape",
        web_ui=False,
    )
    search_start_users: int = _option(
        10, "the search's first level", section="shape", web_ui=False, metavar="N"
    )
    search_max_users: int = _option(
        0,
        "the search's highest level (0: what the users file or the embedded dataset holds; "
        "an embedded dataset is made for up to 20,000 users, within the open files of the "
        "server and of a one-process run)",
        section="shape",
        web_ui=False,
        metavar="N",
    )
    search_hold: float = _option(
        30.0,
        "the longest a level is judged, after its users are in: it ends as soon as its "
        "samples decide every SLO (docs/reports.md); still undecided here, it counts as "
        "holding",
        section="shape",
        web_ui=False,
        metavar="S",
    )
    search_resolution: float = _option(
        0.10,
        "the search ends when the lowest failing level is within this fraction above the "
        "highest holding one",
        section="shape",
        web_ui=False,
        metavar="F",
    )
    search_confirm: bool = _option(
        False,
        "hold the search's answer once more at its end (a level that fails then moves it "
        "down); off, no level an earlier verdict implies is judged again",
        section="shape",
        web_ui=False,
    )
    capacity_at_least: int = _option(
        0,
        "with --shape search: exit 1 when the capacity found is below N users (a CI gate)",
        section="shape",
        web_ui=False,
        metavar="N",
    )
    stages: str = _option(
        "", "the shape's stages as JSON (see scenarios/)", section="shape", web_ui=False
    )
    embedded_owners: int = _option(
        0, "owners to provision (0: enough for the run)", section="shape", web_ui=False
    )
    embedded_requesters: int = _option(
        0, "requesters to provision (0: enough for the run)", section="shape", web_ui=False
    )
    embedded_history: int = _option(
        120, "messages of history per provisioned chat", section="shape", web_ui=False
    )

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            choices, value = field.metadata["choices"], getattr(self, field.name)
            if choices and isinstance(value, str) and value not in choices:
                raise ConfigError(f"{flag_of(field)} must be one of {', '.join(choices)}")
        check_options(self)

    @classmethod
    def from_parsed(cls, parsed: argparse.Namespace | None) -> ChatOptions:
        """From Locust's parsed options; anything absent keeps its default."""
        values = vars(parsed) if parsed is not None else {}
        kwargs: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            value = values.get(field.name)
            if value is None:
                continue
            kwargs[field.name] = _typed(field.type, field.name, value)
        return cls(**kwargs)

    @property
    def timeouts(self) -> Timeouts:
        t = self.answer_timeout
        return Timeouts(ack=t, delivery=t, unread=t, read=t, history=t)

    @property
    def initial_data_timeout(self) -> float:
        """How long the first frame is awaited: part answer, part connection."""
        return max(self.answer_timeout, self.connect_timeout)

    def codec(self) -> EnvelopeCodec:
        """How events travel: Socket.IO's event packets, or the chosen envelope."""
        if self.transport == "socketio":
            return SocketIOCodec(self.namespace)
        return codec_by_name(self.envelope)

    @property
    def transport_settings(self) -> TransportSettings:
        """How connections are opened: the one place these options meet the transport."""
        return TransportSettings(
            auth_mode=self.auth_mode,
            token_param=self.token_param,
            cookie_name=self.cookie_name,
            ca_bundle=self.ca_bundle,
            insecure=self.insecure,
            connect_timeout=self.connect_timeout,
            write_timeout=self.answer_timeout,
            transport=self.transport,
            socketio_path=self.socketio_path,
            namespace=self.namespace,
            source_addresses=self.source_addresses,
        )


def _typed(kind: Any, name: str, value: Any) -> Any:  # noqa: PLR0911 - one return per type
    """A parsed value (a string from the web UI or an env var, or already typed)
    as the field's type."""
    if kind == "Path | None":
        return Path(value) if value else None
    if kind == "bool":
        if isinstance(value, str):
            return value.strip().lower() in ("on", "true", "1", "yes")
        return bool(value)
    if kind == "tuple[str, ...]":
        if name == "source_addresses":
            text = " ".join(value) if isinstance(value, list | tuple) else str(value)
            return parse_source_addresses(text)
        if isinstance(value, list | tuple):
            return tuple(value)
        # The web UI's text field: thresholds separated by ';' or new lines.
        return tuple(
            part.strip() for part in str(value).replace("\n", ";").split(";") if part.strip()
        )
    if kind in ("int", "float") and isinstance(value, str):
        try:
            return int(value) if kind == "int" else float(value)
        except ValueError:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(f"{flag} must be a number, got {value!r}") from None
    return value


def flag_of(field: dataclasses.Field[Any]) -> str:
    return "--" + field.name.replace("_", "-")
