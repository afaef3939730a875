"""chatload's options on Locust's command line, in its web UI and in env vars.

``add_arguments`` is an ``init_command_line_parser`` listener; the locustfile
registers it. ``ChatOptions.from_parsed`` turns Locust's parsed options (which the
web UI updates at each start) into a checked, typed object.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from chatload.errors import ConfigError
from chatload.protocol.codec import CODECS
from chatload.tracking.tracker import Timeouts

__all__ = ["AUTH_MODES", "PHOTO_FIELDS", "ChatOptions", "add_arguments"]

AUTH_MODES: Final = ("query", "bearer", "cookie")
PHOTO_FIELDS: Final = ("both", "photos", "attachedPhotos")


def add_arguments(parser: Any) -> None:
    """Register chatload's options on Locust's parser (``init_command_line_parser``).

    Registered on the parser itself, not in groups: only there does Locust take
    ``include_in_web_ui`` and ``env_var``.
    """
    parser.add_argument(
        "--users-file",
        env_var="CHATLOAD_USERS_FILE",
        default="",
        help="users.csv (user_id,token,role) of the server under --host; "
        "without --host chatload provisions its own",
    )
    parser.add_argument(
        "--auth-mode",
        env_var="CHATLOAD_AUTH_MODE",
        default="query",
        choices=AUTH_MODES,
        help="where the token goes in the handshake",
    )
    parser.add_argument(
        "--token-param",
        env_var="CHATLOAD_TOKEN_PARAM",
        default="token",
        help="query parameter of --auth-mode query",
    )
    parser.add_argument(
        "--cookie-name",
        env_var="CHATLOAD_COOKIE_NAME",
        default="token",
        help="cookie of --auth-mode cookie",
    )
    parser.add_argument(
        "--ca-bundle",
        env_var="CHATLOAD_CA_BUNDLE",
        default="",
        help="PEM file of CAs to trust for wss:// (default: the system's)",
    )
    parser.add_argument(
        "--insecure",
        env_var="CHATLOAD_INSECURE",
        action="store_true",
        default=False,
        help="wss:// without certificate verification",
    )
    parser.add_argument(
        "--envelope",
        env_var="CHATLOAD_ENVELOPE",
        default="object",
        choices=sorted(CODECS),
        help="frame envelope: object {event,data} or array",
    )
    parser.add_argument(
        "--markers",
        env_var="CHATLOAD_MARKERS",
        default="on",
        choices=("on", "off"),
        help="append a correlation marker to message text (off: match by order)",
    )

    parser.add_argument("--owner-weight", type=int, default=1, env_var="CHATLOAD_OWNER_WEIGHT")
    parser.add_argument(
        "--requester-weight", type=int, default=3, env_var="CHATLOAD_REQUESTER_WEIGHT"
    )
    parser.add_argument(
        "--think-min",
        type=float,
        default=1.0,
        env_var="CHATLOAD_THINK_MIN",
        help="seconds between a user's actions, at least",
    )
    parser.add_argument("--think-max", type=float, default=4.0, env_var="CHATLOAD_THINK_MAX")
    parser.add_argument(
        "--task-rate",
        type=float,
        default=0.0,
        env_var="CHATLOAD_TASK_RATE",
        help="actions per second per user at a constant pace (0: think times)",
    )
    parser.add_argument(
        "--text-locale",
        default="ru_RU",
        env_var="CHATLOAD_TEXT_LOCALE",
        help="Faker locale of message texts, e.g. ru_RU or en_US",
    )
    parser.add_argument(
        "--text-median",
        type=int,
        default=60,
        env_var="CHATLOAD_TEXT_MEDIAN",
        help="median message length in characters (log-normal)",
    )
    parser.add_argument("--text-max", type=int, default=1000, env_var="CHATLOAD_TEXT_MAX")
    parser.add_argument(
        "--photo-probability", type=float, default=0.1, env_var="CHATLOAD_PHOTO_PROBABILITY"
    )
    parser.add_argument("--photo-max", type=int, default=3, env_var="CHATLOAD_PHOTO_MAX")
    parser.add_argument(
        "--photo-fields",
        default="both",
        choices=PHOTO_FIELDS,
        env_var="CHATLOAD_PHOTO_FIELDS",
        help="which send_message photo lists to fill",
    )
    parser.add_argument(
        "--history-pages",
        type=int,
        default=3,
        env_var="CHATLOAD_HISTORY_PAGES",
        help="pages a user loads when it pages back through a chat",
    )
    parser.add_argument(
        "--churn-share",
        type=float,
        default=0.1,
        env_var="CHATLOAD_CHURN_SHARE",
        help="share of users that disconnect and reconnect",
    )
    parser.add_argument(
        "--churn-interval",
        type=float,
        default=30.0,
        env_var="CHATLOAD_CHURN_INTERVAL",
        help="seconds between their reconnects",
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=8,
        env_var="CHATLOAD_MAX_IN_FLIGHT",
        help="unacknowledged messages a user may have before it waits",
    )

    parser.add_argument(
        "--reconnect-base",
        type=float,
        default=0.5,
        env_var="CHATLOAD_RECONNECT_BASE",
        help="first reconnect delay after a drop, doubled per failure (full jitter)",
    )
    parser.add_argument(
        "--reconnect-max",
        type=float,
        default=30.0,
        env_var="CHATLOAD_RECONNECT_MAX",
        help="longest reconnect delay, seconds",
    )
    parser.add_argument(
        "--connect-timeout", type=float, default=10.0, env_var="CHATLOAD_CONNECT_TIMEOUT"
    )
    parser.add_argument(
        "--answer-timeout",
        type=float,
        default=10.0,
        env_var="CHATLOAD_ANSWER_TIMEOUT",
        help="seconds to wait for any awaited frame before a timeout failure",
    )

    parser.add_argument(
        "--chat-interval",
        type=float,
        default=5.0,
        env_var="CHATLOAD_CHAT_INTERVAL",
        help="seconds per row of the microsecond export (PREFIX_chat_metrics.csv)",
    )
    parser.add_argument(
        "--chat-samples",
        default="",
        env_var="CHATLOAD_CHAT_SAMPLES",
        help="also write every sample to PATH.<process>.csv (large; off by default)",
    )
    parser.add_argument(
        "--quiesce-seconds",
        type=float,
        default=3.0,
        env_var="CHATLOAD_QUIESCE_SECONDS",
        help="at the end, stop sending and wait this long before comparing unread counts",
    )
    parser.add_argument(
        "--saturation-cpu",
        type=float,
        default=90.0,
        env_var="CHATLOAD_SATURATION_CPU",
        help="generator CPU percent from which an interval is marked saturated",
    )
    parser.add_argument(
        "--saturation-lag-ms",
        type=float,
        default=10.0,
        env_var="CHATLOAD_SATURATION_LAG_MS",
        help="event-loop lag p99 from which an interval is marked saturated",
    )
    parser.add_argument(
        "--probes",
        type=int,
        default=0,
        env_var="CHATLOAD_PROBES",
        include_in_web_ui=False,
        help="access-probe users that poke at other people's chats (security scenario)",
    )
    parser.add_argument(
        "--slo",
        action="append",
        default=[],
        env_var="CHATLOAD_SLO",
        help="a threshold, e.g. 'delivery p99 < 250ms' or 'invariant breaches == 0' "
        "(repeatable); a breached one makes the run exit 1",
    )
    parser.add_argument(
        "--slo-junit",
        default="",
        env_var="CHATLOAD_SLO_JUNIT",
        help="write the SLO verdicts as JUnit XML here",
    )
    parser.add_argument(
        "--slo-check-interval",
        type=float,
        default=0.0,
        env_var="CHATLOAD_SLO_CHECK_INTERVAL",
        help="also check the SLOs every so many seconds during the run (0: at the end only)",
    )
    parser.add_argument(
        "--slo-abort",
        action="store_true",
        default=False,
        env_var="CHATLOAD_SLO_ABORT",
        help="with --slo-check-interval, end the run as soon as an SLO is breached",
    )
    parser.add_argument(
        "--shape",
        default="",
        env_var="CHATLOAD_SHAPE",
        include_in_web_ui=False,
        help="a load shape of the locustfile (StagesShape, StepShape) driven by --stages",
    )
    parser.add_argument(
        "--stages",
        default="",
        env_var="CHATLOAD_STAGES",
        include_in_web_ui=False,
        help="the shape's stages as JSON (see scenarios/)",
    )
    parser.add_argument(
        "--embedded-owners",
        type=int,
        default=0,
        include_in_web_ui=False,
        help="owners to provision (0: enough for the run)",
    )
    parser.add_argument(
        "--embedded-requesters",
        type=int,
        default=0,
        include_in_web_ui=False,
        help="requesters to provision (0: enough for the run)",
    )
    parser.add_argument(
        "--embedded-history",
        type=int,
        default=120,
        include_in_web_ui=False,
        help="messages of history per provisioned chat",
    )


@dataclass(frozen=True, slots=True)
class ChatOptions:
    users_file: Path | None = None
    auth_mode: str = "query"
    token_param: str = "token"
    cookie_name: str = "token"
    ca_bundle: Path | None = None
    insecure: bool = False
    envelope: str = "object"
    markers: bool = True
    owner_weight: int = 1
    requester_weight: int = 3
    think_min: float = 1.0
    think_max: float = 4.0
    task_rate: float = 0.0
    text_locale: str = "ru_RU"
    text_median: int = 60
    text_max: int = 1000
    photo_probability: float = 0.1
    photo_max: int = 3
    photo_fields: str = "both"
    history_pages: int = 3
    churn_share: float = 0.1
    churn_interval: float = 30.0
    max_in_flight: int = 8
    reconnect_base: float = 0.5
    reconnect_max: float = 30.0
    connect_timeout: float = 10.0
    answer_timeout: float = 10.0
    chat_interval: float = 5.0
    chat_samples: Path | None = None
    quiesce_seconds: float = 3.0
    saturation_cpu: float = 90.0
    saturation_lag_ms: float = 10.0
    probes: int = 0
    slo: tuple[str, ...] = ()
    slo_junit: Path | None = None
    slo_check_interval: float = 0.0
    slo_abort: bool = False
    shape: str = ""
    stages: str = ""
    embedded_owners: int = 0
    embedded_requesters: int = 0
    embedded_history: int = 120

    def __post_init__(self) -> None:
        if self.auth_mode not in AUTH_MODES:
            raise ConfigError(f"--auth-mode must be one of {', '.join(AUTH_MODES)}")
        if self.photo_fields not in PHOTO_FIELDS:
            raise ConfigError(f"--photo-fields must be one of {', '.join(PHOTO_FIELDS)}")
        if (
            self.owner_weight < 0
            or self.requester_weight < 0
            or not (self.owner_weight or self.requester_weight)
        ):
            raise ConfigError("--owner-weight and --requester-weight must be >= 0, not both 0")
        if not 0 <= self.think_min <= self.think_max:
            raise ConfigError("think times need 0 <= --think-min <= --think-max")
        if self.task_rate < 0:
            raise ConfigError("--task-rate cannot be negative")
        if not 1 <= self.text_median <= self.text_max:
            raise ConfigError("--text-median must be within 1..--text-max")
        for name, share in (
            ("--photo-probability", self.photo_probability),
            ("--churn-share", self.churn_share),
        ):
            if not 0 <= share <= 1:
                raise ConfigError(f"{name} must be within 0..1, got {share}")
        if self.photo_max < 1 or self.history_pages < 0 or self.max_in_flight < 1:
            raise ConfigError("--photo-max and --max-in-flight must be >= 1, --history-pages >= 0")
        if min(self.connect_timeout, self.answer_timeout, self.churn_interval) <= 0:
            raise ConfigError("timeouts and --churn-interval must be positive")
        if self.chat_interval <= 0 or self.quiesce_seconds < 0 or self.probes < 0:
            raise ConfigError(
                "--chat-interval must be positive, --quiesce-seconds and --probes not negative"
            )
        if not 0 < self.reconnect_base <= self.reconnect_max:
            raise ConfigError("reconnect delays need 0 < --reconnect-base <= --reconnect-max")

    @classmethod
    def from_parsed(cls, parsed: argparse.Namespace | None) -> ChatOptions:
        """From Locust's parsed options; anything absent keeps its default."""
        values = vars(parsed) if parsed is not None else {}
        kwargs: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            if name in values and values[name] is not None:
                kwargs[name] = values[name]
        if isinstance(kwargs.get("slo"), list):
            kwargs["slo"] = tuple(kwargs["slo"])
        for name in ("users_file", "ca_bundle", "chat_samples", "slo_junit"):
            kwargs[name] = Path(kwargs[name]) if kwargs.get(name) else None
        if isinstance(kwargs.get("markers"), str):
            kwargs["markers"] = kwargs["markers"] == "on"
        return cls(**kwargs)

    @property
    def timeouts(self) -> Timeouts:
        t = self.answer_timeout
        return Timeouts(ack=t, delivery=t, unread=t, read=t, history=t)
