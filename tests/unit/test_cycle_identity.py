"""A cycle's identity: the epoch, the cycle number on the wire, the clock watch, the outbox's keys, the
historian's key and its upgrade from the previous release's layout."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import zmq

from common.historian.rows import Row, rows_of
from common.historian.sqlite_sink import SqliteSink
from common.journal import Journal
from common.ledger import Ledger
from common.times import iso_ms
from common.wire.block import Block
from common.wire.cycle import make_cycle
from common.wire.envelope import decode, encode, envelope, pack, unpack
from common.wire.ingest import Ingested, PollingData, TagValue, block_from_frame, cycle_head
from services.buffer.ring_journal import RingJournal
from services.poller.clock import ClockWatch
from services.poller.epoch import EpochError, next_epoch, read_epoch
from services.poller.sender import SendQueue, waiting
from services.writer.backup import BackupStore

PLC = "KRCWO12ELOA101"
T0 = 1_800_000_000_000


def data(seq: int, ts: int, cycle: int | None, group: str = "G", n: int = 3) -> PollingData:
    return PollingData(PLC, group, seq, ts, 1.0, [TagValue(f"D{i}", seq * 10 + i, "GOOD") for i in range(n)],
                       cycle=cycle)


# -- the epoch -------------------------------------------------------------------------------------------

def test_each_start_takes_a_new_epoch_written_whole(tmp_path: Path) -> None:
    path = tmp_path / "poller_X.epoch"
    assert read_epoch(path) == 0
    assert [next_epoch(path) for _ in range(3)] == [1, 2, 3]
    assert path.read_text() == "3\n" and not list(tmp_path.glob("*.tmp"))
    # an outbox still holding cycles of a later epoch (the file restored from an old backup) wins
    assert next_epoch(path, [make_cycle(9, 5), -T0]) == 10


def test_a_poller_whose_disk_refuses_the_epoch_waits_for_it_instead_of_exiting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    from types import SimpleNamespace

    from services.poller import epoch as epoch_module
    from services.poller import poller_service

    real_write, refusals = epoch_module.write_epoch, [2]

    def full_disk_twice(path: Path, epoch: int) -> None:
        if refusals[0]:
            refusals[0] -= 1
            raise OSError(28, "No space left on device")
        real_write(path, epoch)

    monkeypatch.setattr(epoch_module, "write_epoch", full_disk_twice)
    monkeypatch.setattr(poller_service, "EPOCH_RETRY_S", 0.01)
    path = tmp_path / "poller_X.epoch"
    fake = SimpleNamespace(settings=SimpleNamespace(poller_epoch_file=lambda code: path),
                           plc=SimpleNamespace(plc_code="X"), queue=SimpleNamespace(outbox=SimpleNamespace(entries={})))
    assert asyncio.run(poller_service.PollerService._take_epoch(fake)) == 1  # type: ignore[arg-type]
    assert refusals == [0] and read_epoch(path) == 1


def test_an_epoch_file_that_holds_no_number_stops_the_poller(tmp_path: Path) -> None:
    path = tmp_path / "poller_X.epoch"
    path.write_text("garbage")
    with pytest.raises(EpochError, match="not an epoch"):
        next_epoch(path)


def test_cycle_numbers_put_the_epoch_above_the_sequence() -> None:
    assert make_cycle(1, 1) == (1 << 32) + 1
    assert make_cycle(2, 1) > make_cycle(1, (1 << 32) - 1)  # a restart is after anything of the last run
    for epoch, seq in ((0, 1), (1, 0), (1, 1 << 32), (1 << 31, 1)):
        with pytest.raises(ValueError):
            make_cycle(epoch, seq)
    assert make_cycle((1 << 31) - 1, (1 << 32) - 1) < 1 << 63  # fits SQLite's INTEGER and NUMBER(19)


# -- the wire --------------------------------------------------------------------------------------------

def test_the_cycle_travels_from_the_poller_to_the_writer() -> None:
    frame = encode(data(5, T0, make_cycle(3, 5)))
    assert decode(frame, PollingData).cycle == make_cycle(3, 5)
    block = block_from_frame(frame)
    assert block.identity == make_cycle(3, 5)
    again = Block.from_wire(unpack(pack(envelope("x", b=block.to_wire())))["b"])
    assert again.identity == make_cycle(3, 5)
    head, tail = again.split(1)
    assert head.identity == tail.identity == make_cycle(3, 5)
    assert {r.cycle for r in rows_of([head, tail])} == {make_cycle(3, 5)}


def test_a_frame_of_the_previous_release_has_the_cycle_minus_ts() -> None:
    """An outbox or buffer journal written before the upgrade holds frames without ``cycle``."""
    old = pack({k: v for k, v in data(5, T0, None).to_wire().items() if k != "cycle"})
    assert decode(old, PollingData).identity == -T0
    assert block_from_frame(old).identity == -T0
    assert cycle_head(old)[1::3] == ("G", -T0)
    six = Block.of_values(PLC, "G", 5, T0, [["D0", 1, "GOOD"]]).to_wire()[:6]
    assert Block.from_wire(six).identity == -T0


# -- the clock watch -------------------------------------------------------------------------------------

class Clocks:
    def __init__(self) -> None:
        self.wall = T0
        self.mono = 100.0

    def tick(self, seconds: float, step_ms: int = 0) -> None:
        self.mono += seconds
        self.wall += int(seconds * 1000) + step_ms


def test_a_clock_step_back_or_far_forward_is_counted_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    clocks = Clocks()
    watch = ClockWatch(2000, lambda: clocks.wall, lambda: clocks.mono)
    assert watch.look() is None
    clocks.tick(1.0, step_ms=3)  # NTP slewing, a late look: not a step
    assert watch.look() is None
    clocks.tick(1.0, step_ms=-30_000)
    with caplog.at_level("WARNING", logger="poller.clock"):
        assert watch.look() == -30_000
    assert "stepped back by 30.000 s" in caplog.text
    clocks.tick(1.0, step_ms=1500)  # forward within the bound
    assert watch.look() is None
    clocks.tick(1.0, step_ms=60_000)
    assert watch.look() == 60_000
    assert watch.figures() == {"steps": 2, "last_step_ms": 60_000, "last_step_at_ms": clocks.wall}


# -- the outbox ------------------------------------------------------------------------------------------

@pytest.fixture
def queue(tmp_path: Path) -> Any:
    ctx = zmq.Context()
    q = SendQueue(ctx, f"ipc://{tmp_path}/ingest.sock", 100, tmp_path / "outbox",
                  Ledger(tmp_path / "ledger", "poller_X"), PLC)
    q.load()
    yield q
    q.close()
    ctx.term()


def test_two_cycles_read_at_one_wall_clock_time_are_two_entries(queue: SendQueue, tmp_path: Path) -> None:
    """Finding 1: the clock stepped back and a cycle got an earlier cycle's ts; keyed by ts, the outbox
    overwrote the unsent first one. Keyed by cycle both wait, both are journaled, both are confirmed."""
    queue.put(data(1, T0, make_cycle(1, 1)))
    queue.put(data(2, T0, make_cycle(1, 2)))
    assert len(queue.outbox.entries) == 2
    assert set(waiting(Journal(tmp_path / "outbox"), repair=False)) == {("G", make_cycle(1, 1)),
                                                                       ("G", make_cycle(1, 2))}
    ingested = encode(Ingested(PLC, [("G", make_cycle(1, 1))]))
    assert queue.confirm(ingested) == 1 and list(queue.outbox.entries) == [("G", make_cycle(1, 2))]


def test_an_outbox_of_the_previous_release_is_sent_as_cycle_minus_ts(tmp_path: Path) -> None:
    """The previous release journaled [1, group, ts, frame] and [2, [[group, ts]]]; after the upgrade its
    cycles are keyed (group, -ts), and the buffer's confirmation of -ts forgets them."""
    old = Journal(tmp_path / "outbox")
    old.open()
    frames = {ts: pack({k: v for k, v in data(i, ts, None).to_wire().items() if k != "cycle"})
              for i, ts in enumerate((T0, T0 + 1000, T0 + 2000))}
    old.append([[1, "G", ts, f] for ts, f in frames.items()] + [[2, [["G", T0 + 1000]]]])
    old.close()
    ctx = zmq.Context()
    q = SendQueue(ctx, f"ipc://{tmp_path}/ingest.sock", 100, tmp_path / "outbox",
                  Ledger(tmp_path / "ledger", "poller_X"), PLC)
    try:
        assert q.load() == 2
        assert list(q.outbox.entries) == [("G", -T0), ("G", -T0 - 2000)]
        assert q.confirm(encode(Ingested(PLC, [("G", -T0), ("G", -T0 - 2000)]))) == 2
    finally:
        q.close()
        ctx.term()
    assert waiting(Journal(tmp_path / "outbox"), repair=False) == {}


