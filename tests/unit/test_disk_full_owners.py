"""The journals' owners on a full disk and on upgrade: the buffer's ring journal, the poller's send
queue and the ledger keep what they cannot write, recover by themselves, and read the previous release's
files without losing anything. The full disk is os.write writing half and failing (ENOSPC) and fsync
failing, in the journal module."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq

from common import journal as journal_module
from common import ledger
from common.journal import HEADER, Journal
from common.ledger import Ledger
from common.settings import Settings
from common.times import now_ms
from common.wire.block import Block
from common.wire.envelope import encode
from common.wire.ingest import Ingested, PollingData, TagValue
from services.buffer.buffer_service import BufferService
from services.buffer.ring_journal import RingJournal, unfinished
from services.poller.sender import SendQueue, waiting

PLC = "KRCWO12ELOA101"


class FullDisk:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.real_write = os.write

    def fill(self) -> None:
        def half_then_full(fd: int, data: Any) -> int:
            if len(data) > 1:
                self.real_write(fd, bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

        def no_fsync(fd: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        self.monkeypatch.setattr(journal_module.os, "write", half_then_full)
        self.monkeypatch.setattr(journal_module.os, "fsync", no_fsync)

    def free(self) -> None:
        self.monkeypatch.undo()


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> FullDisk:
    return FullDisk(monkeypatch)


def block(seq: int, n: int = 5) -> Block:
    return Block.of_values(PLC, "G", seq, 1000 * seq, [[f"D{i}", seq, "GOOD"] for i in range(n)])


def data(seq: int, t0: int = 0) -> PollingData:
    return PollingData(PLC, "G", seq, t0 + 1000 * seq, 1.0, [TagValue("D0", seq, "GOOD"), TagValue("D1", seq, "GOOD")],
                       cycle=seq)


# -- the buffer's journal ------------------------------------------------------------------------
def test_ring_journal_goes_stale_on_a_full_disk_and_is_rewritten_from_what_is_live(
        tmp_path: Path, disk: FullDisk) -> None:
    path = tmp_path / "buffer.journal"
    journal = RingJournal(path, sync=True)
    journal.load()
    first = block(1)
    journal.taken_in(first)
    assert journal.commit()
    on_file = path.read_bytes()
    disk.fill()
    second, third = block(2), block(3)
    journal.taken_in(second)
    assert not journal.commit() and journal.stale
    assert path.read_bytes() == on_file  # the half-written record was cut back
    assert not journal.disk.ok and journal.disk.problems[path].error.startswith("[Errno 28]")
    journal.taken_in(third)
    journal.finished([first])  # committed by the writer meanwhile
    assert not journal.commit()  # nothing appended while stale
    assert not journal.restore([second, third])  # still full
    disk.free()
    assert journal.restore([second, third]) and not journal.stale and journal.disk.ok
    journal.taken_in(block(4))
    assert journal.commit()
    blocks, next_number = unfinished(Journal(path))
    assert [b.seq for b in blocks] == [2, 3, 4] and next_number == 5


def test_a_buffer_on_a_full_disk_confirms_nothing_takes_a_resend_once_and_confirms_all_once_written(
        tmp_path: Path, disk: FullDisk) -> None:
    settings = Settings(scada_data_dir=tmp_path / "d", scada_run_dir=tmp_path / "r", scada_log_dir=tmp_path / "l",
                        _env_file=None)
    settings.make_dirs()
    service = BufferService(settings, zmq.Context.instance())
    service.load_state()
    live = Published()
    t0 = now_ms()  # the buffer's door takes cycles read around now only
    disk.fill()
    frame = encode(data(1, t0))
    service.on_ingest(frame, live)
    service.on_ingest(frame, live)  # the poller sent it again: not confirmed in time
    service.on_ingest(encode(data(2, t0)), live)
    assert service.confirmations.confirm(live, force=True) and live.confirmed() == []
    assert service.ring.size == 4 and service.confirmations.resends_held == 1
    figures = service.figures()
    assert not figures["journal_ok"] and not figures["disk"]["ok"] and figures["unconfirmed_cycles"] == 2
    service.every_second(live)  # still full: still nothing confirmed, nothing raised
    assert live.confirmed() == []
    disk.free()
    service.every_second(live)
    service.confirmations.confirm(live, force=True)
    assert live.confirmed() == [["G", 1], ["G", 2]] and service.figures()["disk"]["ok"]
    again = BufferService(settings, zmq.Context.instance())
    again.load_state()
    assert [b.seq for b in again.ring.blocks] == [1, 2]


class Published:
    """Stands in for the live PUB: records what is sent."""

    def __init__(self) -> None:
        self.sent: list[list[bytes]] = []

    def send_multipart(self, parts: list[bytes], flags: int = 0) -> None:
        self.sent.append(parts)

    def confirmed(self) -> list[list[Any]]:
        return [key for topic, body in self.sent if topic.startswith(b"ack.")
                for key in msgpack.unpackb(body)["keys"]]


def test_a_buffer_starting_on_a_full_disk_reads_its_journal_in_place(tmp_path: Path, disk: FullDisk) -> None:
    path = tmp_path / "buffer.journal"
    journal = RingJournal(path, sync=False)
    journal.load()
    for seq in (1, 2):
        journal.taken_in(block(seq))
    journal.finished([block(1)])  # numbered 0: finishes nothing; the file replays both
    journal.commit()
    disk.fill()
    restarted = RingJournal(path, sync=False)
    assert [b.seq for b in restarted.load()] == [1, 2]  # could not rewrite: read in place, started
    assert not restarted.stale and restarted.journal.is_open and not restarted.disk.ok
    disk.free()
    restarted.taken_in(block(3))
    assert restarted.commit() and restarted.disk.ok  # appended to the file as it was
    assert [b.seq for b in unfinished(Journal(path))[0]] == [1, 2, 3]


# -- the poller's send queue and the ledger --------------------------------------------------------
@pytest.fixture
def queue(tmp_path: Path) -> Iterator[SendQueue]:
    q = SendQueue(zmq.Context.instance(), f"ipc://{tmp_path}/ingest.sock", 100, tmp_path / "poller.outbox",
                  Ledger(tmp_path / "ledger", "poller_X"), PLC)
    yield q
    q.close()


def test_a_send_queue_on_a_full_disk_keeps_polling_in_memory_and_writes_it_all_once_there_is_room(
        queue: SendQueue, tmp_path: Path, disk: FullDisk) -> None:
    queue.load()
    queue.put(data(1))
    disk.fill()
    queue.put(data(2))
    queue.put(data(3))
    queue.confirm(encode(Ingested(PLC, [("G", 1)])))
    assert queue.stale and queue.figures()["unjournaled"] == 2 and len(queue.outbox) == 2
    assert queue.figures()["ledger_pending"] == 2 and not queue.disk.ok  # "polled" of 2 and 3 kept in memory
    assert not queue.restore()
    disk.free()
    assert queue.restore() and queue.ledger.flush() and queue.disk.ok
    assert list(waiting(Journal(queue.journal.path))) == [("G", 2), ("G", 3)]
    polled = [r for r in ledger.read(tmp_path / "ledger", 0, 10**13) if r[0] == "polled"]
    assert [r[3] for r in polled] == [1, 2, 3]  # the count survived the full disk


def test_a_send_queue_starting_on_a_full_disk_reads_in_place(queue: SendQueue, tmp_path: Path,
                                                            disk: FullDisk) -> None:
    queue.load()
    queue.put(data(1))
    queue.put(data(2))
    queue.journal.close()
    disk.fill()
    again = SendQueue(zmq.Context.instance(), f"ipc://{tmp_path}/ingest.sock", 100, queue.journal.path,
                      Ledger(tmp_path / "ledger", "poller_X"), PLC)
    try:
        assert again.load() == 2 and not again.stale and not again.disk.ok
        disk.free()
        again.put(data(3))
        assert again.disk.ok and list(waiting(Journal(queue.journal.path))) == [("G", 1), ("G", 2), ("G", 3)]
    finally:
        disk.free()
        again.close()


# -- upgrade: the previous release's files -------------------------------------------------------------
def bare(records: list[Any]) -> bytes:
    return b"".join(msgpack.packb(r, use_bin_type=True) for r in records)


def test_files_of_the_previous_release_are_read_whole_on_upgrade(tmp_path: Path) -> None:
    old = {seq: data(seq) for seq in (1, 2, 3)}
    frames = {seq: encode(PollingData(d.plc_code, d.group, d.seq, d.ts_ms, d.duration_ms, d.values))
              for seq, d in old.items()}  # the previous release's frames: no cycle number
    outbox = tmp_path / "poller.outbox"
    outbox.write_bytes(bare([[1, "G", 1000, frames[1]], [1, "G", 2000, frames[2]], [2, [["G", 1000]]],
                             [1, "G", 3000, frames[3]]]))
    b1, b2 = block(1), block(2)
    ring = tmp_path / "buffer.journal"
    ring.write_bytes(bare([[1, 1, 0, PLC, "G", 1, 1000, 5, b1.packed], [1, 2, 0, PLC, "G", 2, 2000, 5, b2.packed],
                           [2, 1, 0, 5]]))
    folder = tmp_path / "ledger"
    folder.mkdir()
    old_ledger = folder / "poller_X_20261122.ledger"
    old_ledger.write_bytes(bare([["polled", PLC, "G", 1, 1000, 2], ["queue_dropped", PLC, "G", 500, 2]]))

    # scada account reads them as they are (repair=False), before any stage has started
    assert list(waiting(Journal(outbox), repair=False)) == [("G", -2000), ("G", -3000)]  # legacy_cycle: -ts
    assert [b.seq for b in unfinished(Journal(ring), repair=False)[0]] == [2]
    assert len(list(ledger.read(folder, 0, 10**13))) == 2

    q = SendQueue(zmq.Context.instance(), f"ipc://{tmp_path}/ingest.sock", 100, outbox, Ledger(folder, "poller_X"),
                  PLC)
    try:
        assert q.load() == 2 and [k for k, _ in q.outbox.live()] == [("G", -2000), ("G", -3000)]
    finally:
        q.close()
    journal = RingJournal(ring, sync=False)
    assert [(b.seq, b.values()) for b in journal.load()] == [(2, b2.values())]
    journal.close()
    for path in (outbox, ring):  # converted when the stage opened them
        assert path.read_bytes().startswith(HEADER)
    assert list(waiting(Journal(outbox))) == [("G", -2000), ("G", -3000)]
    # a ledger file of the previous release that a stage appends to (same day) is converted first
    appender = Ledger(folder, "poller_X")
    appender._roll("20261122")
    appender._journal.open()  # type: ignore[union-attr]
    appender._journal.append([["polled", PLC, "G", 2, 2000, 2]])  # type: ignore[union-attr]
    appender.close()
    assert old_ledger.read_bytes().startswith(HEADER) and len(list(ledger.read(folder, 0, 10**13))) == 3
