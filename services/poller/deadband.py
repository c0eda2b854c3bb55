"""Report by exception: which values of a group's cycle are sent, and which are suppressed.

Strategy: a pure object per polling group, no sockets, no clock of its own
(the cycle's read time is passed in), so every rule is tested with a table.
A tag with no deadband (the default) is always sent. A tag with one is sent
when:

- it is the first value since the poller started (nothing to compare with);
- its quality differs from the last one sent (GOOD -> BAD_TIMEOUT, and back);
- it is BAD: a BAD row says "not collected" and is never left out;
- its value moved by more than the deadband (absolute, in engineering units,
  after scale and offset) from the last value *sent* -- not the last read, so
  a slow drift is sent once it adds up to more than the deadband; a value
  that is not a number (a string) is sent when it differs at all;
- or the group's maximum interval has passed since its last full cycle: then
  the whole cycle is sent, every tag, so a tag that stays still still has a
  row at least that often and "unchanged" (rows, same value) never looks like
  "not collected" (no rows). A group with a deadbanded tag and no maximum
  interval of its own gets DEFAULT_MAX_INTERVAL_MS.

Everything else is suppressed and counted; the poller writes the count in
the ledger (``suppressed``), so ``scada account`` shows it on its own line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from common.config_store.model import DEFAULT_MAX_INTERVAL_MS
from common.wire.ingest import GOOD, TagValue


@dataclass(frozen=True, slots=True)
class Filtered:
    """A cycle after the deadband: the values to send, and how many were left out."""

    values: list[TagValue]
    suppressed: int


class Deadband:
    def __init__(self, deadbands: Sequence[float | None], max_interval_ms: int | None = None) -> None:
        """``deadbands[i]`` is the deadband of the group's i-th tag (None: always sent)."""
        for d in deadbands:
            if d is not None and not d >= 0:  # also refuses NaN
                raise ValueError(f"a deadband is a number >= 0, not {d!r}")
        self.deadbands = list(deadbands)
        self.active = any(d is not None for d in self.deadbands)
        self.max_interval_ms = (max_interval_ms or DEFAULT_MAX_INTERVAL_MS) if self.active else max_interval_ms
        self._last: list[TagValue | None] = [None] * len(self.deadbands)
        self._full_at: int | None = None  # read time of the last cycle sent whole
        self.suppressed = 0

    def filter(self, values: Sequence[TagValue], ts_ms: int) -> Filtered:
        """The values of a cycle read at ``ts_ms`` (in the group's tag order) that are to be sent."""
        if len(values) != len(self.deadbands):
            raise ValueError(f"a cycle of {len(values)} values for a group of {len(self.deadbands)} tags")
        if not self.active:
            return Filtered(list(values), 0)
        full = (self._full_at is None or self.max_interval_ms is None
                or not 0 <= ts_ms - self._full_at < self.max_interval_ms)  # a clock step back counts as due
        if full:
            self._full_at = ts_ms
        sent: list[TagValue] = []
        for i, value in enumerate(values):
            if full or self._moved(self._last[i], value, self.deadbands[i]):
                sent.append(value)
                self._last[i] = value
        left_out = len(values) - len(sent)
        self.suppressed += left_out
        return Filtered(sent, left_out)

    @staticmethod
    def _moved(last: TagValue | None, value: TagValue, deadband: float | None) -> bool:
        if deadband is None or last is None or value.quality != GOOD or value.quality != last.quality:
            return True
        new, old = value.value, last.value
        if isinstance(new, bool | int | float) and isinstance(old, bool | int | float):
            if new != new or old != old:  # NaN (a FLOAT32 that is not a number) compares with nothing
                return not (new != new and old != old)
            return abs(new - old) > deadband
        return new != old
