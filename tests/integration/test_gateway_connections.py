"""The gateway's connection bounds: half-open and trickling HTTP connections are closed, idle
keep-alive connections too; the bearer scheme is case-insensitive."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from services.gateway import server
from tests.gateway_run import GatewayThread, gateway_settings
from tests.helpers import short_tmp

pytestmark = pytest.mark.timeout(60)


def closed(sock: socket.socket, within: float) -> bool:
    """True if the server closes ``sock`` (EOF or reset) within ``within`` seconds."""
    sock.settimeout(within)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_half_open_and_trickling_connections_are_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server.GatewayHttpProtocol, "header_timeout", 1.0)
    with GatewayThread(gateway_settings(short_tmp())) as gateway:
        silent = [socket.create_connection(("127.0.0.1", gateway.port)) for _ in range(20)]
        trickling = [socket.create_connection(("127.0.0.1", gateway.port)) for _ in range(5)]
        for sock in trickling:
            sock.sendall(b"GET /api/polling/status HTTP/1.1\r\nHost: x\r\n")  # never the blank line
        started = time.monotonic()
        assert all(closed(s, 5.0) for s in silent + trickling)
        assert time.monotonic() - started < 5.0
        # a connection that does complete its request is answered, then closed once idle (here by the
        # header deadline, shortened for the test; by default the keep-alive timeout comes first)
        idle = socket.create_connection(("127.0.0.1", gateway.port))
        idle.sendall(b"GET /api/polling/status HTTP/1.1\r\nHost: x\r\n\r\n")
        assert idle.recv(65536).startswith(b"HTTP/1.1 200")
        assert closed(idle, server.KEEPALIVE_S + 3)
        for sock in [*silent, *trickling, idle]:
            sock.close()


def test_bearer_scheme_is_case_insensitive() -> None:
    settings = gateway_settings(short_tmp(), scada_api_token="s3cret-token-for-tests")
    with GatewayThread(settings) as gateway, httpx.Client(base_url=gateway.url, timeout=10) as client:
        for scheme in ("Bearer", "bearer", "BEARER"):
            token = {"Authorization": f"{scheme} s3cret-token-for-tests"}
            answer = client.post("/api/polling/start-all", headers=token)
            assert answer.status_code == 404, (scheme, answer.text)  # past the token: no active PLC
        assert client.post("/api/polling/start-all", headers={"Authorization": "bearer wrong"}).status_code == 403
        assert client.post("/api/polling/start-all", headers={"Authorization": "Basic abc"}).status_code == 401
        assert client.post("/api/polling/start-all").status_code == 401
