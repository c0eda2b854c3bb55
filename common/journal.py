"""An append-only file of msgpack records that survives a killed process.

Strategy: ``append`` hands the records to the operating system with one
``write`` call, so once it returns a SIGKILL of the process cannot take them
back; ``sync`` adds an fsync against a power cut, and the owner calls it for a
group of appends, not for each. ``replay`` reads the records back at start; a
record cut short by a crash ends the replay and is cut off the file, and
bytes that do not decode are copied aside (logged) rather than silently
skipped. ``rewrite`` replaces the file with only the records still live
(temporary file, fsync, rename), so a journal that is appended to for years
stays as small as what it protects.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgpack

log = logging.getLogger("journal")


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self.dirty = False
        self._fd: int | None = None

    def replay(self, repair: bool = True) -> Iterator[Any]:
        """The records on file, oldest first; the owner calls it before ``open``.

        ``repair``: cut a torn last record off the file (the owner, at start);
        a reader of another process's journal passes False and leaves the file alone.
        """
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=max(len(data), 1 << 20))
        unpacker.feed(data)
        good = 0
        try:
            for record in unpacker:
                good = unpacker.tell()
                yield record
        except (ValueError, msgpack.UnpackException) as error:
            if not repair:
                log.error("%s: undecodable bytes at offset %d (%s)", self.path, good, error)
                return
            aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
            aside.write_bytes(data)
            log.error("%s: undecodable bytes at offset %d (%s); the whole file is copied to %s",
                      self.path, good, error, aside)
        else:
            if good < len(data) and repair:
                log.warning("%s: the last record was cut short (%d bytes) by a crash; dropped",
                            self.path, len(data) - good)
        if good < len(data) and repair:
            with self.path.open("r+b") as handle:
                handle.truncate(good)

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.size = os.fstat(self._fd).st_size

    def append(self, records: Iterable[Any]) -> None:
        data = b"".join(msgpack.packb(r, use_bin_type=True) for r in records)
        if not data:
            return
        assert self._fd is not None, "journal not open"
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]
        self.size += len(data)
        self.dirty = True

    def sync(self) -> None:
        if self.dirty and self._fd is not None:
            os.fsync(self._fd)
            self.dirty = False

    def sync_handle(self) -> int | None:
        """For an fsync away from the owner's thread: a duplicate of the file's descriptor, to give to
        :func:`fsync_and_close`, or None when nothing was appended since the last sync. The duplicate
        stays valid if the owner closes or rewrites the journal meanwhile."""
        if not self.dirty or self._fd is None:
            return None
        self.dirty = False  # before the fsync: an append during it marks the journal dirty again
        return os.dup(self._fd)

    def rewrite(self, records: Iterable[Any]) -> None:
        """Replace the file with ``records`` alone, atomically."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("wb") as handle:
            for record in records:
                handle.write(msgpack.packb(record, use_bin_type=True))
            handle.flush()
            os.fsync(handle.fileno())
        self.close()
        tmp.replace(self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self.open()
        self.dirty = False

    def close(self) -> None:
        if self._fd is not None:
            if self.dirty:
                os.fsync(self._fd)
                self.dirty = False
            os.close(self._fd)
            self._fd = None


def fsync_and_close(handles: Iterable[int]) -> None:
    """fsync and close the descriptors :meth:`Journal.sync_handle` gave (in a worker thread)."""
    for fd in handles:
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
