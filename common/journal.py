"""An append-only file of msgpack records that survives a killed process and a full disk.

Strategy: a record is framed, so it is on file whole or not at all::

    [ b"SCADAJ1\\n" ]                                          file header, once
    [ length: u32 LE ][ crc32 of payload: u32 LE ][ payload: msgpack, length bytes ]   ...

``append`` hands a group of records to the operating system and, when a
write fails (ENOSPC, EIO) part way, cuts the file back to the end of the last
whole record before raising: no torn record is ever followed by more.
``sync`` (or :meth:`sync_handle` for a worker thread) adds an fsync against a
power cut; the owner calls it for a group of appends, not for each.
``replay`` reads the records back at start: a record cut short by a crash ends
the replay and is cut off the file, and bytes that do not check out are
copied aside (logged) rather than silently skipped. ``rewrite`` replaces the
file with only the records still live (temporary file, fsync, rename), and
``should_compact`` is the one rule for when to do it. A journal the previous
release left (bare msgpack records, no header) replays as it is and is
converted to this format when opened (a disk too full to convert it leaves it
unopened and read-only: nothing in it is lost, nothing is appended after it).
"""

from __future__ import annotations

import errno
import logging
import os
import struct
import time
import zlib
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import Any

import msgpack

log = logging.getLogger("journal")

HEADER = b"SCADAJ1\n"
FRAME = struct.Struct("<II")
MAX_RECORD = 1 << 30  # a length beyond this is damage, not a record
COMPACT_RATIO = 4  # rewrite when the file is this many times what is still live...
COMPACT_MIN_BYTES = 4 << 20  # ...and at least this big (an owner may ask for more)


def frame(record: Any) -> bytes:
    return b"".join(_framed_parts([record]))


def _framed_parts(records: Iterable[Any]) -> list[bytes]:
    """Frame headers and payloads, to be joined once (a record's bytes are copied once, not twice)."""
    parts: list[bytes] = []
    pack = msgpack.Packer(use_bin_type=True).pack
    for record in records:
        payload = pack(record)
        parts += (FRAME.pack(len(payload), zlib.crc32(payload)), payload)
    return parts


def _unpack(payload: bytes | memoryview) -> Any:
    return msgpack.unpackb(payload, raw=False, strict_map_key=False)


