"""The gateway's link to the pollers: the control ROUTER that every poller's DEALER connects to.

A poller's routing id is its PLC code; a command is sent to it by that code
and its reply is matched by id (a reply with an id nobody waits for is
ignored). The messages are in common/wire/control.py.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any

import zmq
import zmq.asyncio

from common import bus, curve
from common.wire.control import Command, CommandRequest, Hello, Reply
from common.wire.envelope import MessageError, decode_any, encode
from services.gateway.reader import SocketReader

log = logging.getLogger("gateway.control")

class PollerUnavailable(Exception):
    """No poller for that PLC is connected."""


class PollerTimeout(Exception):
    """The poller did not answer in time."""


class PollerLink(SocketReader):
    def __init__(self, ctx: zmq.asyncio.Context, endpoint: str, security: curve.SocketSecurity | None = None,
                 timeout_s: float = 5.0) -> None:
        super().__init__()
        self.sock = bus.make_socket(ctx, zmq.ROUTER, bind=endpoint, linger=0, security=security, name="control")
        self.sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        #: how long a command waits for its reply, and how long a poller may go unheard (it says hello once
        #: a second) before it is not connected: API_POLLER_TIMEOUT_S
        self.timeout_s = timeout_s
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Reply]] = {}
        self.hellos: dict[str, float] = {}

    def on_frames(self, parts: list[Any]) -> None:
        if len(parts) != 2:
            self.bad_frames += 1
            return
        try:
            message = decode_any(parts[1], Reply, Hello)
        except MessageError as error:
            self.bad_frames += 1
            log.warning("dropped a bad control frame (%d so far): %s", self.bad_frames, error)
            return
        plc = parts[0].decode(errors="replace")
        self.hellos[plc] = time.monotonic()
        if isinstance(message, Reply):
            future = self._waiting.pop(message.id, None)
            if future is not None and not future.done():
                future.set_result(message)

    def connected(self, plc_code: str) -> bool:
        seen = self.hellos.get(plc_code)
        return seen is not None and time.monotonic() - seen < self.timeout_s

    async def command(self, plc_code: str, command: Command, timeout: float | None = None) -> Reply:
        """Send ``command`` to the poller of ``plc_code`` and return its reply."""
        timeout = self.timeout_s if timeout is None else timeout
        request = CommandRequest(next(self._ids), command)
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting[request.id] = future
        try:
            await self.sock.send_multipart([plc_code.encode(), encode(request)], zmq.NOBLOCK)
        except zmq.ZMQError as error:  # EHOSTUNREACH: no such poller connected
            self._waiting.pop(request.id, None)
            raise PollerUnavailable(f"the poller of {plc_code} is not connected") from error
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise PollerTimeout(f"the poller of {plc_code} did not answer {command.OP} "
                                f"within {timeout:.0f} s") from None
        finally:
            self._waiting.pop(request.id, None)
