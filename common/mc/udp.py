"""MC over UDP: one datagram a request, one a reply, and the loss handling UDP needs.

Strategy: UDP has no connection to break, so a request that times out is a
lost datagram, not a broken link: the connection stays, counts the timeout
and raises PlcTimeoutError, and the next request goes out at once. What
must never happen is a late reply being read as the answer to the next
request. :class:`DatagramMatcher` (no sockets, no clock) decides which
datagram answers the request outstanding:

- 4E frames: the reply must carry the request's serial number; a datagram
  with another serial is a late or stray reply, counted and ignored, and the
  wait goes on for the right one.
- 3E frames have no serial, so after a timeout the socket is replaced (a new
  local port): a late reply then arrives at a closed port and is lost with it.

Datagrams already waiting when a request is sent are late by definition and
are dropped before sending. Each datagram holds one whole frame; a datagram
that is not one is ignored like a stray.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from common.mc.client import Backoff, Connection
from common.mc.commands import Codec, ReplyValues, Request
from common.mc.errors import FrameError, PlcConnectionError, PlcEndCodeError, PlcTimeoutError
from common.mc.frames import MAX_SERIAL, Frame, decode_reply_frame

if TYPE_CHECKING:  # types for mypy only: common/wire/figures.py
    from common.wire.figures import ConnectionFigures


class DatagramMatcher:
    """Numbers requests and tells the reply to the request outstanding from late or stray datagrams."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self.serial = 0

    def encode(self, request: Request) -> bytes:
        """The next request's datagram (a new serial number in 4E)."""
        self.serial = (self.serial + 1) & MAX_SERIAL
        return self.codec.encode(request, self.serial)

    def answers(self, datagram: bytes) -> bool:
        """Whether ``datagram`` is a whole reply frame to the request outstanding."""
        try:
            reply = decode_reply_frame(datagram, self.codec.encoding, self.codec.frame)
        except FrameError:
            return False
        return self.codec.frame is Frame.E3 or reply.serial == self.serial

    @property
    def replace_socket_after_timeout(self) -> bool:
        """3E replies cannot be told apart, so a late one must find its port closed."""
        return self.codec.frame is Frame.E3


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.datagrams: asyncio.Queue[bytes | Exception] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.datagrams.put_nowait(data)

    def error_received(self, exc: Exception) -> None:  # e.g. ICMP port unreachable
        self.datagrams.put_nowait(exc)


class UdpConnection(Connection):
    """One UDP socket to the PLC's port; at most one request outstanding. Same interface as Connection."""

    def __init__(self, plc_code: str, host: str, port: int, codec: Codec, timeout: float, index: int,
                 backoff: Backoff | None = None) -> None:
        super().__init__(plc_code, host, port, codec, timeout, index, backoff)
        self._matcher = DatagramMatcher(codec)
        self._transport: asyncio.DatagramTransport | None = None
        self._endpoint: _Endpoint | None = None
        self.timeouts = 0
        self.stray = 0

    @property
    def state(self) -> str:
        if self._transport is not None:
            return "CONNECTED"
        return "BACKOFF" if time.monotonic() < self._retry_at else "DISCONNECTED"

    def describe(self) -> ConnectionFigures:
        return {**super().describe(), "transport": "UDP", "timeouts": self.timeouts, "stray": self.stray}

    async def _open(self) -> None:
        now = time.monotonic()
        if now < self._retry_at:
            raise PlcConnectionError(f"{self.plc_code} {self.host}:{self.port} (UDP): retrying in "
                                     f"{self._retry_at - now:.1f} s (last error: {self.last_error})")
        loop = asyncio.get_running_loop()
        try:
            transport, endpoint = await loop.create_datagram_endpoint(_Endpoint, remote_addr=(self.host, self.port))
        except OSError as error:
            self.last_error = f"UDP socket failed: {error}"
            self._retry_at = time.monotonic() + self._backoff.next_delay()
            self.failures += 1
            raise PlcConnectionError(f"{self.plc_code} {self.host}:{self.port}: {self.last_error}") from None
        self._transport, self._endpoint = transport, endpoint
        self.connects += 1

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self._transport = self._endpoint = None

    async def request(self, request: Request, deadline: float | None = None) -> ReplyValues:
        """Send ``request`` and wait for its datagram, within the timeout and before ``deadline`` (monotonic)."""
        datagram = self._matcher.encode(request)  # local errors raise before anything is sent
        if self._transport is None:
            await self._open()
        assert self._transport is not None and self._endpoint is not None
        queue = self._endpoint.datagrams
        while not queue.empty():  # whatever waits now answers an earlier request
            queue.get_nowait()
            self.stray += 1
        self.requests += 1
        self.last_used = time.monotonic()
        self._transport.sendto(datagram)
        until = self.last_used + self.timeout if deadline is None else min(deadline, self.last_used + self.timeout)
        while True:
            remaining = until - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                async with asyncio.timeout(remaining):
                    received = await queue.get()
            except TimeoutError:
                return await self._timed_out(request)
            if isinstance(received, Exception):
                self.last_error = f"{request}: {received}"
                self.failures += 1
                self.close()
                self._retry_at = time.monotonic() + self._backoff.next_delay()
                raise PlcConnectionError(f"{self.plc_code}: {self.last_error}") from None
            if self._matcher.answers(received):
                break
            self.stray += 1
        self._backoff.reset()
        try:
            return self.codec.decode(request, received, self._matcher.serial)
        except PlcEndCodeError as error:
            raise type(error)(error.end_code, f"{self.plc_code}: {request}") from None
        except FrameError as error:
            self.last_error = f"reply does not match {request}: {error}"
            self.failures += 1
            raise FrameError(f"{self.plc_code}: {self.last_error}") from None

    async def _timed_out(self, request: Request) -> ReplyValues:
        self.timeouts += 1
        self.last_error = f"no reply to {request} within {self.timeout:.1f} s (UDP)"
        if self._matcher.replace_socket_after_timeout:
            self.close()
            with contextlib.suppress(PlcConnectionError):
                await self._open()
        raise PlcTimeoutError(f"{self.plc_code}: {self.last_error}")
