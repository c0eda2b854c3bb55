"""The buffer's journal: every cycle it takes in, and every slice of one that is finished.

Records (msgpack arrays)::

    [1, number, first, plc, group, seq, ts, count, packed, cycle]   values taken in
    [2, number, first, count]                                        those values finished

A taken-in record of the previous release has no ``cycle``: its cycle is
``-ts`` (``messages.legacy_cycle``), as it is everywhere else.

``number`` is the buffer's own count of cycles taken in and ``first`` the
index of a slice's first value in its cycle, so a slice leased or dropped
from the middle of a cycle is named exactly. Finished means committed (the
writer acknowledged it) or dropped by the ring's overflow (and in the
ledger). Replay keeps what was taken in and not finished, oldest first, so a
buffer killed with SIGKILL starts again with its ring and its unacknowledged
leases. Records are written once per turn of the buffer's loop and, when
``BUFFER_JOURNAL_SYNC`` is on, synced at most every ``BUFFER_JOURNAL_SYNC_MS``
(one fsync for all the cycles of that moment), before the pollers hear that
their cycles are in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from common.journal import Journal
from common.messages import Block

log = logging.getLogger("buffer.journal")

TAKEN_IN, FINISHED = 1, 2
COMPACT_MIN_BYTES = 32 << 20  # rewrite no more often than every 32 MB written...
COMPACT_RATIO = 4  # ...and only when the file is four times what is still live


def _remaining(first: int, count: int, done: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The (first, count) ranges of [first, first + count) not covered by ``done``."""
    out: list[tuple[int, int]] = []
    at, end = first, first + count
    for d_first, d_count in sorted(done):
        if d_first > at:
            out.append((at, min(d_first, end) - at))
        at = max(at, d_first + d_count)
        if at >= end:
            break
    if at < end:
        out.append((at, end - at))
    return [r for r in out if r[1] > 0]


def _unfinished(record: list[Any], done: list[tuple[int, int]]) -> list[Block]:
    _, number, first, plc, group, seq, ts, count, packed, *rest = record
    if len(rest) > 1:
        raise ValueError("a taken-in record of an unknown length")
    cycle = int(rest[0]) if rest else None
    block = Block(str(plc), str(group), int(seq), int(ts), int(count), bytes(packed), int(number), int(first),
                  cycle=cycle)
    ranges = _remaining(block.first, block.count, done)
    if ranges == [(block.first, block.count)]:
        return [block]
    values = block.values()
    return [Block.of_values(block.plc_code, block.group, block.seq, block.ts_ms,
                            values[start - block.first:start - block.first + n], block.number, start, block.cycle)
            for start, n in ranges]


def unfinished(journal: Journal, repair: bool = True) -> tuple[list[Block], int]:
    """What a journal holds taken in and not finished, oldest first, and the next cycle number.

    ``repair=False`` reads a running buffer's journal without touching it (``scada account``).
    """
    taken: dict[int, list[Any]] = {}
    done: dict[int, list[tuple[int, int]]] = {}
    bad = 0
    for record in journal.replay(repair):
        try:
            if record[0] == TAKEN_IN:
                taken.setdefault(int(record[1]), []).append(record)
            elif record[0] == FINISHED:
                done.setdefault(int(record[1]), []).append((int(record[2]), int(record[3])))
            else:
                bad += 1
        except (TypeError, ValueError, IndexError, KeyError):
            bad += 1
    if bad:
        log.error("%s: %d records of an unknown shape skipped", journal.path, bad)
    blocks: list[Block] = []
    for number in sorted(taken):
        for record in sorted(taken[number], key=lambda r: r[2]):
            try:
                blocks += _unfinished(record, done.get(number, []))
            except (TypeError, ValueError):
                log.error("%s: cycle %d of an unknown shape skipped", journal.path, number)
    return blocks, max(taken, default=0) + 1


class RingJournal:
    def __init__(self, path: Path, sync: bool = True) -> None:
        self.journal = Journal(path)
        self.sync = sync
        self.next_number = 1
        self._pending: list[list[Any]] = []

    def load(self) -> list[Block]:
        """The blocks taken in and not finished at the last stop or crash; opens the journal."""
        blocks, self.next_number = unfinished(self.journal)
        self.journal.rewrite(self._taken_in(b) for b in blocks)
        return blocks

    @staticmethod
    def _taken_in(b: Block) -> list[Any]:
        return [TAKEN_IN, b.number, b.first, b.plc_code, b.group, b.seq, b.ts_ms, b.count, b.packed, b.identity]

    def taken_in(self, block: Block) -> None:
        """Number a cycle that just arrived and journal it (written at the next ``commit``)."""
        block.number = self.next_number
        self.next_number += 1
        self._pending.append(self._taken_in(block))

    def finished(self, blocks: Iterable[Block]) -> None:
        self._pending.extend([FINISHED, b.number, b.first, b.count] for b in blocks)

    def write(self) -> None:
        """Hand what was journaled to the operating system: from here a SIGKILL cannot lose it."""
        if self._pending:
            self.journal.append(self._pending)
            self._pending = []

    def commit(self) -> None:
        """Write, and fsync when BUFFER_JOURNAL_SYNC is on: from here a power cut cannot lose it."""
        self.write()
        if self.sync:
            self.journal.sync()

    def compact(self, live: Iterable[Block]) -> bool:
        """Rewrite the file with the live blocks alone, when it has grown well past them."""
        if self.journal.size < COMPACT_MIN_BYTES:
            return False
        blocks = sorted(live, key=lambda b: (b.number, b.first))
        live_bytes = sum(len(b.packed) + 48 for b in blocks)
        if self.journal.size < COMPACT_RATIO * live_bytes:
            return False
        self.commit()
        before = self.journal.size
        self.journal.rewrite(self._taken_in(b) for b in blocks)
        log.info("journal compacted: %.1f MB -> %.1f MB (%d values live)", before / 1e6,
                 self.journal.size / 1e6, sum(b.count for b in blocks))
        return True

    def close(self) -> None:
        self.commit()
        self.journal.close()
