"""The client's pool: keep-alive borrows one connection at a time, so the groups keep the others."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from common.mc.client import PlcClient
from common.mc.commands import Codec, Echo
from common.mc.errors import PlcTimeoutError


def test_keep_alive_echoes_idle_connections_one_at_a_time() -> None:
    async def scenario() -> None:
        client = PlcClient("KRCWO12ELOA101", "127.0.0.1", [1, 2, 3, 4], Codec(), timeout=1.0)
        free_during_echo: list[int] = []
        for i, connection in enumerate(client.connections):
            connection._writer = object()  # type: ignore[assignment]  # "connected", without a socket
            connection.last_used = 0.0 if i != 2 else time.monotonic()  # #2 was just used

            async def echo(request: Any, deadline: float | None = None, c: Any = connection) -> list[int]:
                assert isinstance(request, Echo)
                free_during_echo.append(client._idle.qsize())
                c.last_used = 1e12
                return []

            connection.request = echo  # type: ignore[method-assign]
        assert await client.keep_alive(idle_seconds=20) == 3
        assert free_during_echo == [3, 3, 3]  # the other three stayed free for reads during each echo
        assert client._idle.qsize() == 4
        assert await client.keep_alive(idle_seconds=20) == 0  # all of them just spoke
        for connection in client.connections:
            connection._writer = None

    asyncio.run(scenario())


def test_a_request_past_its_cycles_deadline_is_not_sent() -> None:
    """A free connection does not make a late request go out: past the deadline it fails at once, and the
    connection is neither used nor dropped."""
    async def scenario() -> None:
        client = PlcClient("KRCWO12ELOA101", "127.0.0.1", [1], Codec(), timeout=1.0)
        sent: list[Any] = []

        async def request(request: Any, deadline: float | None = None) -> list[int]:
            sent.append(request)
            return []

        client.connections[0].request = request  # type: ignore[method-assign]
        with client.deadline(time.monotonic() - 0.001):
            try:
                await client.execute(Echo())
            except PlcTimeoutError as error:
                assert "no pooled connection free" in str(error)
            else:
                raise AssertionError("a request past its deadline was sent")
        assert sent == [] and client._idle.qsize() == 1
        with client.deadline(time.monotonic() + 1):
            await client.execute(Echo())  # within its deadline it goes
        assert len(sent) == 1

    asyncio.run(scenario())
