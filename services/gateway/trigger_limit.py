"""How often one HANDSHAKE group may be triggered over the API.

Strategy: a trigger makes the poller read the whole group from the PLC at
once, and a PLC answers one request per connection per scan; a client (or a
dashboard button held down) triggering hundreds of times a second starves
every other group of that PLC. So each (PLC, group) may be triggered once per
API_TRIGGER_MIN_INTERVAL_MS; a faster request answers 429 with Retry-After
(whole seconds, rounded up, as HTTP says) and is not sent to the poller. The
clock is the monotonic one, passed in, so a test steps it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from fastapi import HTTPException


class TriggerLimit:
    def __init__(self, min_interval_ms: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.min_interval = min_interval_ms / 1000
        self.clock = clock
        self._last: dict[tuple[str, str], float] = {}
        self.refused = 0

    def check(self, plc_code: str, group: str) -> None:
        """Take a trigger of this group now, or raise 429 saying when the next one is welcome."""
        if self.min_interval <= 0:
            return
        now = self.clock()
        last = self._last.get((plc_code, group))
        if last is not None and now - last < self.min_interval:
            self.refused += 1
            wait = self.min_interval - (now - last)
            raise HTTPException(
                429, headers={"Retry-After": str(max(1, math.ceil(wait)))},
                detail=f"{group} on {plc_code} was triggered {1000 * (now - last):.0f} ms ago; at most one trigger "
                       f"every {1000 * self.min_interval:.0f} ms (API_TRIGGER_MIN_INTERVAL_MS), next in "
                       f"{1000 * wait:.0f} ms")
        self._last[(plc_code, group)] = now