class Journal:
    def __init__(self, path: Path, compact_min_bytes: int = COMPACT_MIN_BYTES) -> None:
        self.path = path
        self.compact_min_bytes = compact_min_bytes
        self.size = 0  # bytes on file up to the end of the last whole record
        self.dirty = False
        self.legacy = False  # the last replay found the previous release's format
        self._checked = False  # a repairing replay ran to the end: the file ends with a whole record
        self._fd: int | None = None

    # -- reading ---------------------------------------------------------------
    def replay(self, repair: bool = True) -> Iterator[Any]:
        """The records on file, oldest first; the owner calls it before ``open``.

        ``repair``: cut a torn last record off the file (the owner, at start);
        a reader of another process's journal passes False and leaves the file alone.
        """
        self.legacy = False
        if not self.path.exists():
            self._checked = repair
            return
        data = self.path.read_bytes()
        if data.startswith(HEADER):
            good, damaged = yield from self._framed(data)
        elif len(data) < len(HEADER) and HEADER.startswith(data):
            good, damaged = 0, False  # a header cut short: an empty journal
        else:
            self.legacy = True
            good, damaged = yield from self._bare(data)
        self._checked = repair and (good == len(data) or self._repair(data, good, damaged))

    def _framed(self, data: bytes) -> Generator[Any, None, tuple[int, bool]]:
        """Yields the records; returns (end of the last good record, whether what follows is damage)."""
        view = memoryview(data)
        at = len(HEADER)
        while at < len(data):
            if at + FRAME.size > len(data):
                return at, False  # torn frame header
            length, crc = FRAME.unpack_from(data, at)
            end = at + FRAME.size + length
            if length > MAX_RECORD:
                return at, True
            if end > len(data):
                return at, False  # torn payload: the process died (or the disk filled) mid-write
            payload = view[at + FRAME.size:end]
            if zlib.crc32(payload) != crc:
                return at, end < len(data)  # the last record half-written is a torn tail, not damage
            try:
                record = _unpack(payload)
            except (ValueError, msgpack.UnpackException):
                return at, True
            at = end
            yield record
        return at, False

    def _bare(self, data: bytes) -> Generator[Any, None, tuple[int, bool]]:
        """The previous release's format: msgpack records one after the other."""
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=max(len(data), 1 << 20))
        unpacker.feed(data)
        good = 0
        try:
            for record in unpacker:
                good = unpacker.tell()
                yield record
        except (ValueError, msgpack.UnpackException):
            return good, True
        return good, False

    def _repair(self, data: bytes, good: int, damaged: bool) -> bool:
        """Cut the file at ``good``; undecodable bytes are copied aside first (False: no room to)."""
        if damaged:
            aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
            try:
                aside.write_bytes(data)
            except OSError as error:
                aside.unlink(missing_ok=True)
                log.error("%s: undecodable bytes at offset %d, and no room to copy them aside (%s); "
                          "the file is left as it is", self.path, good, error)
                return False
            log.error("%s: undecodable bytes at offset %d; the whole file is copied to %s", self.path, good, aside)
        else:
            log.warning("%s: the last record was cut short (%d bytes) by a crash or a full disk; dropped",
                        self.path, len(data) - good)
        with self.path.open("r+b") as handle:
            handle.truncate(good)  # shrinking needs no free space
        return True

    # -- writing ---------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def open(self) -> None:
        """Open for appending (after ``replay``). A file in the previous release's format is converted
        first; raises OSError when the disk cannot take that (the journal stays closed)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self._checked:  # e.g. a ledger reopened: never append after a torn record
            for _ in self.replay(repair=True):
                pass
            if not self._checked:
                raise OSError(errno.ENOSPC, "damaged journal not yet copied aside", str(self.path))
        if self.legacy:
            records = list(self.replay(repair=False))
            self.rewrite(records)  # opens
            log.info("%s: converted %d records from the previous release's format", self.path, len(records))
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        size = os.fstat(fd).st_size
        if size == 0:
            try:
                self._write(fd, HEADER)
            except OSError:
                os.ftruncate(fd, 0)
                os.close(fd)
                raise
            size = len(HEADER)
        self._fd, self.size = fd, size

    @staticmethod
    def _write(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]

    def append(self, records: Iterable[Any]) -> None:
        """Write the records, all or none: on OSError the file is cut back to where it was, then it raises."""
        data = b"".join(_framed_parts(records))
        if not data:
            return
        if self._fd is None:
            self.open()
        assert self._fd is not None
        try:
            self._write(self._fd, data)
        except OSError:
            self._cut_back()
            raise
        self.size += len(data)
        self.dirty = True

    def _cut_back(self) -> None:
        """Undo a write that failed part way. If even that fails, close: ``open`` replays and cuts first."""
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, self.size)
        except OSError as error:
            log.error("%s: cannot cut a failed write back (%s); closed until it can be repaired", self.path, error)
            os.close(self._fd)
            self._fd = None
            self._checked = False  # open() replays and cuts the torn tail before appending again

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

    def should_compact(self, live_bytes: int) -> bool:
        """The one compaction rule: the file has grown past its minimum and well past what is live."""
        return self.size >= max(self.compact_min_bytes, COMPACT_RATIO * live_bytes)

    @property
    def rewrite_path(self) -> Path:
        """Where ``rewrite`` writes the new file before it replaces this one."""
        return self.path.with_name(self.path.name + ".tmp")

    def rewrite(self, records: Iterable[Any]) -> None:
        """Replace the file with ``records`` alone, atomically; on OSError the old file stays as it was."""
        tmp = self.rewrite_path
        size = len(HEADER)
        try:
            with tmp.open("wb") as handle:
                handle.write(HEADER)
                for record in records:
                    data = frame(record)
                    handle.write(data)
                    size += len(data)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        if self._fd is not None:
            os.close(self._fd)  # its records are all in the new file; no fsync needed
            self._fd = None
        self.legacy = False
        self._checked = True
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND, 0o600)
        self.size = size
        self.dirty = False

    def close(self) -> None:
        if self._fd is not None:
            try:
                if self.dirty:
                    os.fsync(self._fd)
                    self.dirty = False
            except OSError as error:
                log.error("%s: fsync at close failed: %s", self.path, error)
            finally:
                os.close(self._fd)
                self._fd = None


def fsync_and_close(handles: Iterable[int]) -> None:
    """fsync and close the descriptors :meth:`Journal.sync_handle` gave (in a worker thread); every one is
    closed, and the first fsync that failed (a failing disk) is raised after."""
    failed: OSError | None = None
    for fd in handles:
        try:
            os.fsync(fd)
        except OSError as error:
            failed = failed or error
        finally:
            os.close(fd)
    if failed is not None:
        raise failed
