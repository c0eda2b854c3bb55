"""The buffer's door: every PollingData checked before the ring takes it.

Strategy: the checks themselves are pure (common/value_checks.py); this
object holds what they need from outside -- the settings, the PLC codes of
the config store (read again every ``PLC_CODES_EVERY_S``, and at once --
at most every ``UNKNOWN_PLC_EVERY_S`` -- when a cycle of a PLC it does not
know arrives, so the first cycle of a PLC added while the buffer runs is let
in) and the clock
-- and counts what it refused, per reason, for the buffer's status and so
for the gateway's ``/metrics``. Log lines are rate-limited: a flood of poison
frames is loud once every few seconds, not a line per frame.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from common.config_store import model
from common.loglimit import RateLimitedLog
from common.settings import Settings
from common.times import now_ms
from common.value_checks import CycleRefused, IngestLimits
from common.wire.block import Block
from common.wire.envelope import MessageError
from common.wire.ingest import checked_block, repacked

if TYPE_CHECKING:  # types for mypy only: common/wire/figures.py
    from common.wire.figures import IngestFigures

log = logging.getLogger("buffer.door")

PLC_CODES_EVERY_S = 30.0
UNKNOWN_PLC_EVERY_S = 1.0


class IngestDoor:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic,
                 wall_ms: Callable[[], int] = now_ms) -> None:
        self.settings = settings
        self.clock = clock
        self.wall_ms = wall_ms
        self.refused_cycles: Counter[str] = Counter()
        self.refused_values: Counter[str] = Counter()
        self.marked_bad: Counter[str] = Counter()
        self._plc_codes: frozenset[str] | None = None
        self._codes_read_at = -1e18
        self._log = RateLimitedLog(log)

    def plc_codes(self) -> frozenset[str] | None:
        """The config store's PLC codes (active or not: a PLC just made inactive may still be draining its
        poller's queue), read again every PLC_CODES_EVERY_S; None when there is no config store to ask."""
        now = self.clock()
        if now - self._codes_read_at < PLC_CODES_EVERY_S:
            return self._plc_codes
        self._codes_read_at = now
        path = self.settings.config_db
        if not path.exists():
            if self._plc_codes is not None:
                log.warning("config store %s is gone; PLC codes are no longer checked", path)
            self._plc_codes = None
            return None
        try:
            # Read-only, and a short busy wait: the buffer's loop must not wait on an import in progress.
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.2)
            try:
                conn.row_factory = sqlite3.Row
                codes = frozenset(p.plc_code for p in model.load_plcs(conn))
            finally:
                conn.close()
        except Exception as error:  # a store being rewritten or locked: keep the codes we had
            log.warning("cannot read the PLC codes from %s (%s); keeping the last ones", path, error)
            return self._plc_codes
        if codes != self._plc_codes:
            log.info("PLC codes let in: %s", ", ".join(sorted(codes)) or "(none)")
        self._plc_codes = codes
        return codes

    def limits(self) -> IngestLimits:
        s = self.settings
        return IngestLimits(s.ingest_ts_past_s * 1000, s.ingest_ts_future_s * 1000, s.ingest_max_string_bytes,
                            s.buffer_max_size, self.plc_codes())

    def take(self, frame: bytes) -> tuple[Block, bytes]:
        """The frame as a block to keep, its unstorable values made BAD (counted), and the frame to
        republish (the same frame, or one with the values as checked).

        Raises MessageError (counted as ``undecodable``) or CycleRefused (counted per reason, with ``cycle``).
        """
        try:
            try:
                block, marked = checked_block(frame, self.limits(), self.wall_ms())
            except CycleRefused as refused:
                if refused.reason != "unknown_plc" or self.clock() - self._codes_read_at < UNKNOWN_PLC_EVERY_S:
                    raise
                self._codes_read_at = -1e18  # a PLC registered since the last read: read the codes again
                block, marked = checked_block(frame, self.limits(), self.wall_ms())
        except CycleRefused as refused:
            count = refused.cycle[4] if refused.cycle else 0
            self.refused_cycles[refused.reason] += 1
            self.refused_values[refused.reason] += count
            self._log.warning(f"refused:{refused.reason}", count, "refused a cycle of %d values at ingest: %s",
                              count, str(refused)[:300])
            raise
        except MessageError as error:
            self.refused_cycles["undecodable"] += 1
            self._log.warning("undecodable", 1, "dropped a bad ingest frame (%d so far): %s",
                              self.refused_cycles["undecodable"], str(error)[:300])
            raise
        if marked:
            frame = repacked(frame, block)
        for quality, n in marked.items():
            self.marked_bad[quality] += n
            self._log.warning(f"bad:{quality}", n, "%d values of %s %s stored as %s (the historian cannot hold "
                              "them as read)", n, block.plc_code, block.group, quality)
        return block, frame

    def figures(self) -> IngestFigures:
        return {"ingest_refused_cycles": dict(self.refused_cycles), "ingest_refused_values": dict(self.refused_values),
                "ingest_marked_bad": dict(self.marked_bad)}
