"""The buffer's journal: every cycle it takes in, and every slice of one that is finished.

Records (msgpack arrays)::

    [1, number, first, plc, group, seq, ts, count, packed, cycle]   values taken in
    [2, number, first, count]                                        those values finished

A taken-in record of the previous release has no ``cycle``: its cycle is
``-ts`` (``legacy_cycle``), as it is everywhere else.

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

A full disk is a state, not a crash: a write that fails leaves the file cut
back to its last whole record (common/journal.py) and makes the journal
stale: from then on nothing is appended and the buffer confirms nothing
(what it takes in is kept in its ring, in memory only); once a second
``restore`` tries to rewrite the file whole from the live blocks, and when
that succeeds everything held is on file and is confirmed. At start a journal
that cannot be rewritten is read and reopened in place.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from common.disk import DiskState
from common.journal import Journal, fsync_and_close
from common.wire.block import Block

log = logging.getLogger("buffer.journal")

TAKEN_IN, FINISHED = 1, 2
COMPACT_MIN_BYTES = 32 << 20  # at 100k values/s a smaller journal would be rewritten every few seconds


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
    ranges = _remaining(block.first_value, block.count, done)
    if ranges == [(block.first_value, block.count)]:
        return [block]
    values = block.values()
    first = block.first_value
    return [Block.of_values(block.plc_code, block.group, block.seq, block.ts_ms,
                            values[start - first:start - first + n], block.journal_number, start, block.cycle)
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
    def __init__(self, path: Path, sync: bool = True, disk: DiskState | None = None) -> None:
        self.journal = Journal(path, COMPACT_MIN_BYTES)
        self.sync = sync
        self.disk = disk or DiskState()
        self.stale = False  # a write failed: nothing is appended until ``restore`` rewrote the file
        self.next_number = 1
        self._pending: list[list[Any]] = []
        self._fsync: Future[None] | None = None
        self._syncer: ThreadPoolExecutor | None = None

    def load(self) -> list[Block]:
        """The blocks taken in and not finished at the last stop or crash; opens the journal
        (in place, when the disk is too full to rewrite it)."""
        blocks, self.next_number = unfinished(self.journal)
        try:
            self.journal.rewrite(self._taken_in(b) for b in blocks)
        except OSError as error:
            self.disk.failed(self.journal.path, error)
            log.error("journal not rewritten at start (%s); read and kept in place", error)
            try:
                self.journal.open()
            except OSError:
                self.stale = True
        return blocks

    def _failed(self, error: OSError) -> None:
        self.stale = True
        self._pending = []  # restore() rewrites what is live; these records are part of it or finished
        self.disk.failed(self.journal.path, error)

    def restore(self, live: Iterable[Block]) -> bool:
        """Rewrite a stale journal from the live blocks; True when the journal is writable again."""
        if not self.stale:
            return True
        blocks = sorted(live, key=lambda b: (b.journal_number, b.first_value))
        try:
            self.journal.rewrite(self._taken_in(b) for b in blocks)
        except OSError as error:
            self.disk.failed(self.journal.path, error)
            return False
        self.stale = False
        self._pending = []
        self.disk.written(self.journal.path)
        log.warning("journal written again: %d values live", sum(b.count for b in blocks))
        return True

    @staticmethod
    def _taken_in(b: Block) -> list[Any]:
        return [TAKEN_IN, b.journal_number, b.first_value, b.plc_code, b.group, b.seq, b.ts_ms, b.count, b.packed,
                b.identity]

    def taken_in(self, block: Block) -> None:
        """Number a cycle that just arrived and journal it (written at the next ``commit``)."""
        block.journal_number = self.next_number
        self.next_number += 1
        self._pending.append(self._taken_in(block))

    def finished(self, blocks: Iterable[Block]) -> None:
        self._pending.extend([FINISHED, b.journal_number, b.first_value, b.count] for b in blocks)

    def write(self) -> bool:
        """Hand what was journaled to the operating system: from here a SIGKILL cannot lose it.
        False while the journal is stale (nothing written: confirm nothing)."""
        if self.stale:
            self._pending = []
            return False
        if self._pending:
            try:
                self.journal.append(self._pending)
            except OSError as error:
                self._failed(error)
                return False
            self._pending = []
            if not self.disk.ok:  # e.g. opened in place at start on a full disk, and now it takes writes again
                self.disk.written(self.journal.path)
        return True

    def commit(self) -> bool:
        """Write, and fsync when BUFFER_JOURNAL_SYNC is on: from here a power cut cannot lose it."""
        if not self.write():
            return False
        if self.sync:
            try:
                self.journal.sync()
            except OSError as error:
                self._failed(error)
                return False
        return True

    def start_sync(self) -> bool:
        """Begin an fsync of what is written in a worker thread, off the buffer's loop. False when there is
        nothing to sync (written records are on the disk already): no need to wait for ``synced``."""
        handle = None if self.stale else self.journal.sync_handle()
        if handle is None:
            return False
        if self._syncer is None:
            self._syncer = ThreadPoolExecutor(1, thread_name_prefix="journal-fsync")
        self._fsync = self._syncer.submit(fsync_and_close, [handle])
        return True

    def synced(self, wait: bool = False) -> bool | None:
        """The fsync ``start_sync`` began: None while it runs, True done, False failed (stale now)."""
        if self._fsync is None:
            return not self.stale
        if not wait and not self._fsync.done():
            return None
        future, self._fsync = self._fsync, None
        try:
            future.result()
        except OSError as error:
            self._failed(error)
            return False
        return not self.stale

    def compact(self, live: Iterable[Block]) -> bool:
        """Rewrite the file with the live blocks alone, when it has grown well past them."""
        if self.stale or self.journal.size < COMPACT_MIN_BYTES:
            return False
        blocks = sorted(live, key=lambda b: (b.journal_number, b.first_value))
        if not self.journal.should_compact(sum(len(b.packed) + 48 for b in blocks)) or not self.commit():
            return False
        before = self.journal.size
        try:
            self.journal.rewrite(self._taken_in(b) for b in blocks)
        except OSError as error:  # the old file is intact; compaction waits for room (logged once by disk)
            self.disk.failed(self.journal.rewrite_path, error)
            return False
        self.disk.written(self.journal.rewrite_path)
        log.info("journal compacted: %.1f MB -> %.1f MB (%d values live)", before / 1e6,
                 self.journal.size / 1e6, sum(b.count for b in blocks))
        return True

    def close(self) -> None:
        self.synced(wait=True)
        if self._syncer is not None:
            self._syncer.shutdown()
        self.commit()
        self.journal.close()
