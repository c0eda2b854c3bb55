"""The poller's end of the control socket: a DEALER to the gateway's ROUTER.

The poller's routing id is its PLC code, so the gateway addresses a poller
by the PLC it polls. It says hello once a second so the gateway knows it is
there. Every command is answered, with the command's id::

    gateway: {"v": 1, "t": "command", "id": 12, "op": "trigger", "group": "BATCH_HS"}
    poller:  {"v": 1, "t": "reply", "id": 12, "ok": true,
              "result": {"group": "BATCH_HS", "sequence": 7, "values": 100, "duration_ms": 8.1}}
    poller:  {"v": 1, "t": "reply", "id": 13, "ok": false, "code": "unknown_group",
              "error": "no group NOPE on KRCWO12ELOA101"}
    poller:  {"v": 1, "t": "hello", "plc": "KRCWO12ELOA101", "groups": ["FAST_1S", ...]}

``op`` is one of start, stop, trigger (with ``group``), start_all, stop_all, and
reload (the PLC's groups and tags read again from the store between cycles;
services/poller/reload.py shows its reply).
Error codes: unknown_group, not_handshake, read_failed, bad_command; for reload
store_busy, plc_removed, restart_needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import zmq
import zmq.asyncio

from common import bus, curve, messages
from common.messages import MessageError

log = logging.getLogger("poller.control")

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class CommandError(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


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
        hello = messages.pack({"v": 1, "t": "hello", "plc": self.plc_code, "groups": self.groups})
        while True:
            with contextlib.suppress(zmq.Again):  # no gateway yet
                await self.sock.send(hello, zmq.NOBLOCK)
            await asyncio.sleep(1.0)

    async def run(self) -> None:
        hello = asyncio.create_task(self._hello())
        try:
            while True:
                frame = await self.sock.recv()
                try:
                    command = messages.unpack(frame, "command")
                    command_id = command["id"]
                except (MessageError, KeyError) as error:
                    self.bad_frames += 1
                    log.warning("dropped a bad control frame (%d so far): %s", self.bad_frames, error)
                    continue
                task = asyncio.create_task(self._answer(command_id, command))
                self._answering.add(task)
                task.add_done_callback(self._answering.discard)
        finally:
            hello.cancel()

    async def _answer(self, command_id: Any, command: dict[str, Any]) -> None:
        try:
            result = await self.handler(command)
            reply = {"v": 1, "t": "reply", "id": command_id, "ok": True, "result": result}
        except CommandError as error:
            reply = {"v": 1, "t": "reply", "id": command_id, "ok": False, "code": error.code, "error": str(error)}
        log.info("%s %s -> %s", command.get("op"), command.get("group", ""), "ok" if reply["ok"] else reply["error"])
        try:
            await self.sock.send(messages.pack(reply), zmq.NOBLOCK)
        except zmq.Again:
            log.warning("reply to command %s not sent: the gateway is gone", command_id)

    def close(self) -> None:
        self.sock.close(linger=0)
