"""The gateway's end of the control socket: a ROUTER that pollers connect to.

A poller's routing id is its PLC code; a command is sent to it by that code
and its reply is matched by id (a reply with an unknown id is ignored). See
services/poller/control.py for the messages.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any

import zmq
import zmq.asyncio

from common import bus, curve, messages
from common.messages import MessageError
from services.gateway.reader import SocketReader

log = logging.getLogger("gateway.control")


class PollerUnavailable(Exception):
    """No poller for that PLC is connected."""


class PollerTimeout(Exception):
    """The poller did not answer in time."""


class ControlRouter(SocketReader):
    def __init__(self, ctx: zmq.asyncio.Context, endpoint: str, security: curve.SocketSecurity | None = None) -> None:
        super().__init__()
        self.sock = bus.make_socket(ctx, zmq.ROUTER, bind=endpoint, linger=0, security=security, name="control")
        self.sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.hellos: dict[str, float] = {}

    def on_frames(self, parts: list[Any]) -> None:
        if len(parts) != 2:
            self.bad_frames += 1
            return
        try:
            message = messages.unpack(parts[1], ("reply", "hello"))
        except MessageError as error:
            self.bad_frames += 1
            log.warning("dropped a bad control frame (%d so far): %s", self.bad_frames, error)
            return
        plc = parts[0].decode(errors="replace")
        self.hellos[plc] = time.monotonic()
        if message["t"] == "reply":
            future = self._waiting.pop(message.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(message)

    def connected(self, plc_code: str) -> bool:
        seen = self.hellos.get(plc_code)
        return seen is not None and time.monotonic() - seen < 5.0

    async def command(self, plc_code: str, op: str, group: str | None = None,
                      timeout: float = 5.0, **fields: Any) -> dict[str, Any]:
        """Send a command to the poller of ``plc_code`` and return its reply message."""
        command_id = next(self._ids)
        body: dict[str, Any] = {"v": 1, "t": "command", "id": command_id, "op": op, **fields}
        if group is not None:
            body["group"] = group
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = future
        try:
            await self.sock.send_multipart([plc_code.encode(), messages.pack(body)], zmq.NOBLOCK)
        except zmq.ZMQError as error:  # EHOSTUNREACH: no such poller connected
            self._waiting.pop(command_id, None)
            raise PollerUnavailable(f"the poller of {plc_code} is not connected") from error
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise PollerTimeout(f"the poller of {plc_code} did not answer {op} within {timeout:.0f} s") from None
        finally:
            self._waiting.pop(command_id, None)

