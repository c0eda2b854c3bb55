"""The ledger: what each stage did with each cycle, for ``scada account``.

Strategy: one small msgpack record per event, appended (one ``write``) to a
file per stage and UTC day under ``data/ledger/``, so a killed process keeps
what it recorded; files older than ``LEDGER_KEEP_DAYS`` are deleted when a
new day starts. A cycle is identified by (plc_code, group, ts): ``seq``
starts again at 1 when a poller restarts, the cycle's read-start time does not.

Records::

    ["polled", plc, group, seq, ts, values]        a poller made a PollingData (before it is queued)
    ["queue_dropped", plc, group, ts, values]      a poller's full queue dropped it, unsent
    ["overflow", plc, group, ts, values]           the buffer's full ring dropped values of it
    ["rejected_at_ingest", plc, group, ts, values] the buffer refused the cycle at its door (value_checks.py)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common.journal import Journal

log = logging.getLogger("ledger")

KINDS = ("polled", "queue_dropped", "overflow", "rejected_at_ingest")


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y%m%d")


class Ledger:
    def __init__(self, folder: Path, source: str, keep_days: int = 14) -> None:
        self.folder = folder
        self.source = source
        self.keep_days = keep_days
        self._day = ""
        self._journal: Journal | None = None

    def record(self, *records: list[Any]) -> None:
        day = _day(time.time())
        if day != self._day:
            self._roll(day)
        assert self._journal is not None
        self._journal.append(records)

    def _roll(self, day: str) -> None:
        if self._journal is not None:
            self._journal.close()
        self._day = day
        self._journal = Journal(self.folder / f"{self.source}_{day}.ledger")
        self._journal.open()
        oldest = _day(time.time() - self.keep_days * 86400)
        for path in self.folder.glob(f"{self.source}_*.ledger"):
            if path.stem.rsplit("_", 1)[-1] < oldest:
                path.unlink(missing_ok=True)
                log.info("deleted ledger %s (older than %d days)", path.name, self.keep_days)

    def sync(self) -> None:
        if self._journal is not None:
            self._journal.sync()

    def sync_handle(self) -> int | None:
        """See :meth:`Journal.sync_handle`."""
        return self._journal.sync_handle() if self._journal is not None else None

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None
            self._day = ""


def read(folder: Path, since_ms: int, until_ms: int) -> Iterator[list[Any]]:
    """Every ledger record of a cycle in [since_ms, until_ms), from every stage's files.

    Every file is read: a file is named for the day a record was written, and
    the buffer may drop a cycle (and write its record) days after it was read.
    """
    for path in sorted(folder.glob("*.ledger")):
        for record in Journal(path).replay(repair=False):
            if (isinstance(record, list) and len(record) >= 5 and record[0] in KINDS
                    and isinstance(record[-2], int) and since_ms <= record[-2] < until_ms):
                yield record
