"""FIXED schedules on absolute deadlines: cycle n starts at start + n x interval.

Strategy: the deadline of a cycle is computed from the schedule's start and
the cycle's index, never from when the previous cycle ended, so lateness
never accumulates into drift. A cycle that runs past the next deadline is an
overrun: the next cycle then starts at once, for the latest deadline already
passed, late by the time since that deadline (its lateness is measured
against it, so a group that keeps overrunning shows it); the deadlines in
between had no cycle at all and are counted as missed. The poller ends every
cycle before the next deadline (the PLC client's deadline), so overruns and
missed deadlines mean the process itself could not keep up. No clock in
here: callers pass the monotonic time in, tests pass a fake.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FixedSchedule:
    start: float
    interval: float
    index: int = 0
    overruns: int = 0  # cycles that ended after the next deadline
    missed: int = 0  # deadlines at which no cycle started

    @property
    def deadline(self) -> float:
        """When the current cycle is due."""
        return self.start + self.index * self.interval

    @property
    def next_deadline(self) -> float:
        """When the cycle after the current one is due: the current one must end by then."""
        return self.deadline + self.interval

    def advance(self, now: float) -> float:
        """The cycle due at :attr:`deadline` has finished at ``now``: move to the next due cycle.

        After an overrun the returned deadline is already past (run at once);
        the deadlines skipped to reach it are counted in :attr:`missed`.
        """
        self.index += 1
        if self.deadline < now:
            self.overruns += 1
            latest = int((now - self.start) // self.interval)
            self.missed += latest - self.index
            self.index = latest
        return self.deadline
