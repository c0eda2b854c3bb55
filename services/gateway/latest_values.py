"""Latest values: the gateway's subscription to the buffer's live PUB.

Only the newest frame of each (PLC, group) is kept, as received (or, when a
deadband leaves values out, the frames since its last complete cycle:
live_frames.py); they are decoded when someone asks, so the gateway's cost
does not grow with the polling rate. What is shown follows the config store
(``shown``, set by config_watch.py): a removed or deactivated PLC or group is
not shown, nor a tag no longer in its group.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import zmq
import zmq.asyncio

from common import bus, curve
from common.wire.envelope import MessageError
from services.gateway.live_frames import GroupFrames, as_dicts
from services.gateway.reader import SocketReader

log = logging.getLogger("gateway.live")

#: (show the group at all, its addresses to show or None for every one)
Shown = tuple[bool, frozenset[str] | None]


class LatestValues(SocketReader):
    def __init__(self, ctx: zmq.asyncio.Context, endpoint: str, security: curve.SocketSecurity | None = None) -> None:
        super().__init__()
        self.sock = ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, 10_000)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"data.")
        if security is not None:
            security.connected(self.sock, "live", endpoint)
        bus.ensure_ipc_dir(endpoint)
        self.sock.connect(endpoint)
        self.groups: dict[tuple[str, str], GroupFrames] = {}
        self.received = 0
        self.shown: Callable[[str, str], Shown] | None = None

    def forget(self, hidden: Callable[[str, str], bool]) -> None:
        """Drop the frames of every (PLC, group) ``hidden`` says is no longer shown."""
        for key in [k for k in self.groups if hidden(*k)]:
            del self.groups[key]
        #: (plc, group) -> its tags in the config store, when known (tells a deadband's partial cycle)
        self.tag_count: Callable[[str, str], int | None] = lambda plc, group: None

    def on_frames(self, parts: list[Any]) -> None:
        try:
            _, plc, group = parts[0].decode().split(".", 2)
        except (ValueError, UnicodeDecodeError):
            self.bad_frames += 1
            return
        frames = self.groups.get((plc, group)) or self.groups.setdefault((plc, group), GroupFrames())
        try:
            frames.add(parts[-1], self.tag_count(plc, group))
        except MessageError as error:
            self.bad_frames += 1
            log.warning("bad live frame for %s/%s: %s", plc, group, error)
            return
        self.received += 1

    def latest(self, plc: str | None = None, group: str | None = None) -> list[dict[str, Any]]:
        """The last value, quality and time of each tag, by PLC and group."""
        out: list[dict[str, Any]] = []
        for (p, g), frames in sorted(self.groups.items()):
            if plc not in (None, p) or group not in (None, g):
                continue
            show, addresses = self.shown(p, g) if self.shown is not None else (True, None)
            if not show:
                continue
            try:
                values = frames.latest()
                if addresses is not None:
                    values = [latest for latest in values if latest[0].address in addresses]
                out.extend(as_dicts(p, g, values))
            except MessageError as error:
                self.bad_frames += 1
                log.warning("bad live frame for %s/%s: %s", p, g, error)
                self.groups.pop((p, g), None)  # what it held cannot be read: start again from the next cycle
        return out

