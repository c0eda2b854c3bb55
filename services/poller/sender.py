"""The poller's send queue: bounded, never blocking the polling, drops counted.

Strategy: PollingData frames wait in a deque of DATA_QUEUE_SIZE; a full queue
drops its oldest frame and counts it. A sender task moves frames to the PUSH
socket without blocking. The socket sets ZMQ_IMMEDIATE and a small high-water
mark, so while the buffer is away frames stay here, where they are counted,
rather than in ZeroMQ's pipe. What is still queued when the poller stops is
saved to a file and queued again, first, at the next start.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from pathlib import Path
from typing import Any

import msgpack
import zmq

from common import bus

log = logging.getLogger("poller.sender")


class SendQueue:
    def __init__(self, ctx: zmq.Context[Any], endpoint: str, capacity: int) -> None:
        self.capacity = capacity
        self.frames: deque[bytes] = deque()
        self.dropped = 0
        self.sent = 0
        self._wake = asyncio.Event()
        self.sock = bus.make_socket(ctx, zmq.PUSH, connect=endpoint, hwm=100, linger=0, immediate=True)

    def put(self, frame: bytes) -> None:
        if len(self.frames) >= self.capacity:
            self.frames.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("send queue full (%d): dropped the oldest PollingData (%d so far)",
                            self.capacity, self.dropped)
        self.frames.append(frame)
        self._wake.set()

    def _send_ready(self) -> bool:
        """Send what the socket takes now; False when it takes no more."""
        while self.frames:
            try:
                self.sock.send(self.frames[0], zmq.NOBLOCK)
            except zmq.Again:
                return False
            self.frames.popleft()
            self.sent += 1
        return True

    async def run(self) -> None:
        while True:
            if self._send_ready():
                self._wake.clear()
                await self._wake.wait()
            else:
                await asyncio.sleep(0.05)

    async def flush(self, timeout: float) -> int:
        """Try to send everything queued within ``timeout``; returns what is left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.frames and loop.time() < deadline:
            if not self._send_ready():
                await asyncio.sleep(0.02)
        return len(self.frames)

    def save(self, path: Path) -> int:
        """Write what is still queued to ``path`` (for the next start); returns how many frames."""
        if not self.frames:
            return 0
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            handle.write(msgpack.packb(list(self.frames), use_bin_type=True))
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
        return len(self.frames)

    def load(self, path: Path) -> int:
        """Queue the frames a previous run saved, before anything new; returns how many."""
        if not path.exists():
            return 0
        try:
            frames = msgpack.unpackb(path.read_bytes(), raw=False)
            if not isinstance(frames, list) or not all(isinstance(f, bytes) for f in frames):
                raise ValueError("not a list of frames")
        except (ValueError, msgpack.UnpackException) as error:
            aside = path.with_suffix(".unreadable")
            path.rename(aside)
            log.error("saved send queue %s unreadable (%s); moved to %s", path, error, aside)
            return 0
        for frame in frames:
            self.put(frame)
        path.unlink()
        return len(frames)

    def figures(self) -> dict[str, Any]:
        return {"size": len(self.frames), "capacity": self.capacity, "dropped": self.dropped, "sent": self.sent,
                "utilization_pct": round(100 * len(self.frames) / self.capacity, 2) if self.capacity else 0.0}

    def close(self) -> None:
        self.sock.close(linger=0)
