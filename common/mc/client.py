"""The async MC client: one PLC, a pool of connections, one request per connection at a time.

Strategy: a Q-series Ethernet port answers one request per connection at a
time, so the client keeps ``pool_size`` connections (each on its own port
when the PLC gives one per connection) and hands each request to an idle
one; a plan's requests run on the pool in parallel. A connection that timed
out or returned bytes that are not the reply to its request is closed and
replaced -- a late or stray reply must never be read as the answer to the
next request. Reconnects back off exponentially with jitter, capped. The
client never retries a request: the poller owns timing and retries.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from common.mc.commands import Codec, Echo, ReplyValues, Request
from common.mc.errors import FrameError, McError, PlcConnectionError, PlcEndCodeError, PlcTimeoutError
from common.mc.frames import reply_size
from common.mc.planner import ReadPlan

log = logging.getLogger(__name__)


@dataclass
class Backoff:
    """Exponential backoff with full jitter: delay n is random in [base*2^n / 2, base*2^n], capped."""

    base: float = 0.5
    cap: float = 30.0
    failures: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * (2 ** min(self.failures, 16)))
        self.failures += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0


class Connection:
    """One TCP connection to the PLC; at most one request outstanding."""

    def __init__(self, plc_code: str, host: str, port: int, codec: Codec, timeout: float, index: int) -> None:
        self.plc_code, self.host, self.port, self.codec, self.timeout = plc_code, host, port, codec, timeout
        self.index = index
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._buffer = bytearray()
        self._backoff = Backoff()
        self._retry_at = 0.0
        self.last_used = 0.0
        self.last_error: str | None = None
        self.requests = 0
        self.reconnects = 0

    @property
    def state(self) -> str:
        if self._writer is not None:
            return "CONNECTED"
        return "BACKOFF" if time.monotonic() < self._retry_at else "DISCONNECTED"

    def describe(self) -> dict[str, object]:
        return {"index": self.index, "port": self.port, "state": self.state, "requests": self.requests,
                "reconnects": self.reconnects, "last_error": self.last_error}

    async def _connect(self) -> None:
        now = time.monotonic()
        if now < self._retry_at:
            raise PlcConnectionError(
                f"{self.plc_code} {self.host}:{self.port}: reconnecting in {self._retry_at - now:.1f} s "
                f"(last error: {self.last_error})"
            )
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout
            )
        except (OSError, TimeoutError) as error:
            self._fail(f"connect failed: {error or type(error).__name__}")
            raise PlcConnectionError(f"{self.plc_code} {self.host}:{self.port}: {self.last_error}") from None
        self._buffer.clear()
        self.reconnects += 1
        self._backoff.reset()

    def _fail(self, reason: str) -> None:
        self.last_error = reason
        self._retry_at = time.monotonic() + self._backoff.next_delay()
        self.close()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
        self._buffer.clear()

    async def request(self, request: Request) -> ReplyValues:
        if self._writer is None:
            await self._connect()
        assert self._reader is not None and self._writer is not None
        frame = self.codec.encode(request)  # local errors raise before anything is sent
        self.requests += 1
        self.last_used = time.monotonic()
        try:
            self._writer.write(frame)
            reply = await asyncio.wait_for(self._read_reply(), self.timeout)
        except TimeoutError:
            self._fail(f"no reply to {request} within {self.timeout:.1f} s")
            raise PlcTimeoutError(f"{self.plc_code}: {self.last_error}") from None
        except FrameError as error:
            self._fail(f"malformed reply to {request}: {error}")
            raise FrameError(f"{self.plc_code}: {self.last_error}") from None
        except (OSError, asyncio.IncompleteReadError, ConnectionError) as error:
            self._fail(f"connection lost during {request}: {error or type(error).__name__}")
            raise PlcConnectionError(f"{self.plc_code}: {self.last_error}") from None
        try:
            return self.codec.decode(request, reply)
        except PlcEndCodeError as error:
            # A clean error reply: the connection itself is fine.
            raise type(error)(error.end_code, f"{self.plc_code}: {request}") from None
        except FrameError as error:
            self._fail(f"reply does not match {request}: {error}")
            raise FrameError(f"{self.plc_code}: {self.last_error}") from None

    async def _read_reply(self) -> bytes:
        assert self._reader is not None
        while True:
            size = reply_size(self._buffer, self.codec.encoding)
            if size is not None and len(self._buffer) >= size:
                if len(self._buffer) > size:
                    raise FrameError(f"{len(self._buffer) - size} bytes beyond the reply")
                frame = bytes(self._buffer)
                self._buffer.clear()
                return frame
            chunk = await self._reader.read(65536)
            if not chunk:
                raise ConnectionError("closed by the PLC")
            self._buffer += chunk


class PlcClient:
    """A pool of connections to one PLC."""

    def __init__(self, plc_code: str, host: str, ports: Sequence[int], codec: Codec, timeout: float) -> None:
        self.plc_code = plc_code
        self.connections = [Connection(plc_code, host, p, codec, timeout, i) for i, p in enumerate(ports)]
        self._idle: asyncio.Queue[Connection] = asyncio.Queue()
        for c in self.connections:
            self._idle.put_nowait(c)

    async def execute(self, request: Request) -> ReplyValues:
        connection = await self._idle.get()
        try:
            return await connection.request(request)
        finally:
            self._idle.put_nowait(connection)

    async def read(self, plan: ReadPlan) -> list[object]:
        """Run every request of ``plan`` over the pool; each tag's value or its request's error."""
        results = await asyncio.gather(*(self.execute(r) for r in plan.requests), return_exceptions=True)
        replies: list[list[int] | BaseException] = []
        for result in results:
            if isinstance(result, BaseException):
                if not isinstance(result, McError):
                    raise result
                replies.append(result)
            else:
                assert isinstance(result, list)
                replies.append(result)
        return list(plan.decode(replies))

    async def keep_alive(self, idle_seconds: float) -> None:
        """Echo on every connected connection idle longer than ``idle_seconds``."""
        now = time.monotonic()
        for c in self.connections:
            if c.state == "CONNECTED" and now - c.last_used > idle_seconds and self._idle.qsize():
                try:
                    await self.execute(Echo())
                except McError as error:
                    log.info("%s: keep-alive failed: %s", self.plc_code, error)

    def describe(self) -> list[dict[str, object]]:
        return [c.describe() for c in self.connections]

    def close(self) -> None:
        for c in self.connections:
            c.close()
