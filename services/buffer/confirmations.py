"""The buffer's confirmations to the pollers: a cycle is confirmed only once it is in the journal.

Strategy: each cycle taken in (or refused at the door, and recorded in the
ledger) waits here under its poller's PLC code until the journal's records
of this turn of the loop are written, and, with BUFFER_JOURNAL_SYNC, until
an fsync run in a worker thread says they are on the disk (fsyncs start at
most every BUFFER_JOURNAL_SYNC_MS, so one fsync serves every cycle taken in
meanwhile). Then its poller hears it (Ingested, on the live PUB under
``ack.<plc_code>``) and forgets the cycle. While the journal is stale (a full
disk) nothing is confirmed, and a poller's resend of a cycle held here
unconfirmed is not taken twice. The last two seconds' confirmations are sent
again once a second, for a poller that was (re)connecting when they went.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Protocol

import zmq

from common import bus
from common.ledger import Ledger
from common.wire.envelope import encode
from common.wire.ingest import Ingested
from services.buffer.ring_journal import RingJournal

SYNC_POLL_S = 0.001  # the loop's poll timeout while an fsync runs in the worker thread
IDLE_POLL_S = 0.1  # ...and when nothing waits

Key = tuple[str, int]  # (group, cycle)


class LivePub(Protocol):
    """What the buffer needs of its live PUB (a test passes a recorder)."""

    def send_multipart(self, msg_parts: list[bytes], flags: int = ...) -> Any: ...


ByPlc = dict[str, list[Key]]


class Confirmations:
    def __init__(self, journal: RingJournal, ledger: Ledger, sync_every_ms: float) -> None:
        self.journal = journal
        self.ledger = ledger
        self.sync_every_s = sync_every_ms / 1000
        self.unconfirmed: ByPlc = {}
        self.syncing: ByPlc = {}  # written, confirmed once the worker's fsync is done
        self.held: set[tuple[str, str, int]] = set()  # (plc, group, cycle) not confirmed: a resend is not taken
        self.resends_held = 0
        self.ledger_unsynced = False  # a refused cycle's record, to sync before its poller hears of it
        self._recent: ByPlc = {}  # confirmed this second, per PLC
        self._previous: ByPlc = {}  # ...and the second before
        self._last_sync = 0.0

    def taken_in(self, plc: str, key: Key) -> bool:
        """Wait for the journal with this cycle; False if it already waits (a resend while the journal is stale)."""
        held = (plc, *key)
        if held in self.held:
            self.resends_held += 1
            return False
        self.unconfirmed.setdefault(plc, []).append(key)
        self.held.add(held)
        return True

    def refused(self, plc: str, key: Key) -> None:
        """A cycle refused at the door, recorded in the ledger: confirmed once the ledger is synced."""
        self.ledger_unsynced = True
        self.unconfirmed.setdefault(plc, []).append(key)

    @property
    def waiting(self) -> int:
        return sum(map(len, [*self.unconfirmed.values(), *self.syncing.values()]))

    def confirm(self, live: LivePub, force: bool = False) -> float:
        """Write this turn's journal records, then tell each poller which of its cycles are in.

        Returns the loop's next poll timeout: short while an fsync runs or one is due soon.
        """
        if not self.journal.write():
            return IDLE_POLL_S  # stale (a full disk): nothing is confirmed until restore() rewrote the journal
        if self.syncing:
            done = self.journal.synced(wait=force)
            if done is None:
                return SYNC_POLL_S
            batch, self.syncing = self.syncing, {}
            if not done:  # not on the disk: confirmed once restore() rewrote the journal
                for plc, keys in batch.items():
                    self.unconfirmed[plc] = keys + self.unconfirmed.get(plc, [])
                return IDLE_POLL_S
            self._publish_all(live, batch)
        if not self.unconfirmed:
            return IDLE_POLL_S
        if self.ledger_unsynced:
            if not self.ledger.flush():  # a refused cycle's record is not on file yet: confirm nothing
                return IDLE_POLL_S
            self.ledger.sync()
            self.ledger_unsynced = False
        if self.journal.sync:
            now = time.monotonic()
            due = self._last_sync + self.sync_every_s
            if now < due and not force:
                return due - now
            self._last_sync = now
            if self.journal.start_sync():
                self.syncing, self.unconfirmed = self.unconfirmed, {}
                if not force:
                    return SYNC_POLL_S
                return self.confirm(live, force=True)
        self._publish_all(live, self.unconfirmed)
        self.unconfirmed = {}
        return IDLE_POLL_S

    def _publish_all(self, live: LivePub, batch: ByPlc) -> None:
        for plc, keys in batch.items():
            _publish(live, plc, keys)
            self._recent.setdefault(plc, []).extend(keys)
            self.held.difference_update((plc, *key) for key in keys)

    def again(self, live: LivePub) -> None:
        """Once a second, the last two seconds' confirmations again: a poller that was (re)connecting
        when they were first sent (a PUB does not wait for its subscribers) hears them now, rather
        than sending those cycles again after POLLER_ACK_TIMEOUT."""
        for plc in self._recent.keys() | self._previous.keys():
            keys = self._previous.get(plc, []) + self._recent.get(plc, [])
            if keys:
                _publish(live, plc, keys)
        self._previous, self._recent = self._recent, {}


def _publish(live: LivePub, plc: str, keys: list[Key]) -> None:
    with contextlib.suppress(zmq.Again):
        live.send_multipart([bus.ack_topic(plc), encode(Ingested(plc, keys))], flags=zmq.NOBLOCK)
