"""The gateway's copy of every tag's name, unit and description, read from the config store off the event loop.

Strategy: the live values arrive as addresses (the wire carries no names, so a
cycle stays small); the gateway puts the plant's words beside them. Tags can
number hundreds of thousands, so they are not read again on a timer: one
connection is kept, and every REFRESH_S a worker thread asks SQLite's
``PRAGMA data_version`` (which changes when another connection commits) and
reads the tags again only when it changed, or when the file was replaced.
Lookups never wait: they answer from the last copy (empty until the first
read) and start a read in the background when the copy is stale, so a busy
store delays names, never a request or a WebSocket round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.config_store.model import DEFAULT_MAX_INTERVAL_MS

log = logging.getLogger("gateway.tag_names")

REFRESH_S = 2.0
FIRST_WAIT_S = 0.3
BUSY_TIMEOUT_MS = 1000


@dataclass(frozen=True)
class TagName:
    plc_code: str
    group: str
    tag_name: str
    address: str
    data_type: str
    unit: str
    description: str
    deadband: float | None = None
    #: the longest a FIXED group's tag goes without a row while it is collected (the interval, or with a
    #: deadband the group's maximum interval); None for a HANDSHAKE group, read when the PLC asks
    expected_every_ms: int | None = None


#: (plc_code, group, address): a group reads an address once (csv_rules: unique per group)
TagKey = tuple[str, str, str]


def _expected_every(deadband: float | None, mode: str, interval_ms: int, max_interval_ms: int | None) -> int | None:
    if mode != "FIXED":
        return None
    if deadband is None:
        return int(interval_ms)
    return int(max_interval_ms or DEFAULT_MAX_INTERVAL_MS)


class _Reader:
    """The blocking side: one connection, re-read only when the store changed. Used by one thread at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None
        self.inode: int | None = None
        self.version: int | None = None

    def read_if_changed(self) -> list[TagName] | None:
        """Every tag, or None when nothing changed since the last read."""
        inode = os.stat(self.path).st_ino  # a missing store raises OSError, the caller keeps its copy
        if self.conn is None or inode != self.inode:
            self.close()
            self.conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                        timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
            self.inode, self.version = inode, None
        version = int(self.conn.execute("PRAGMA data_version").fetchone()[0])
        if version == self.version:
            return None
        rows = self.conn.execute(
            "SELECT t.plc_code, t.group_name, t.tag_name, t.address, t.data_type, t.unit, t.description, t.deadband, "
            "g.mode, g.interval_ms, g.max_interval_ms FROM tags t JOIN polling_groups g USING (plc_code, group_name) "
            "ORDER BY t.plc_code, t.group_name, t.rowid").fetchall()
        self.version = version
        return [TagName(plc, group, name, address, data_type, unit, description, deadband,
                        _expected_every(deadband, mode, interval_ms, max_interval_ms))
                for plc, group, name, address, data_type, unit, description, deadband, mode, interval_ms,
                max_interval_ms in rows]

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class TagNames:
    def __init__(self, path: Path) -> None:
        self._reader = _Reader(path)
        self._by_key: dict[TagKey, TagName] = {}
        self._tags: list[TagName] = []
        self._counts: dict[tuple[str, str], int] = {}
        self._read_at = float("-inf")  # monotonic
        self._reading: asyncio.Task[None] | None = None
        self.reads = 0
        self.failed_reads = 0
        self.last_error: str | None = None

    def lookup(self, plc_code: str, group: str, address: str) -> TagName | None:
        self._refresh_if_stale()
        return self._by_key.get((plc_code, group, address))

    def name_values(self, values: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each live value (a dict with plc_code, group, address) with its tag's name, unit and description.

        A value whose tag is not (or no longer) in the store gets None for all three.
        """
        self._refresh_if_stale()
        for value in values:
            tag = self._by_key.get((value["plc_code"], value["group"], value["address"]))
            value["tag_name"] = tag.tag_name if tag else None
            value["unit"] = tag.unit if tag else None
            value["description"] = tag.description if tag else None
        return values

    def count(self, plc_code: str, group: str) -> int | None:
        """How many tags the group has in the last copy of the store; None when it has none there."""
        return self._counts.get((plc_code, group))

    def all(self) -> list[TagName]:
        """Every tag of the last copy, in the store's order."""
        self._refresh_if_stale()
        return self._tags

    async def ready(self) -> None:
        """Before the first read only, wait up to FIRST_WAIT_S for it; after that, never wait.

        A request must not wait on a busy store (an import's commit, an exclusive lock): names a moment
        old answer at once, and a read started here serves the next request.
        """
        self._refresh_if_stale()
        if self._reading is not None and self.reads == 0:
            await asyncio.wait({self._reading}, timeout=FIRST_WAIT_S)  # the read goes on if it times out

    async def refresh(self) -> None:
        """Read the store now (unless a read is under way) and wait for it; for tests and tools."""
        self._read_at = float("-inf")
        self._refresh_if_stale()
        if self._reading is not None:
            await asyncio.shield(self._reading)

    def _refresh_if_stale(self) -> None:
        if self._reading is None and time.monotonic() - self._read_at >= REFRESH_S:
            with contextlib.suppress(RuntimeError):  # no loop (a synchronous caller): the last copy answers
                self._reading = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            tags = await asyncio.to_thread(self._reader.read_if_changed)
        except (sqlite3.Error, OSError) as error:
            self.failed_reads += 1
            if self.last_error != str(error):
                log.warning("tag names not read from the config store (%s); the last copy answers", error)
            self.last_error = str(error)
            self._reader.close()
            tags = None
        finally:
            self._read_at = time.monotonic()
            self._reading = None
        if tags is not None:
            self.reads += 1
            self.last_error = None
            self._tags = tags
            self._by_key = {(t.plc_code, t.group, t.address): t for t in tags}
            counts: dict[tuple[str, str], int] = {}
            for t in tags:
                counts[(t.plc_code, t.group)] = counts.get((t.plc_code, t.group), 0) + 1
            self._counts = counts

    def close(self) -> None:
        if self._reading is not None:
            self._reading.cancel()
        self._reader.close()
