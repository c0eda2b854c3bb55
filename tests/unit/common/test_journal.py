"""The journal file under crashes and a full disk: framed records, torn tails, undecodable bytes,
writes that fail half way, the previous release's format, compaction; the buffer's replay ranges."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import msgpack
import pytest

from common import journal as journal_module
from common.journal import HEADER, Journal, frame, fsync_and_close
from common.wire.block import Block
from services.buffer.ring_journal import RingJournal, _remaining


def opened(path: Path) -> Journal:
    journal = Journal(path)
    list(journal.replay())
    journal.open()
    return journal


def test_records_come_back_in_order_after_reopening(tmp_path: Path) -> None:
    journal = opened(tmp_path / "j")
    journal.append([[1, "a"], [2, b"\x00\x01"]])
    journal.append([[3, None]])
    # no close(): a killed process closes nothing
    assert (tmp_path / "j").read_bytes().startswith(HEADER)
    assert list(Journal(tmp_path / "j").replay()) == [[1, "a"], [2, b"\x00\x01"], [3, None]]


def test_a_sync_handle_outlives_a_rewrite_and_is_closed_after_its_fsync(tmp_path: Path) -> None:
    journal = opened(tmp_path / "j")
    assert journal.sync_handle() is None  # nothing appended: nothing to sync
    journal.append([[1, "a"]])
    handle = journal.sync_handle()
    assert handle is not None and journal.sync_handle() is None  # one handle per group of appends
    journal.rewrite([[2, "b"]])  # the owner closes and reopens its descriptor meanwhile
    journal.append([[3, "c"]])
    late = journal.sync_handle()
    assert late is not None  # appended during the fsync: dirty again
    fsync_and_close([handle, late])
    for fd in (handle, late):
        with pytest.raises(OSError):
            os.fstat(fd)
    journal.close()
    assert list(Journal(tmp_path / "j").replay()) == [[2, "b"], [3, "c"]]


def test_a_record_cut_short_by_a_crash_is_dropped_and_the_file_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "j"
    whole = HEADER + frame([1, "x" * 100])
    path.write_bytes(whole + frame([2, "y" * 100])[:-30])
    journal = Journal(path)
    assert list(journal.replay()) == [[1, "x" * 100]]
    assert path.read_bytes() == whole  # cut at the last whole record
    journal.open()
    journal.append([[3, "z"]])
    assert list(Journal(path).replay()) == [[1, "x" * 100], [3, "z"]]


def test_a_journal_opened_without_replay_is_cut_before_anything_is_appended(tmp_path: Path) -> None:
    path = tmp_path / "j"  # a ledger reopened after a crash: its owner never replays it
    path.write_bytes(HEADER + frame([1]) + frame([2, "half"])[:-2])
    journal = Journal(path)
    journal.open()
    journal.append([[3]])
    assert list(Journal(path).replay(repair=False)) == [[1], [3]]


def test_a_reader_of_another_process_journal_leaves_it_alone(tmp_path: Path) -> None:
    path = tmp_path / "j"
    data = HEADER + frame([1]) + frame([2, "half"])[:-2]
    path.write_bytes(data)
    assert list(Journal(path).replay(repair=False)) == [[1]]
    assert path.read_bytes() == data


def test_undecodable_bytes_are_copied_aside_not_skipped(tmp_path: Path) -> None:
    path = tmp_path / "j"
    bad = bytearray(frame([2, "payload"]))
    bad[-1] ^= 0xFF  # a bit flipped: the checksum catches it
    path.write_bytes(HEADER + frame([1]) + bytes(bad) + frame([3]))
    assert list(Journal(path).replay()) == [[1]]
    aside = list(tmp_path.glob("j.unreadable-*"))
    assert len(aside) == 1 and aside[0].read_bytes().endswith(frame([3]))
    assert path.read_bytes() == HEADER + frame([1])


def test_rewrite_keeps_only_what_is_given(tmp_path: Path) -> None:
    journal = opened(tmp_path / "j")
    journal.append([[n] for n in range(1000)])
    journal.rewrite([[7]])
    journal.append([[8]])
    assert list(Journal(tmp_path / "j").replay()) == [[7], [8]]
    assert journal.size == len(HEADER + frame([7]) + frame([8])) == (tmp_path / "j").stat().st_size


def test_one_compaction_rule(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j", compact_min_bytes=1000)
    journal.size = 999
    assert not journal.should_compact(0)  # small files are left alone
    journal.size = 4000
    assert journal.should_compact(1000) and not journal.should_compact(1001)  # four times what is live


class HalfWrite:
    """os.write that writes half of what it is given, then fails as a full disk does, from the n-th call."""

    def __init__(self, after: int, error: int = errno.ENOSPC) -> None:
        self.calls = 0
        self.after = after
        self.error = error
        self.real = os.write

    def __call__(self, fd: int, data: Any) -> int:
        self.calls += 1
        if self.calls <= self.after:
            return self.real(fd, data)
        if len(data) > 1 and self.calls == self.after + 1:
            return self.real(fd, bytes(data)[: len(data) // 2])
        raise OSError(self.error, os.strerror(self.error))


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EIO])
def test_a_write_that_fails_half_way_leaves_no_torn_record_followed_by_more(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: int) -> None:
    path = tmp_path / "j"
    journal = opened(path)
    journal.append([[1, "kept"]])
    size = path.stat().st_size
    monkeypatch.setattr(journal_module.os, "write", HalfWrite(after=0, error=error))
    with pytest.raises(OSError) as raised:
        journal.append([[2, "x" * 1000], [3, "y" * 1000]])
    assert raised.value.errno == error
    assert path.stat().st_size == size == journal.size  # cut back: all or nothing
    monkeypatch.undo()  # the disk has room again
    journal.append([[4, "after"]])
    assert list(Journal(path).replay(repair=False)) == [[1, "kept"], [4, "after"]]


def test_a_journal_that_cannot_be_cut_back_is_closed_and_repaired_before_the_next_append(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "j"
    journal = opened(path)
    journal.append([[1]])
    monkeypatch.setattr(journal_module.os, "write", HalfWrite(after=0))
    monkeypatch.setattr(journal_module.os, "ftruncate", lambda fd, n: (_ for _ in ()).throw(OSError(errno.EIO, "EIO")))
    with pytest.raises(OSError):
        journal.append([[2, "x" * 100]])
    assert not journal.is_open and path.stat().st_size > journal.size  # the torn half is still there...
    monkeypatch.undo()
    journal.append([[3]])  # ...and is cut off before this goes on
    assert list(Journal(path).replay(repair=False)) == [[1], [3]]


def test_the_previous_release_format_replays_and_is_converted_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "j"
    old = [[1, "G", 1000, b"frame"], [2, [["G", 1000]]], [1, "G", 2000, b"other"]]
    path.write_bytes(b"".join(msgpack.packb(r, use_bin_type=True) for r in old) + msgpack.packb([9, "torn"])[:-2])
    journal = Journal(path)
    assert list(journal.replay()) == old  # nothing of it lost; the torn tail cut as before
    assert journal.legacy
    journal.open()
    journal.append([[3, "new"]])
    assert path.read_bytes().startswith(HEADER)
    assert list(Journal(path).replay()) == [*old, [3, "new"]]


def test_the_previous_release_format_on_a_full_disk_stays_readable_and_unopened(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "j"
    old = [[1, "G", 1000, b"frame"]]
    data = msgpack.packb(old[0], use_bin_type=True)
    path.write_bytes(data)
    journal = Journal(path)
    assert list(journal.replay()) == old
    monkeypatch.setattr(journal_module.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(OSError):
        journal.open()
    assert not journal.is_open and path.read_bytes() == data  # nothing appended after the old records
    assert not list(tmp_path.glob("*.tmp"))
    monkeypatch.undo()
    journal.append([[2]])  # room again: converted, then appended
    assert list(Journal(path).replay()) == [*old, [2]]


@pytest.mark.parametrize(("first", "count", "done", "left"), [
    (0, 10, [], [(0, 10)]),
    (0, 10, [(0, 10)], []),
    (0, 10, [(0, 4)], [(4, 6)]),
    (0, 10, [(4, 3)], [(0, 4), (7, 3)]),
    (0, 10, [(7, 3), (0, 2)], [(2, 5)]),
    (5, 10, [(0, 7)], [(7, 8)]),  # a slice that starts mid-cycle
    (0, 10, [(2, 3), (3, 4)], [(0, 2), (7, 3)]),  # overlapping finished ranges
])
def test_what_remains_of_a_cycle(first: int, count: int, done: list[tuple[int, int]],
                                 left: list[tuple[int, int]]) -> None:
    assert _remaining(first, count, done) == left


def test_ring_journal_replays_the_unfinished_middle_of_a_cycle(tmp_path: Path) -> None:
    journal = RingJournal(tmp_path / "buffer.journal", sync=False)
    assert journal.load() == []
    block = Block.of_values("P", "G", 1, 1000, [[f"D{i}", i, "GOOD"] for i in range(10)])
    journal.taken_in(block)
    head, rest = block.split(3)
    _unfinished_middle, tail = rest.split(4)
    journal.finished([head, tail])
    journal.commit()
    again = RingJournal(tmp_path / "buffer.journal", sync=False)
    [left] = again.load()
    assert (left.journal_number, left.first_value, left.count) == (1, 3, 4)
    assert [v[1] for v in left.values()] == [3, 4, 5, 6]
    assert again.next_number == 2
    # the file now holds only what is live, and replays to the same
    assert [(b.first_value, b.count) for b in RingJournal(tmp_path / "buffer.journal").load()] == [(3, 4)]
