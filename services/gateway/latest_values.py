"""Latest values: the gateway's subscription to the buffer's live PUB.

Only the newest frame of each (PLC, group) is kept, as received; it is
decoded when someone asks, so the gateway's cost does not grow with the
polling rate.
"""

from __future__ import annotations

import logging
from typing import Any

import zmq
import zmq.asyncio

from common import bus, curve
from common.times import iso_ms
from common.wire.envelope import MessageError, decode
from common.wire.ingest import PollingData
from services.gateway.reader import SocketReader

log = logging.getLogger("gateway.live")


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
        self.frames: dict[tuple[str, str], bytes] = {}
        self.received = 0

    def on_frames(self, parts: list[Any]) -> None:
        try:
            _, plc, group = parts[0].decode().split(".", 2)
        except (ValueError, UnicodeDecodeError):
            self.bad_frames += 1
            return
        self.frames[(plc, group)] = parts[-1]
        self.received += 1

    def latest(self, plc: str | None = None, group: str | None = None) -> list[dict[str, Any]]:
        """The last value, quality and time of each tag, by PLC and group."""
        out: list[dict[str, Any]] = []
        for (p, g), frame in sorted(self.frames.items()):
            if plc not in (None, p) or group not in (None, g):
                continue
            try:
                data = decode(frame, PollingData)
            except MessageError as error:
                self.bad_frames += 1
                log.warning("bad live frame for %s/%s: %s", p, g, error)
                continue
            ts = iso_ms(data.ts_ms)
            out.extend({"plc_code": p, "group": g, "address": v.address, "value": v.value, "quality": v.quality,
                        "ts": ts, "seq": data.seq} for v in data.values)
        return out

