"""The FIXED schedule: absolute deadlines, no drift, overruns skip to the latest due deadline."""

from __future__ import annotations

import pytest

from services.poller.schedule import FixedSchedule


def test_schedule_deadlines_do_not_drift() -> None:
    s = FixedSchedule(start=100.0, interval=1.0)
    now = 100.0
    for n in range(1, 1001):
        now = s.deadline + 0.3  # every cycle starts late and takes 0.3 s
        s.advance(now)
        assert s.deadline == pytest.approx(100.0 + n)
    assert s.overruns == 0


def test_schedule_overrun_runs_the_latest_due_deadline_at_once_and_counts_the_missed() -> None:
    s = FixedSchedule(start=0.0, interval=1.0)
    # the cycle due at 0 ended at 3.5: the one due at 3 runs at once (0.5 s late), 1 and 2 had no cycle
    assert s.advance(3.5) == 3.0
    assert (s.overruns, s.missed) == (1, 2)
    assert s.advance(3.6) == 4.0  # the late cycle ended in time: back on the grid
    assert s.advance(4.2) == 5.0
    assert s.advance(5.0) == 6.0  # the cycle due at 5 took no time
    assert (s.overruns, s.missed) == (1, 2)
    assert s.advance(7.0) == 7.0  # the cycle due at 6 ended exactly on the next deadline: not an overrun
    assert (s.overruns, s.missed) == (1, 2)
    assert s.advance(8.01) == 8.0  # 10 ms past the next deadline: it runs 10 ms late, none missed
    assert (s.overruns, s.missed) == (2, 2)


def test_schedule_sub_second_intervals() -> None:
    s = FixedSchedule(start=10.0, interval=0.1)
    for _ in range(10_000):
        s.advance(s.deadline + 0.05)
    assert s.deadline == pytest.approx(10.0 + 1000.0)
