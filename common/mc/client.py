"""The async MC client: one PLC, a pool of connections, one request per connection at a time.

Strategy: a Q-series Ethernet port answers one request per connection at a
time, so the client keeps ``pool_size`` connections (each on its own port
when the PLC gives one per connection) and hands each request to an idle
one; a plan's requests run on the pool in parallel. A connection that timed
out or returned bytes that are not the reply to its request is closed and
replaced -- a late or stray reply must never be read as the answer to the
next request; in 4E frames every request carries its own serial number and a
reply with another one is rejected the same way. UDP connections (udp.py)
keep the same interface with their own loss handling. A PLC that refuses
connections is retried with exponential backoff and jitter, capped; a
connection that merely broke is replaced at once. A read sent on a reused connection that turns out to have been closed
by the PLC while idle is sent once more on a fresh one (reads change
nothing); otherwise the client never retries: the poller owns timing and
retries. A request waits for a free connection, connects and waits for its
reply at most until the deadline of the polling cycle it works for
(``PlcClient.deadline``), else the timeout: a silent PLC holds each
connection for the whole timeout, and a cycle queued behind them would
otherwise miss deadline after deadline with nothing to show for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from common.mc.commands import Codec, Echo, ReplyValues, Request
from common.mc.errors import FrameError, McError, PlcConnectionError, PlcEndCodeError, PlcTimeoutError
from common.mc.frames import MAX_SERIAL, ReplySplitter
from common.mc.planner import ReadPlan

if TYPE_CHECKING:  # types for mypy only: common/wire/figures.py
    from common.wire.figures import ConnectionFigures

log = logging.getLogger(__name__)

#: the deadline (monotonic) of the polling cycle the current task works for; see PlcClient.deadline
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("plc_deadline", default=None)


@dataclass
class Backoff:
    """Exponential backoff with jitter: delay n is random in [d/2, d], d = base x 2^n, capped."""

    base: float = 0.5
    cap: float = 30.0
    failures: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * (2 ** min(self.failures, 16)))
        self.failures += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0


class _StaleConnection(Exception):
    """The PLC had closed this idle connection before our request reached it."""


class Connection:
    """One TCP connection to the PLC; at most one request outstanding."""

    def __init__(self, plc_code: str, host: str, port: int, codec: Codec, timeout: float, index: int,
                 backoff: Backoff | None = None) -> None:
        self.plc_code, self.host, self.port, self.codec, self.timeout = plc_code, host, port, codec, timeout
        self.index = index
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._splitter = ReplySplitter(codec.encoding, codec.frame)
        self._serial = 0  # the 4E serial number of the request outstanding
        self._backoff = backoff or Backoff()
        self._retry_at = 0.0
        self._fresh = False
        self.last_used = 0.0
        self.last_error: str | None = None
        self.requests = 0
        self.failures = 0
        self.connects = 0

    @property
    def state(self) -> str:
        if self._writer is not None:
            return "CONNECTED"
        return "BACKOFF" if time.monotonic() < self._retry_at else "DISCONNECTED"

    def describe(self) -> ConnectionFigures:
        return {"index": self.index, "port": self.port, "state": self.state, "requests": self.requests,
                "failures": self.failures, "connects": self.connects, "last_error": self.last_error}

    async def _connect(self, timeout: float) -> None:
        now = time.monotonic()
        if now < self._retry_at:
            raise PlcConnectionError(
                f"{self.plc_code} {self.host}:{self.port}: reconnecting in {self._retry_at - now:.1f} s "
                f"(last error: {self.last_error})"
            )
        try:
            async with asyncio.timeout(timeout):
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        except (OSError, TimeoutError) as error:
            self.last_error = f"connect failed: {error or type(error).__name__}"
            self._retry_at = time.monotonic() + self._backoff.next_delay()
            self.failures += 1
            raise PlcConnectionError(f"{self.plc_code} {self.host}:{self.port}: {self.last_error}") from None
        self._splitter.clear()
        self._fresh = True
        self.connects += 1
        self._backoff.reset()

    def _drop(self, reason: str) -> None:
        """Close after a failed request: the next request connects again at once."""
        self.last_error = reason
        self.failures += 1
        self.close()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
        self._splitter.clear()

    async def request(self, request: Request, deadline: float | None = None) -> ReplyValues:
        """Send ``request`` and read its reply, within the timeout and before ``deadline`` (monotonic)."""
        self._serial = (self._serial + 1) & MAX_SERIAL
        frame = self.codec.encode(request, self._serial)  # local errors raise before anything is sent
        try:
            return await self._exchange(request, frame, deadline)
        except _StaleConnection:
            if not request.rereadable:
                self._drop(f"connection closed by the PLC before {request}")
                raise PlcConnectionError(f"{self.plc_code}: {self.last_error}") from None
            self.close()
            return await self._exchange(request, frame, deadline)

    def _time_left(self, deadline: float | None) -> float:
        if deadline is None:
            return self.timeout
        return max(0.0, min(self.timeout, deadline - time.monotonic()))

    async def _exchange(self, request: Request, frame: bytes, deadline: float | None) -> ReplyValues:
        if self._reader is not None and self._reader.at_eof():
            self.close()  # the PLC closed it while idle: just connect again
        if self._writer is None:
            await self._connect(self._time_left(deadline))
        assert self._reader is not None and self._writer is not None
        reused, self._fresh = not self._fresh, False
        self.requests += 1
        self.last_used = time.monotonic()
        timeout = self._time_left(deadline)
        try:
            self._writer.write(frame)
            async with asyncio.timeout(timeout):
                reply = await self._read_reply(reused)
        except _StaleConnection:
            raise
        except TimeoutError:
            pending = self._splitter.pending
            detail = f" ({pending} bytes of a reply)" if pending else ""
            self._drop(f"no complete reply to {request} within {timeout:.1f} s{detail}")
            raise PlcTimeoutError(f"{self.plc_code}: {self.last_error}") from None
        except FrameError as error:
            self._drop(f"malformed reply to {request}: {error}")
            raise FrameError(f"{self.plc_code}: {self.last_error}") from None
        except (OSError, asyncio.IncompleteReadError, ConnectionError) as error:
            self._drop(f"connection lost during {request}: {error or type(error).__name__}")
            raise PlcConnectionError(f"{self.plc_code}: {self.last_error}") from None
        try:
            return self.codec.decode(request, reply, self._serial)
        except PlcEndCodeError as error:
            # A clean error reply: the connection itself is fine.
            raise type(error)(error.end_code, f"{self.plc_code}: {request}") from None
        except FrameError as error:
            self._drop(f"reply does not match {request}: {error}")
            raise type(error)(f"{self.plc_code}: {self.last_error}") from None  # SerialMismatchError stays one

    async def _read_reply(self, reused: bool) -> bytes:
        assert self._reader is not None
        while True:
            try:
                chunk = await self._reader.read(65536)
            except ConnectionResetError:
                if reused and not self._splitter.pending:
                    raise _StaleConnection() from None
                raise
            if not chunk:
                if reused and not self._splitter.pending:
                    raise _StaleConnection()
                raise ConnectionError("closed by the PLC")
            frames = self._splitter.feed(chunk)
            if len(frames) > 1 or (frames and self._splitter.pending):
                raise FrameError("more than one reply to one request")
            if frames:
                return frames[0]


def _connection_class(transport: str) -> type[Connection]:
    if transport == "UDP":
        from common.mc.udp import UdpConnection  # the UDP transport builds on Connection

        return UdpConnection
    if transport != "TCP":
        raise ValueError(f"transport {transport!r}: TCP or UDP")
    return Connection


class PlcClient:
    """A pool of connections to one PLC."""

    def __init__(self, plc_code: str, host: str, ports: Sequence[int], codec: Codec, timeout: float,
                 transport: str = "TCP") -> None:
        self.plc_code = plc_code
        self.timeout = timeout
        self.connections: list[Connection] = [
            _connection_class(transport)(plc_code, host, p, codec, timeout, i) for i, p in enumerate(ports)
        ]
        self._idle: asyncio.Queue[Connection] = asyncio.Queue()
        for c in self.connections:
            self._idle.put_nowait(c)

    @contextlib.contextmanager
    def deadline(self, at: float) -> Iterator[None]:
        """Every request made inside (in this task, and the tasks it starts) ends by ``at`` (monotonic).

        A polling cycle sets its deadline once, so its reads -- and a HANDSHAKE
        group's trigger look -- never wait past it, for a free connection or
        for the PLC.
        """
        token = _deadline.set(at)
        try:
            yield
        finally:
            _deadline.reset(token)

    async def execute(self, request: Request) -> ReplyValues:
        """Run ``request`` on a free pooled connection; waits for one until the deadline (or the timeout)."""
        deadline = _deadline.get()
        wait = self.timeout if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            if wait <= 0:  # the cycle's deadline has passed: nothing more is sent for it
                raise TimeoutError
            async with asyncio.timeout(wait):
                connection = await self._idle.get()
        except TimeoutError:
            raise PlcTimeoutError(f"{self.plc_code}: no pooled connection free for {request} within {wait:.2f} s "
                                  f"({len(self.connections)} busy)") from None
        try:
            return await connection.request(request, deadline)
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

    async def keep_alive(self, idle_seconds: float) -> int:
        """Echo on each idle connected connection silent longer than ``idle_seconds``; returns how many.

        One connection is borrowed at a time, so the others stay free for reads
        while a slow PLC answers an echo; a connection in use is not idle.
        """
        echoed = 0
        for _ in range(len(self.connections)):
            try:
                connection = self._idle.get_nowait()
            except asyncio.QueueEmpty:
                break
            try:
                if connection.state == "CONNECTED" and time.monotonic() - connection.last_used > idle_seconds:
                    echoed += 1
                    with contextlib.suppress(McError):
                        await connection.request(Echo())
            finally:
                self._idle.put_nowait(connection)
        return echoed

    @property
    def connected(self) -> int:
        return sum(1 for c in self.connections if c.state == "CONNECTED")

    def describe(self) -> list[ConnectionFigures]:
        return [c.describe() for c in self.connections]

    def close(self) -> None:
        for c in self.connections:
            c.close()
