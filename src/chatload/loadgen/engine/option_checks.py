"""The checks of a run's options that span several of them, each failure one line.

Each single option's type and choices are checked where the option table
(``loadgen.engine.options``) parses it; here, the values that must go together.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from chatload.errors import ConfigError

if TYPE_CHECKING:
    from chatload.loadgen.engine.options import ChatOptions

__all__ = ["check_options"]


def check_options(options: ChatOptions) -> None:
    """A :class:`ConfigError` naming the option(s) and the fix when values do not go
    together."""
    _check_transport(options)
    _check_observing(options)
    _check_search(options)
    _check_people(options)
    _check_traffic(options)


def _check_traffic(options: ChatOptions) -> None:
    if options.time_scale <= 0:
        raise ConfigError("--time-scale must be positive (e.g. 24: a day in an hour)")
    if not 0 <= options.traffic_start_hour < 24:
        raise ConfigError("--traffic-start-hour is an hour of the day, 0 to 24")
    if options.population < 0:
        raise ConfigError("--population cannot be negative")
    if options.shape == "search" and options.traffic_model != "none" and options.time_scale != 1:
        raise ConfigError(
            "--time-scale with --shape search and a traffic model: a capacity in production "
            "units plays the model at its own speed; leave --time-scale at 1"
        )


def _check_people(options: ChatOptions) -> None:
    if (
        options.owner_weight < 0
        or options.requester_weight < 0
        or not (options.owner_weight or options.requester_weight)
    ):
        raise ConfigError("--owner-weight and --requester-weight must be >= 0, not both 0")
    if not 0 <= options.think_min <= options.think_max:
        raise ConfigError("think times need 0 <= --think-min <= --think-max")
    if options.task_rate < 0:
        raise ConfigError("--task-rate cannot be negative")
    if not 1 <= options.text_median <= options.text_max:
        raise ConfigError("--text-median must be within 1..--text-max")
    for name, share in (
        ("--photo-probability", options.photo_probability),
        ("--churn-share", options.churn_share),
    ):
        if not 0 <= share <= 1:
            raise ConfigError(f"{name} must be within 0..1, got {share}")
    if options.photo_max < 1 or options.history_pages < 0 or options.max_in_flight < 1:
        raise ConfigError("--photo-max and --max-in-flight must be >= 1, --history-pages >= 0")
    if min(options.connect_timeout, options.answer_timeout, options.churn_interval) <= 0:
        raise ConfigError("timeouts and --churn-interval must be positive")
    if options.chat_interval <= 0 or options.quiesce_seconds < 0 or options.probes < 0:
        raise ConfigError(
            "--chat-interval must be positive, --quiesce-seconds and --probes not negative"
        )
    if not 0 < options.reconnect_base <= options.reconnect_max:
        raise ConfigError("reconnect delays need 0 < --reconnect-base <= --reconnect-max")


def _check_search(options: ChatOptions) -> None:
    if options.search_start_users < 1 or options.search_max_users < 0:
        raise ConfigError("--search-start-users must be >= 1, --search-max-users >= 0")
    if options.search_max_users and options.search_max_users < options.search_start_users:
        raise ConfigError("--search-max-users must be at least --search-start-users")
    if options.search_hold <= 0 or not 0 < options.search_resolution < 1:
        raise ConfigError("--search-hold must be positive, --search-resolution within 0..1")
    if options.capacity_at_least < 0:
        raise ConfigError("--capacity-at-least cannot be negative")


def _check_observing(options: ChatOptions) -> None:
    if options.soak_horizon < 0:
        raise ConfigError("--soak-horizon is hours, 0 or more")
    for url in options.server_metrics:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"--server-metrics {url!r}: give an http(s) URL, e.g. http://host:9100/metrics"
            )
    try:
        re.compile(options.server_metrics_match)
    except re.error as exc:
        raise ConfigError(f"--server-metrics-match is not a regular expression: {exc}") from None


def _check_transport(options: ChatOptions) -> None:
    if options.auth_mode == "auth" and options.transport != "socketio":
        raise ConfigError(
            "--auth-mode auth puts the token in Socket.IO's connect packet: it needs "
            "--transport socketio"
        )
    if not options.namespace.startswith("/"):
        raise ConfigError(f"--namespace must start with /, got {options.namespace!r}")
