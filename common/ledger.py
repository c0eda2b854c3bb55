"""The ledger: what each stage did with each cycle, for ``scada account``.

Strategy: one small msgpack record per event, appended (one ``write``) to a
file per stage and UTC day under ``data/ledger/``, so a killed process keeps
what it recorded; files older than ``LEDGER_KEEP_DAYS`` are deleted when a
new day starts. A record the disk does not take (full, failing) is kept in
memory, in order, and written with the next record or ``flush`` once it
does (tried at most every RETRY_S meanwhile): a count is never lost because
the ledger could not be written, and the stage never stops for it. A cycle
is identified by (plc_code, group, cycle): the cycle number no clock step
or restart repeats (see common/wire/cycle.py); ``ts``, its read time as the
wall clock said, is what ``scada account`` selects a window by.

Records::

    ["polled", plc, group, seq, ts, values, cycle]    a poller made a PollingData (before it is queued)
    ["queue_dropped", plc, group, ts, values, cycle]  a poller's full queue dropped it, unsent
    ["overflow", plc, group, ts, values, cycle]       the buffer's full ring dropped values of it
    ["rejected_at_ingest", plc, group, ts, values, cycle]  the buffer refused the cycle at its door (value_checks.py)

The previous release wrote them without ``cycle``; :func:`read` gives those
the cycle ``-ts`` (``legacy_cycle``), as every other stage does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from common.disk import DiskState
from common.journal import Journal
from common.wire.cycle import legacy_cycle

log = logging.getLogger("ledger")

KINDS = ("polled", "queue_dropped", "overflow", "rejected_at_ingest")
RETRY_S = 1.0
#: fields after the kind in a record of this release: polled has seq too
_FIELDS = {"polled": 6, "queue_dropped": 5, "overflow": 5, "rejected_at_ingest": 5}


class LedgerRecord(NamedTuple):
    """A ledger record, read back."""

    kind: str
    plc_code: str
    group: str
    cycle: int
    ts_ms: int
    values: int


def parse(record: Any) -> LedgerRecord | None:
    """A record as an LedgerRecord (of this release or the previous one), None for anything else."""
    if not (isinstance(record, list) and record and record[0] in KINDS):
        return None
    fields = _FIELDS[record[0]]
    try:
        if len(record) == fields + 1:  # this release: the cycle last
            ts, n, cycle = record[-3], record[-2], record[-1]
        elif len(record) == fields:  # the previous release: no cycle
            ts, n = record[-2], record[-1]
            cycle = legacy_cycle(int(ts))
        else:
            return None
        return LedgerRecord(record[0], str(record[1]), str(record[2]), int(cycle), int(ts), int(n))
    except (TypeError, ValueError):
        return None


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y%m%d")


class Ledger:
    def __init__(self, folder: Path, source: str, keep_days: int = 14, disk: DiskState | None = None) -> None:
        self.folder = folder
        self.source = source
        self.keep_days = keep_days
        self.disk = disk or DiskState()
        self.pending: list[list[Any]] = []  # records the disk has not taken yet, oldest first
        self._failed_at: float | None = None
        self._day = ""
        self._journal: Journal | None = None

    def record(self, *records: list[Any]) -> None:
        """Append records; never raises for the disk (see the module's docstring)."""
        self.pending.extend(records)
        if self._failed_at is None or time.monotonic() - self._failed_at >= RETRY_S:
            self.flush()

    def flush(self) -> bool:
        """Write what is pending; False when the disk did not take it (it stays pending)."""
        if not self.pending:
            return True
        path = self.folder / f"{self.source}_{_day(time.time())}.ledger"
        try:
            journal = self._open(path)
            journal.append(self.pending)
        except OSError as error:
            self._failed_at = time.monotonic()
            self.disk.failed(path, error)
            return False
        self.pending = []
        if self._failed_at is not None:
            self._failed_at = None
            self.disk.written(path)
        return True

    def _open(self, path: Path) -> Journal:
        if self._journal is not None and self._journal.path == path and self._journal.is_open:
            return self._journal
        day = path.stem.rsplit("_", 1)[-1]
        if day != self._day:
            self._roll(day)
        assert self._journal is not None
        if not self._journal.is_open:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._journal.open()
        return self._journal

    def _roll(self, day: str) -> None:
        if self._journal is not None:
            self._journal.close()
        self._day = day
        self._journal = Journal(self.folder / f"{self.source}_{day}.ledger")
        oldest = _day(time.time() - self.keep_days * 86400)
        for path in self.folder.glob(f"{self.source}_*.ledger"):
            if path.stem.rsplit("_", 1)[-1] < oldest:
                path.unlink(missing_ok=True)
                log.info("deleted ledger %s (older than %d days)", path.name, self.keep_days)

    def sync(self) -> None:
        if self._journal is not None:
            try:
                self._journal.sync()
            except OSError as error:
                self.disk.failed(self._journal.path, error)

    def sync_handle(self) -> int | None:
        """See :meth:`Journal.sync_handle`."""
        return self._journal.sync_handle() if self._journal is not None else None

    def close(self) -> None:
        if not self.flush():
            log.error("%d ledger records could not be written (disk full?) and are lost with this process",
                      len(self.pending))
        if self._journal is not None:
            self._journal.close()
            self._journal = None
            self._day = ""


def read(folder: Path, since_ms: int, until_ms: int, kinds: tuple[str, ...] = KINDS) -> Iterator[LedgerRecord]:
    """Every ledger record of ``kinds`` of a cycle read in [since_ms, until_ms), from every stage's files.

    Every file is read: a file is named for the day a record was written, and
    the buffer may drop a cycle (and write its record) days after it was read.
    """
    for path in sorted(folder.glob("*.ledger")):
        for record in Journal(path).replay(repair=False):
            entry = parse(record)
            if entry is not None and entry.kind in kinds and since_ms <= entry.ts_ms < until_ms:
                yield entry