def test_the_ledger_names_the_cycle(queue: SendQueue, tmp_path: Path) -> None:
    from common import ledger

    queue.put(data(1, T0, make_cycle(4, 1)))
    queue.ledger.sync()
    [entry] = ledger.read(tmp_path / "ledger", T0, T0 + 1)
    assert (entry.kind, entry.cycle, entry.ts_ms, entry.values) == ("polled", make_cycle(4, 1), T0, 3)


# -- the buffer's journal --------------------------------------------------------------------------------

def test_the_buffer_journal_keeps_the_cycle_and_reads_the_previous_release(tmp_path: Path) -> None:
    journal = RingJournal(tmp_path / "buffer.journal", sync=False)
    journal.load()
    block = Block.of_values(PLC, "G", 1, T0, [["D0", 1, "GOOD"]] * 4, cycle=make_cycle(2, 1))
    journal.taken_in(block)
    old = Block.of_values(PLC, "G", 1, T0, [["D0", 1, "GOOD"]] * 2)
    journal._pending.append([1, 99, 0, PLC, "G", 1, T0, 2, old.packed])  # a record of the previous release
    journal.close()
    again = RingJournal(tmp_path / "buffer.journal", sync=False)
    assert [(b.identity, b.count) for b in again.load()] == [(make_cycle(2, 1), 4), (-T0, 2)]
    again.close()


