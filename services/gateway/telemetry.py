"""The gateway's view of the plant: the last status each stage published.

The gateway binds one SUB socket; every stage connects a PUB and publishes a
status once a second under ``status.<stage>[.<plc_code>]``. A status older
than API_POLLER_TIMEOUT_S (5 s) means that stage is down (or cut off).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import zmq
import zmq.asyncio

from common import bus, curve
from common.wire.envelope import MessageError, decode
from common.wire.status import Status
from services.gateway.reader import SocketReader

log = logging.getLogger("gateway.telemetry")

@dataclass
class StageStatus:
    topic: str
    received: float  # monotonic
    body: dict[str, Any]
    stale_s: float = 5.0

    @property
    def fresh(self) -> bool:
        return time.monotonic() - self.received < self.stale_s


class TelemetryStore(SocketReader):
    def __init__(self, ctx: zmq.asyncio.Context, endpoint: str, security: curve.SocketSecurity | None = None,
                 stale_s: float = 5.0) -> None:
        super().__init__()
        self.stale_s = stale_s
        self.endpoint = endpoint
        self.sock = bus.make_socket(ctx, zmq.SUB, bind=endpoint, linger=0, security=security, name="telemetry")
        self.sock.setsockopt(zmq.SUBSCRIBE, b"status.")
        self.latest: dict[str, StageStatus] = {}
        self.version = 0  # counts status messages; answers built from them are cached per version
        self._cache: dict[str, tuple[tuple[int, int], bytes]] = {}

    def on_frames(self, parts: list[Any]) -> None:
        if len(parts) != 2:
            self.bad_frames += 1
            return
        try:
            body = decode(parts[1], Status).body()
            topic = parts[0].decode()
        except (MessageError, UnicodeDecodeError) as error:
            self.bad_frames += 1
            log.warning("dropped a bad status frame (%d so far): %s", self.bad_frames, error)
            return
        self.latest[topic] = StageStatus(topic, time.monotonic(), body, self.stale_s)
        self.version += 1

    def cached_json(self, name: str, build: Callable[[], Any]) -> bytes:
        """``build()`` as JSON, built again only when a status arrived or a second passed.

        Dashboards poll the same answers many times a second; this makes each
        poll a dictionary lookup instead of a walk over every group.
        """
        key = (self.version, int(time.monotonic()))
        hit = self._cache.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        body = json.dumps(build(), separators=(",", ":"), default=str).encode()
        self._cache[name] = (key, body)
        return body

    def stage(self, topic: str) -> StageStatus | None:
        return self.latest.get(topic)

    def prefixed(self, prefix: str) -> list[StageStatus]:
        return [s for t, s in sorted(self.latest.items()) if t.startswith(prefix)]

