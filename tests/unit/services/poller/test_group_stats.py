"""A group's figures: its window of start lateness, and the percentiles read from it."""

from __future__ import annotations

import pytest

from services.poller.group import LATENESS_WINDOW, GroupStats, Window


def test_the_lateness_window_keeps_the_last_samples_oldest_first() -> None:
    window = Window(4)
    assert len(window) == 0 and list(window) == [] and not window
    with pytest.raises(IndexError):
        window.latest()
    for ms in (1.5, 2.5, 3.5):
        window.append(ms)
    assert list(window) == [1.5, 2.5, 3.5] and window.latest() == 3.5
    for ms in (4.5, 5.5, 6.5):
        window.append(ms)
    assert len(window) == 4 and list(window) == [3.5, 4.5, 5.5, 6.5] and window.latest() == 6.5
    stats = GroupStats()
    for ms in range(1, 1101):  # more than the window: only the last LATENESS_WINDOW count
        stats.late(float(ms))
    assert len(stats.lateness_ms) == LATENESS_WINDOW and min(stats.lateness_ms) == 101.0
    assert stats.lateness_percentile(50) == 600.5 and stats.max_lateness_ms == 1100.0
