"""What the buffer lets in: every cycle and every value checked at the door.

Strategy: two kinds of trouble, two answers.

- A cycle that cannot be stored as it is -- its ``ts`` outside a window
  around now, a PLC code the config store does not know, more values than the
  ring holds, names longer than the historian's columns -- is refused whole:
  :class:`CycleRefused` names the reason; the buffer counts it, writes a
  ``rejected_at_ingest`` ledger record (so ``scada account`` shows it on its
  own line) and confirms it to its poller, which then forgets it.
- A single value the historian cannot hold -- NaN or +-inf, an integer
  outside signed 64 bits, a string longer than ``INGEST_MAX_STRING_BYTES``
  (UTF-8), bytes, a map, a list -- is stored as a BAD value with the reason
  in its quality (``BAD_NOT_FINITE``, ``BAD_INT_RANGE``, ``BAD_STRING_TOO_LONG``,
  ``BAD_TYPE``) and no value, so the rest of its cycle is stored as read and
  the row count of the cycle still adds up.

Nothing here touches a socket or a clock: ``now_ms`` is passed in.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# The historian's column widths (sql/oracle/tag_data.sql): longer names could not be stored.
MAX_PLC_CODE, MAX_ADDRESS, MAX_QUALITY, MAX_GROUP = 14, 16, 32, 64


class CycleRefused(ValueError):
    """A whole cycle the buffer will not take; ``reason`` is a short snake_case word for counting."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        #: (plc, group, seq, ts, values) of the refused cycle, set where it is known
        self.cycle: tuple[str, str, int, int, int] | None = None


@dataclass(frozen=True)
class IngestLimits:
    ts_past_ms: int = 7 * 86_400_000
    ts_future_ms: int = 3_600_000
    max_string_bytes: int = 960
    max_values: int = 100_000
    #: the PLC codes the config store knows; None when it cannot say (no config store): every code passes
    plc_codes: Collection[str] | None = None


def check_cycle(plc: str, group: str, ts_ms: int, count: int, limits: IngestLimits, now_ms: int) -> None:
    """Raise CycleRefused if the cycle as a whole cannot be taken in."""
    if not now_ms - limits.ts_past_ms <= ts_ms <= now_ms + limits.ts_future_ms:
        raise CycleRefused("ts_out_of_window", f"ts {ts_ms} is not within {limits.ts_past_ms // 1000} s before "
                           f"and {limits.ts_future_ms // 1000} s after now ({now_ms})")
    if len(plc) > MAX_PLC_CODE or len(group) > MAX_GROUP:
        raise CycleRefused("name_too_long", f"plc {plc!r:.40} or group {group!r:.80} longer than the historian holds")
    if limits.plc_codes is not None and plc not in limits.plc_codes:
        raise CycleRefused("unknown_plc", f"PLC code {plc!r:.40} is not in the config store")
    if count > limits.max_values:
        raise CycleRefused("cycle_larger_than_ring", f"{count} values in one cycle; the ring holds "
                           f"{limits.max_values} (BUFFER_MAX_SIZE)")


def value_problem(value: Any, max_string_bytes: int) -> str | None:
    """The BAD quality a value must be stored with instead of itself, or None when it can be stored."""
    kind = type(value)
    if kind is int:
        return None if INT64_MIN <= value <= INT64_MAX else "BAD_INT_RANGE"
    if kind is float:
        return None if math.isfinite(value) else "BAD_NOT_FINITE"
    if value is None or kind is bool:
        return None
    if kind is str:
        # Characters first: a short string cannot be too long in bytes (at most 4 a character).
        if len(value) * 4 <= max_string_bytes or len(value.encode("utf-8", "surrogatepass")) <= max_string_bytes:
            return None
        return "BAD_STRING_TOO_LONG"
    return "BAD_TYPE"


def check_values(values: list[Any], limits: IngestLimits) -> tuple[list[Any], dict[str, int]]:
    """Each value checked: triples of the right shape (else CycleRefused), unstorable values made BAD.

    Returns the values (the same list, changed in place only where a value was
    made BAD) and how many values were made BAD, per quality.
    """
    marked: dict[str, int] = {}
    limit = limits.max_string_bytes
    # The hot path of the buffer (every value of every cycle): plain type tests, the common cases first.
    for i, v in enumerate(values):
        if type(v) is not list or len(v) != 3:
            raise CycleRefused("wrong_shape", f"a value that is not [address, value, quality]: {v!r:.80}")
        address, value, quality = v
        if type(address) is not str or type(quality) is not str:
            raise CycleRefused("wrong_shape", f"address and quality must be strings: {v!r:.80}")
        if len(address) > MAX_ADDRESS or len(quality) > MAX_QUALITY:
            raise CycleRefused("name_too_long", f"address {address!r:.40} or quality {quality!r:.60} longer than "
                               "the historian holds")
        kind = type(value)
        if kind is int:
            if INT64_MIN <= value <= INT64_MAX:
                continue
        elif kind is float and value - value == 0.0:  # finite: inf - inf and nan - nan are nan
            continue
        problem = value_problem(value, limit)
        if problem is not None:
            values[i] = [address, None, problem]
            marked[problem] = marked.get(problem, 0) + 1
    return values, marked
