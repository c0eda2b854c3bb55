"""The gateway's copy of the plant's groups and PLCs, read from the config store off the event loop.

Strategy: requests never touch SQLite. The config store can be busy for
seconds (an import's commit, an operator's ``BEGIN EXCLUSIVE``), and a
synchronous read inside a handler would stop every request and WebSocket of
the gateway meanwhile. Handlers ask ``PlantIndex.current()``, which answers
a copy younger than REFRESH_S at once and otherwise reads the store again in
a worker thread (one read at a time, with a short busy timeout), waiting
FRESH_WAIT_S for it. While the store stays busy the last copy is answered; a
gateway that has never read it raises StoreBusy, which the routes turn into
503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from common.config_store import model
from common.config_store.schema import migrate

log = logging.getLogger("gateway.plant")

REFRESH_S = 2.0
FRESH_WAIT_S = 0.3
BUSY_TIMEOUT_MS = 1000
RETRY_AFTER_S = 2


class StoreBusy(Exception):
    """The config store could not be read (locked, or not there) and no earlier copy exists."""


@dataclass(frozen=True)
class Plant:
    groups: list[model.PollingGroup]
    active_plcs: list[str]


def read_plant(path: Path) -> Plant:
    """One consistent read of the groups and active PLCs; blocking (call it in a thread)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        migrate(conn)
        conn.execute("BEGIN")
        try:
            plant = Plant(model.load_groups(conn), [p.plc_code for p in model.load_plcs(conn, active_only=True)])
        finally:
            conn.execute("COMMIT")
        return plant
    finally:
        conn.close()


class PlantIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._plant: Plant | None = None
        self._read_at = 0.0  # monotonic
        self._reading: asyncio.Task[Plant | None] | None = None
        self.busy_reads = 0
        self.last_error: str | None = None

    async def current(self) -> Plant:
        """The plant, read again when the copy is older than REFRESH_S.

        The read gets FRESH_WAIT_S (a healthy store answers in milliseconds, so
        a group imported a moment ago is found); past that, or while the store
        is busy, the last copy answers. Only a gateway that has never read the
        store waits for a read, and gets StoreBusy if it fails.
        """
        if self._plant is not None:
            if time.monotonic() - self._read_at < REFRESH_S:
                return self._plant
            reading = self.refresh()
            done, _ = await asyncio.wait({reading}, timeout=FRESH_WAIT_S)  # the read goes on if it times out
            fresh = reading.result() if done else None
            return fresh if fresh is not None else self._plant
        reading = self.refresh()
        # shielded: one request giving up must not cancel the read the others wait for
        plant = await asyncio.shield(reading)
        if plant is None:
            raise StoreBusy(f"the config store is busy or unreadable: {self.last_error}")
        return plant

    def refresh(self) -> asyncio.Task[Plant | None]:
        """Start reading the store in a worker thread, unless a read is under way; the read's task."""
        if self._reading is None:
            self._reading = asyncio.create_task(self._read())
        return self._reading

    async def _read(self) -> Plant | None:
        try:
            plant = await asyncio.to_thread(read_plant, self.path)
        except (sqlite3.Error, OSError) as error:
            self.busy_reads += 1
            self.last_error = str(error)
            log.warning("config store not read (%s); %s", error,
                        "answering from the last copy" if self._plant else "answering 503 until it is")
            return None
        finally:
            self._reading = None
        self._plant, self._read_at = plant, time.monotonic()
        return plant
