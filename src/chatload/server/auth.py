"""Where a client's token comes from in the WebSocket upgrade request."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from websockets.http11 import Request

__all__ = ["token_from_request"]


def token_from_request(request: Request, query_param: str = "token") -> str | None:
    """The token in ``?<query_param>=`` or in ``Authorization: Bearer``; the
    reference server takes no other place (a cookie is refused, as PROTOCOL.md says)."""
    values = parse_qs(urlsplit(request.path).query).get(query_param)
    if values and values[0]:
        return values[0]
    authorization = request.headers.get("Authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    return None
