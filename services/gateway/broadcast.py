"""Once-a-second WebSocket broadcasts: the message is built once, sent to every client.

Every message carries ``sent_ms`` (Unix ms when the round of sends began).

A client that cannot take a message within SEND_TIMEOUT_S is dropped, so one
slow dashboard never delays the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import WebSocket

from common.runtime import supervise

log = logging.getLogger("gateway.broadcast")

SEND_TIMEOUT_S = 1.0


class Broadcaster:
    def __init__(self, name: str, build: Callable[[Any], Any], period: float = 1.0) -> None:
        """``build(key)`` makes the message for the clients subscribed with ``key`` (their filter)."""
        self.name = name
        self.build = build
        self.period = period
        self.clients: dict[WebSocket, Any] = {}
        self.sent = 0
        self.dropped_clients = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = supervise(self._run, f"broadcast {self.name}")

    async def serve(self, websocket: WebSocket, key: Any = None) -> None:
        """Hold a client until it goes away; messages come from the broadcast loop."""
        await websocket.accept()
        self.clients[websocket] = key
        try:
            while True:
                await websocket.receive_text()  # clients need not talk; this notices them leaving
        except Exception:  # disconnects arrive as several exception types
            pass
        finally:
            self.clients.pop(websocket, None)

    async def _send(self, websocket: WebSocket, text: str) -> None:
        try:
            await asyncio.wait_for(websocket.send_text(text), SEND_TIMEOUT_S)
            self.sent += 1
        except Exception:  # a slow or broken client is dropped, never waited for
            self.clients.pop(websocket, None)
            self.dropped_clients += 1
            with contextlib.suppress(Exception):
                await websocket.close()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += self.period
            if self.clients:
                by_key: dict[Any, str] = {}
                sends = []
                sent_ms = int(time.time() * 1000)
                for websocket, key in list(self.clients.items()):
                    if key not in by_key:
                        by_key[key] = json.dumps({**self.build(key), "sent_ms": sent_ms}, default=str)
                    sends.append(self._send(websocket, by_key[key]))
                await asyncio.gather(*sends)
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