# -- the historian ---------------------------------------------------------------------------------------

def row(address: str, cycle: int, group: str = "G", ts: int = T0, value: int = 1) -> Row:
    return Row(iso_ms(ts), PLC, address, value, "GOOD", group, cycle)


def test_the_historian_never_merges_two_reads_and_stores_a_cycle_once(tmp_path: Path) -> None:
    """Finding 2: D0 in a FIXED and a HANDSHAKE group read in one millisecond; finding 1: a cycle whose
    clock stepped back onto an earlier cycle's ts. Each is its own row; the same cycle again is not."""
    sink = SqliteSink(tmp_path / "tag_data.db")
    batch = [row("D0", make_cycle(1, 7), "FIXED"), row("D0", make_cycle(1, 3), "HS", value=2),
             row("D0", make_cycle(1, 9), "FIXED", value=3)]
    assert (sink.write(batch).inserted, sink.write(batch).duplicates) == (3, 3)
    assert sink.cycle_counts(T0, T0 + 1) == {(PLC, "FIXED", make_cycle(1, 7)): 1, (PLC, "FIXED", make_cycle(1, 9)): 1,
                                             (PLC, "HS", make_cycle(1, 3)): 1}
    assert sink.addresses((PLC, "HS", make_cycle(1, 3)), T0) == {"D0"}
    sink.close()


