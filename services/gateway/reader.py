"""The gateway's socket readers share this: a socket, a task that reads it, a clean close."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import zmq.asyncio

from common.runtime import supervise


class SocketReader:
    """Subclasses make ``self.sock`` and implement ``on_frames``, called with each multipart message."""

    sock: zmq.asyncio.Socket

    def __init__(self) -> None:
        self.bad_frames = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = supervise(self._read, type(self).__name__)

    async def _read(self) -> None:
        while True:
            self.on_frames(await self.sock.recv_multipart())

    def on_frames(self, parts: list[Any]) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.sock.close(linger=0)
