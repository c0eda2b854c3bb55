"""Log lines that can come thousands of times a second, at most once per interval each.

A flood of bad frames or overflowing cycles must be loud, but must not fill
the disk with the same line: the first occurrence is logged at once, later
ones are counted and summed into the next line, at most one line per key per
``interval_s``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, interval_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self.clock = clock
        self._last: dict[str, float] = {}
        self._held: dict[str, tuple[int, int]] = {}  # key -> (occurrences, amount) since the last line

    def warning(self, key: str, amount: int, message: str, *args: object) -> bool:
        """Log ``message`` (with "N times, M in all since the last line") unless ``key`` was logged lately.

        Returns whether a line was written.
        """
        times, total = self._held.get(key, (0, 0))
        times, total = times + 1, total + amount
        now = self.clock()
        if now - self._last.get(key, -1e18) < self.interval_s:
            self._held[key] = (times, total)
            return False
        self._last[key] = now
        self._held.pop(key, None)
        suffix = f" ({times} times, {total:,} in all since the last such line)" if times > 1 else ""
        self.logger.warning(message + suffix, *args)
        return True
