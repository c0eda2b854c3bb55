"""FIXED schedules on absolute deadlines: cycle n starts at start + n x interval.

Strategy: the deadline of a cycle is computed from the schedule's start and
the cycle's index, never from when the previous cycle ended, so lateness
never accumulates into drift. A cycle that runs past one or more deadlines
skips them (they are counted as overruns) and the schedule resumes on the
grid. No clock in here: callers pass the monotonic time in, tests pass a fake.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FixedSchedule:
    start: float
    interval: float
    index: int = 0
    overruns: int = 0

    @property
    def deadline(self) -> float:
        """When the current cycle is due."""
        return self.start + self.index * self.interval

    def advance(self, now: float) -> float:
        """The cycle due at :attr:`deadline` has finished at ``now``: move to the next due cycle.

        Deadlines already passed at ``now`` are skipped and counted; returns the
        next deadline.
        """
        self.index += 1
        if self.deadline <= now:
            behind = int((now - self.start) // self.interval) + 1
            self.overruns += behind - self.index
            self.index = behind
        return self.deadline
