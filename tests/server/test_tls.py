from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
from websockets.sync.client import connect

from chatload.errors import ConfigError
from chatload.server.app import ServerConfig
from tests.support import Dataset, ServerThread


def test_serves_wss_with_a_certificate(
    start_server: Callable[..., ServerThread], dataset: Dataset, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    server = start_server(tls_cert=cert, tls_key=key)
    assert server.url.startswith("wss://127.0.0.1:")
    trusted = ssl.create_default_context(cafile=str(cert))
    token = dataset.identities()[0].token
    with connect(f"{server.url}?token={token}", ssl=trusted) as ws:
        assert '"event":"initial_data"' in str(ws.recv(timeout=5))
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(f"{server.url}?token={token}", ssl=ssl.create_default_context()).__enter__()


def test_tls_options_go_together(dataset: Dataset, certificate: tuple[Path, Path]) -> None:
    with pytest.raises(ConfigError, match="--tls-cert and --tls-key go together"):
        ServerConfig(db=dataset.db, tls_cert=certificate[0])
    bad = ServerConfig(db=dataset.db, tls_cert=certificate[0], tls_key=certificate[0])
    with pytest.raises(ConfigError, match="cannot load --tls-cert"):
        bad.tls_context()
