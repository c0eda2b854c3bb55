"""The journal file under crashes: torn records, undecodable bytes, compaction; the buffer's replay ranges."""

from __future__ import annotations

import os
from pathlib import Path

import msgpack
import pytest

from common.journal import Journal, fsync_and_close
from common.messages import Block
from services.buffer.journal import RingJournal, _remaining


def test_records_come_back_in_order_after_reopening(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.open()
    journal.append([[1, "a"], [2, b"\x00\x01"]])
    journal.append([[3, None]])
    # no close(): a killed process closes nothing
    assert list(Journal(tmp_path / "j").replay()) == [[1, "a"], [2, b"\x00\x01"], [3, None]]


def test_a_sync_handle_outlives_a_rewrite_and_is_closed_after_its_fsync(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.open()
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
    whole = msgpack.packb([1, "x" * 100])
    path.write_bytes(whole + msgpack.packb([2, "y" * 100])[:-30])
    journal = Journal(path)
    assert list(journal.replay()) == [[1, "x" * 100]]
    assert path.read_bytes() == whole  # cut at the last whole record
    journal.open()
    journal.append([[3, "z"]])
    assert list(Journal(path).replay()) == [[1, "x" * 100], [3, "z"]]


def test_a_reader_of_another_process_journal_leaves_it_alone(tmp_path: Path) -> None:
    path = tmp_path / "j"
    data = msgpack.packb([1]) + msgpack.packb([2, "half"])[:-2]
    path.write_bytes(data)
    assert list(Journal(path).replay(repair=False)) == [[1]]
    assert path.read_bytes() == data


def test_undecodable_bytes_are_copied_aside_not_skipped(tmp_path: Path) -> None:
    path = tmp_path / "j"
    path.write_bytes(msgpack.packb([1]) + b"\xc1" + msgpack.packb([2]))  # 0xc1 is never valid msgpack
    assert list(Journal(path).replay()) == [[1]]
    aside = list(tmp_path.glob("j.unreadable-*"))
    assert len(aside) == 1 and aside[0].read_bytes().endswith(msgpack.packb([2]))


def test_rewrite_keeps_only_what_is_given(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.open()
    journal.append([[n] for n in range(1000)])
    journal.rewrite([[7]])
    journal.append([[8]])
    assert list(Journal(tmp_path / "j").replay()) == [[7], [8]]
    assert journal.size == len(msgpack.packb([7]) + msgpack.packb([8]))


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
    assert (left.number, left.first, left.count) == (1, 3, 4)
    assert [v[1] for v in left.values()] == [3, 4, 5, 6]
    assert again.next_number == 2
    # the file now holds only what is live, and replays to the same
    assert [(b.first, b.count) for b in RingJournal(tmp_path / "buffer.journal").load()] == [(3, 4)]