PREVIOUS_DDL = """CREATE TABLE TAG_DATA (ts TEXT NOT NULL, plc_code TEXT NOT NULL, tag_address TEXT NOT NULL, tag_value,
    quality TEXT NOT NULL, group_name TEXT NOT NULL DEFAULT '', seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (ts, plc_code, tag_address)) WITHOUT ROWID"""


def test_a_historian_of_the_previous_release_is_upgraded_with_every_row(tmp_path: Path) -> None:
    path = tmp_path / "tag_data.db"
    with sqlite3.connect(path) as db:
        db.execute(PREVIOUS_DDL)
        db.executemany("INSERT INTO TAG_DATA VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [(iso_ms(T0 + 1000 * i + i), PLC, f"D{j}", i * j, "GOOD", "G", i + 1)
                        for i in range(50) for j in range(4)] + [(iso_ms(T0 + 123), PLC, "M0", "text", "GOOD", "", 1)])
    db.close()
    sink = SqliteSink(path)
    assert sink.cycle_counts(T0, T0 + 100_000)[(PLC, "G", -(T0 + 7007))] == 4  # every row kept, cycle -ts
    # a cycle of the previous release sent again after the upgrade (from an old outbox) is stored once
    again = Block.of_values(PLC, "G", 8, T0 + 7007, [[f"D{j}", 7 * j, "GOOD"] for j in range(4)])
    result = sink.write(rows_of([again]))
    assert (result.inserted, result.duplicates) == (0, 4)
    assert sink.write([row("D0", make_cycle(1, 1), ts=T0 + 7007)]).inserted == 1  # a new cycle at that ts
    conn = sink._connection()
    assert conn.execute("SELECT count(*) FROM TAG_DATA").fetchone()[0] == 202
    assert conn.execute("SELECT tag_value, cycle FROM TAG_DATA WHERE tag_address = 'M0'").fetchone() == (
        "text", -(T0 + 123))
    columns = [r[1] for r in conn.execute("PRAGMA table_info(TAG_DATA)")]
    assert columns == ["ts", "plc_code", "tag_address", "tag_value", "quality", "group_name", "cycle"]
    sink.close()
    assert SqliteSink(path).cycle_counts(T0, T0 + 1)  # opening an upgraded file again changes nothing


def test_a_backup_of_the_previous_release_replays_with_the_cycle_minus_ts(tmp_path: Path) -> None:
    store = BackupStore(tmp_path / "backup")
    path = store.folder / "backup_20270115_000000.csv"
    path.write_text("timestamp,plc_code,tag_address,tag_value,quality,group_name,seq\n"
                    f"{iso_ms(T0)},{PLC},D0,5,GOOD,G,42\n")
    assert store.read(path) == [Row(iso_ms(T0), PLC, "D0", 5, "GOOD", "G", -T0)]
    new = store.write([row("D1", make_cycle(3, 2))])
    assert store.read(new) == [row("D1", make_cycle(3, 2))]


def test_the_writer_stores_the_cycle_number_of_each_block(tmp_path: Path) -> None:
    from common.settings import Settings
    from services.writer.writer_service import WriterService

    settings = Settings(scada_data_dir=tmp_path, _env_file=None)
    writer = WriterService(settings, ctx=zmq.Context())
    blocks = [Block.of_values(PLC, "G", 1, T0, [["D0", 1, "GOOD"]], cycle=make_cycle(5, 1)),
              Block.of_values(PLC, "G", 1, T0, [["D0", 2, "GOOD"]], cycle=make_cycle(6, 1))]  # a restart, one ts
    assert writer.write_batch(blocks) == "committed"
    assert writer.sink.cycle_counts(T0, T0 + 1) == {(PLC, "G", make_cycle(5, 1)): 1, (PLC, "G", make_cycle(6, 1)): 1}
    writer.sink.close()
