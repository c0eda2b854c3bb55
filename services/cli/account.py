"""Where every polled value went, for a time window: ``scada account``.

A cycle (one PollingData) is identified by (plc_code, group, cycle): the
cycle number that no clock step or restart repeats (common/wire/cycle.py); a
window selects cycles by ``ts``, their read time as the wall clock said it,
so after a clock step a window may hold cycles read at two different real
times, each counted once. For every
cycle read in the window the ledger says how many values were polled; the
historian says how many rows of that cycle are stored; the backup folder
holds rows waiting to be replayed (backed up) and rows the database refused
(rejected); the ledger says what a poller's full queue and the buffer's full
ring dropped; the pollers' send queues and the buffer's journal hold what is
still on its way (in flight). A value is counted once, in the first of these
that has it (stored, backed up, rejected, in flight, dropped at a poller's
queue, dropped by the buffer's overflow, refused at the buffer's door); a polled value in none of them is
**lost**. Rows of a
cycle the ledger never saw polled are counted apart (``unledgered``): they
were stored before the ledger existed, or the ledger files were deleted.

The places are read in the order values move through them, so a value in
transit is found wherever it is at each look and never reported lost: the
cycles polled (the ledger), then the pollers' outboxes (a poller forgets a
cycle only once the buffer journaled it), the buffer's journal (it finishes a
slice only once the writer committed or backed it up), the backup and
rejected files, the historian, and last the drops of the ledger (written
before a queue or the ring lets a cycle go).

A full data disk drops nothing: the stages keep in memory the cycles and
ledger records they cannot write and write them once they can (common/disk.py);
a window read while that lasts may miss cycles polled during it, or see them
polled and not yet anywhere on file, so read it again once health no longer
names a disk.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from common import ledger
from common.historian.rows import Row
from common.historian.sink import CycleKey, Sink
from common.journal import Journal
from common.times import iso_ms, ms_of_iso
from common.wire.envelope import MessageError
from common.wire.ingest import cycle_head
from services.buffer import ring_journal
from services.poller import sender
from services.writer.backup import BackupError, BackupStore

log = logging.getLogger("accounting")


@dataclass
class Account:
    since_ms: int
    until_ms: int
    cycles: int = 0
    polled: int = 0
    stored: int = 0
    backed_up: int = 0
    rejected: int = 0
    in_flight: int = 0
    queue_dropped: int = 0
    overflow_dropped: int = 0
    rejected_at_ingest: int = 0
    lost: int = 0
    unledgered: int = 0
    #: the first lost cycles, for the operator to look at: [plc, group, cycle, ts, values lost]
    lost_cycles: list[list[Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["since"], out["until"] = iso_ms(self.since_ms), iso_ms(self.until_ms)
        return out

    def table(self) -> str:
        lines = [f"cycles read {iso_ms(self.since_ms)} .. {iso_ms(self.until_ms)}: {self.cycles:,}",
                 f"  polled                       {self.polled:>12,}",
                 f"  stored in the historian      {self.stored:>12,}",
                 f"  backed up, not yet replayed  {self.backed_up:>12,}",
                 f"  rejected by the database     {self.rejected:>12,}",
                 f"  in flight (queue or buffer)  {self.in_flight:>12,}",
                 f"  dropped at a poller's queue  {self.queue_dropped:>12,}",
                 f"  dropped by buffer overflow   {self.overflow_dropped:>12,}",
                 f"  refused at the buffer's door {self.rejected_at_ingest:>12,}",
                 f"  lost                         {self.lost:>12,}"]
        if self.unledgered:
            lines.append(f"  stored, not in the ledger    {self.unledgered:>12,}")
        for plc, group, cycle, ts, n in self.lost_cycles:
            lines.append(f"  lost: {plc} {group} cycle {cycle} read {iso_ms(ts)}: {n} values")
        return "\n".join(lines)


def _backup_rows(files: list[Path], since_ms: int, until_ms: int) -> dict[CycleKey, set[str]]:
    rows: dict[CycleKey, set[str]] = defaultdict(set)
    for path in files:
        try:
            found: list[Row] = BackupStore.read(path)
        except (BackupError, OSError) as error:
            log.error("cannot read %s: %s", path, error)
            continue
        for row in found:
            if since_ms <= ms_of_iso(row.ts) < until_ms:
                rows[(row.plc_code, row.group_name, row.cycle)].add(row.tag_address)
    return rows


def _in_flight(data_dir: Path, since_ms: int, until_ms: int) -> Counter[CycleKey]:
    """Values waiting in the pollers' send queues, then in the buffer (ring or leased), per cycle.

    The outboxes first: a cycle leaves one only after the buffer journaled it.
    """
    waiting: Counter[CycleKey] = Counter()
    for path in sorted(data_dir.glob("poller_*.outbox")):
        for (group, cycle), frame in sender.waiting(Journal(path), repair=False).items():
            try:
                head = cycle_head(frame)
                if since_ms <= head.ts_ms < until_ms:
                    waiting[(head.plc_code, group, cycle)] += head.value_count
            except MessageError:
                log.error("%s: a queued PollingData that does not decode", path)
    path = data_dir / "buffer.journal"
    if path.exists():
        for block in ring_journal.unfinished(Journal(path), repair=False)[0]:
            if since_ms <= block.ts_ms < until_ms:
                waiting[(block.plc_code, block.group, block.identity)] += block.count
    return waiting


def account(ledger_dir: Path, sink: Sink, backup_dir: Path, since_ms: int, until_ms: int,
            data_dir: Path | None = None, keep_lost: int = 20) -> Account:
    # 1. what was polled; a cycle polled after this look is not in this account
    polled: dict[CycleKey, tuple[int, int]] = {}  # key -> (ts, values)
    for entry in ledger.read(ledger_dir, since_ms, until_ms, ("polled",)):
        key = (entry.plc_code, entry.group, entry.cycle)
        polled[key] = (entry.ts_ms, max(polled.get(key, (0, 0))[1], entry.values))
    # 2. where it is, in the order it moves: in flight, backed up or rejected, stored, dropped
    in_flight = _in_flight(data_dir, since_ms, until_ms) if data_dir is not None else Counter()
    backed_up = _backup_rows(sorted(backup_dir.glob("backup_*.csv")), since_ms, until_ms)
    rejected = _backup_rows(sorted((backup_dir / "rejected").glob("rejected_*.csv")), since_ms, until_ms)
    stored = sink.cycle_counts(since_ms, until_ms)
    queue_dropped: Counter[CycleKey] = Counter()
    overflow: Counter[CycleKey] = Counter()
    refused: Counter[CycleKey] = Counter()
    by_kind = {"queue_dropped": queue_dropped, "overflow": overflow, "rejected_at_ingest": refused}
    for entry in ledger.read(ledger_dir, since_ms, until_ms, tuple(by_kind)):
        by_kind[entry.kind][(entry.plc_code, entry.group, entry.cycle)] += entry.values

    result = Account(since_ms, until_ms, cycles=len(polled))
    for key, (ts, n) in sorted(polled.items(), key=lambda kv: (kv[1][0], kv[0])):
        s = min(stored.get(key, 0), n)
        b = r = 0
        if key in backed_up or key in rejected:
            have = sink.addresses(key, ts) if s else set()
            b = len(backed_up.get(key, set()) - have)
            r = len(rejected.get(key, set()) - have - backed_up.get(key, set()))
        b = min(b, n - s)
        r = min(r, n - s - b)
        f = min(in_flight.get(key, 0), n - s - b - r)
        left = n - s - b - r - f
        dq = min(queue_dropped.get(key, 0), left)
        do = min(overflow.get(key, 0), left - dq)
        ri = min(refused.get(key, 0), left - dq - do)
        lost = left - dq - do - ri
        result.polled += n
        result.stored += s
        result.backed_up += b
        result.rejected += r
        result.in_flight += f
        result.queue_dropped += dq
        result.overflow_dropped += do
        result.rejected_at_ingest += ri
        result.lost += lost
        if lost and len(result.lost_cycles) < keep_lost:
            result.lost_cycles.append([*key, ts, lost])
    result.unledgered = sum(n for key, n in stored.items() if key not in polled)
    return result
