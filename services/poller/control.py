"""The poller's end of the control socket: a DEALER to the gateway's ROUTER.

The messages (commands, replies, the once-a-second hello) are in
common/wire/control.py; the answer to each command is in commands.py. A
command is answered in a task of its own, so a slow trigger never holds up a
start or a stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import zmq
import zmq.asyncio

from common import bus, curve
from common.wire.control import BadCommand, Command, CommandError, CommandRequest, Hello, Reply
from common.wire.envelope import MessageError, decode, encode

log = logging.getLogger("poller.control")

Handler = Callable[[Command], Awaitable[dict[str, Any]]]
HELLO_EVERY_S = 1.0


class ControlLink:
    def __init__(self, ctx: zmq.asyncio.Context, endpoint: str, plc_code: str, groups: list[str],
                 handler: Handler, security: curve.SocketSecurity | None = None) -> None:
        self.plc_code = plc_code
        self.groups = groups
        self.handler = handler
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.IDENTITY, plc_code.encode())
        if security is not None:
            security.connected(self.sock, "control", endpoint)
        bus.ensure_ipc_dir(endpoint)
        self.sock.connect(endpoint)
        self.bad_frames = 0
        self._answering: set[asyncio.Task[None]] = set()

    async def _hello(self) -> None:
        hello = encode(Hello(self.plc_code, self.groups))
        while True:
            with contextlib.suppress(zmq.Again):  # no gateway yet
                await self.sock.send(hello, zmq.NOBLOCK)
            await asyncio.sleep(HELLO_EVERY_S)

    async def run(self) -> None:
        hello = asyncio.create_task(self._hello())
        try:
            while True:
                frame = await self.sock.recv()
                try:
                    request = decode(frame, CommandRequest)
                except BadCommand as error:
                    await self._send(Reply.failure(error.request_id, error), "?")
                    continue
                except MessageError as error:
                    self.bad_frames += 1
                    log.warning("dropped a bad control frame (%d so far): %s", self.bad_frames, error)
                    continue
                task = asyncio.create_task(self._answer(request))
                self._answering.add(task)
                task.add_done_callback(self._answering.discard)
        finally:
            hello.cancel()

    async def _answer(self, request: CommandRequest) -> None:
        try:
            reply = Reply.success(request.id, await self.handler(request.command))
        except CommandError as error:
            reply = Reply.failure(request.id, error)
        await self._send(reply, f"{request.command}")

    async def _send(self, reply: Reply, what: str) -> None:
        log.info("%s -> %s", what, "ok" if reply.ok else reply.error)
        try:
            await self.sock.send(encode(reply), zmq.NOBLOCK)
        except zmq.Again:
            log.warning("reply to command %s not sent: the gateway is gone", reply.id)

    def close(self) -> None:
        self.sock.close(linger=0)
