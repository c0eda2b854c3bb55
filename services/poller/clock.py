"""Clock steps: the wall clock moved against the monotonic clock.

Strategy: the wall clock gives each cycle its read time (``ts``, stored as
read) but no longer its identity, so a step loses nothing; it still puts
rows out of time order in the historian, and an operator needs to know when
and by how much. Each look compares how far the wall clock moved with how
far the monotonic clock (which nothing sets) moved since the last look: the
difference is the step. Back by more than BACK_JITTER_MS, or forward by
more than POLLER_CLOCK_STEP_MS, is logged at WARNING and counted. NTP's
slewing (at most 0.5 ms a second) and the instant between the two reads stay
under both. The clocks are passed in, so a test steps them by hand.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from common.times import iso_ms, now_ms

if TYPE_CHECKING:  # types for mypy only: common/wire/figures.py
    from common.wire.figures import ClockFigures

log = logging.getLogger("poller.clock")

#: a look's two clock reads are not one instant; a busy process can be descheduled between them
BACK_JITTER_MS = 100


class ClockWatch:
    def __init__(self, forward_bound_ms: int, wall_ms: Callable[[], int] = now_ms,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.forward_bound_ms = forward_bound_ms
        self._wall_ms = wall_ms
        self._monotonic = monotonic
        self._last: tuple[int, float] | None = None
        self.steps = 0
        self.last_step_ms: int | None = None  # how far, signed: negative is back
        self.last_step_at_ms: int | None = None  # the wall clock just after the step

    def look(self) -> int | None:
        """Compare the clocks; returns the step in ms when there was one."""
        mono = self._monotonic()
        wall = self._wall_ms()
        last, self._last = self._last, (wall, mono)
        if last is None:
            return None
        step = (wall - last[0]) - round(1000 * (mono - last[1]))
        if -BACK_JITTER_MS <= step <= self.forward_bound_ms:
            return None
        self.steps += 1
        self.last_step_ms = step
        self.last_step_at_ms = wall
        log.warning("wall clock stepped %s by %.3f s (now %s); cycles keep their identity, their read times "
                    "(ts) are stored as the clock says (%d steps so far)", "back" if step < 0 else "forward",
                    abs(step) / 1000, iso_ms(wall), self.steps)
        return step

    def figures(self) -> ClockFigures:
        return {"steps": self.steps, "last_step_ms": self.last_step_ms, "last_step_at_ms": self.last_step_at_ms}
