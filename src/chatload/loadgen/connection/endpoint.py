"""Where the server is and how to reach it: the transport settings, the URL
checks, the TLS context and the dialer of a target."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

from chatload.errors import ConfigError
from chatload.loadgen.connection.dialer import Dialer

__all__ = [
    "TransportSettings",
    "check_url",
    "dialer_for",
    "refused_token",
    "tls_context",
    "with_query",
]


@dataclass(frozen=True, slots=True)
class TransportSettings:
    auth_mode: str = "query"
    token_param: str = "token"
    cookie_name: str = "token"
    ca_bundle: Path | None = None
    insecure: bool = False
    connect_timeout: float = 10.0
    write_timeout: float = 10.0  # a server that reads nothing for this long is gone
    source_addresses: tuple[str, ...] = ()
    transport: str = "websocket"  # or "socketio" (chatload.protocol.socketio)
    socketio_path: str = "/socket.io/"
    namespace: str = "/"


def tls_context(settings: TransportSettings) -> ssl.SSLContext:
    """Certificate and host name verification on, unless explicitly ``insecure``."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if settings.ca_bundle is not None:
        try:
            context.load_verify_locations(cafile=str(settings.ca_bundle))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"--ca-bundle {settings.ca_bundle} cannot be loaded: {exc}") from None
    if settings.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def refused_token(host: str, user_id: int, status: int) -> str:
    """What to say when the server refuses a user's token in the handshake."""
    return (
        f"the server at {host} refused the token of user {user_id} (HTTP {status}): use the "
        "users file of this server, and check --auth-mode and --token-param"
    )


def with_query(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = "&".join(filter(None, (parts.query, urlencode({name: value}))))
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, parts.fragment))


def check_url(url: str) -> None:
    if urlsplit(url).scheme not in ("ws", "wss"):
        raise ConfigError(f"--host must be a ws:// or wss:// URL, got {url!r}")


def dialer_for(url: str, settings: TransportSettings) -> Dialer:
    """The dialer of the server at ``url``."""
    check_url(url)
    parts = urlsplit(url)
    secure = parts.scheme == "wss"
    port = parts.port or (443 if secure else 80)
    return Dialer(parts.hostname or "", port, settings.source_addresses, label=url)
