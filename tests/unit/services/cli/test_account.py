"""scada account: every polled value found in exactly one place, or counted lost."""

from __future__ import annotations

from pathlib import Path

from common.historian.rows import Row
from common.historian.sink import CycleKey
from common.historian.sqlite_sink import SqliteSink
from common.journal import Journal
from common.ledger import Ledger
from common.times import iso_ms
from common.wire.block import Block
from common.wire.cycle import make_cycle
from common.wire.envelope import encode
from common.wire.ingest import PollingData, TagValue
from services.buffer.ring_journal import RingJournal
from services.cli.account import account
from services.writer.backup import BackupStore

PLC = "KRCWO12ELOA101"
T0 = 1_800_000_000_000


def c(seq: int, epoch: int = 1) -> int:
    return make_cycle(epoch, seq)


def rows(ts: int, addresses: range, cycle: int, group: str = "G") -> list[Row]:
    return [Row(iso_ms(ts), PLC, f"D{i}", i, "GOOD", group, cycle) for i in addresses]


def polled(seq: int, ts: int, n: int, group: str = "G", epoch: int = 1) -> list[object]:
    return ["polled", PLC, group, seq, ts, n, c(seq, epoch)]


def frame(seq: int, ts: int, n: int, cycle: int | None) -> bytes:
    return encode(PollingData(PLC, "G", seq, ts, 1.0, [TagValue("D0", 1, "GOOD")] * n, cycle=cycle))


def test_every_value_is_in_one_place_or_lost(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ledger = Ledger(data / "ledger", "poller_X")
    sink = SqliteSink(data / "tag_data.db")
    backups = BackupStore(data / "backup")
    # cycle 1: 10 polled, all stored
    ledger.record(polled(1, T0, 10))
    sink.write(rows(T0, range(10), c(1)))
    # cycle 2: 10 polled, 6 stored, 4 backed up (and 2 of the stored ones in a backup too: counted once)
    ledger.record(polled(2, T0 + 1000, 10))
    sink.write(rows(T0 + 1000, range(6), c(2)))
    backups.write(rows(T0 + 1000, range(4, 10), c(2)))
    # cycle 3: 10 polled, 3 rejected by the database, 7 dropped by the buffer's overflow
    ledger.record(polled(3, T0 + 2000, 10))
    backups.reject([(r, "too long") for r in rows(T0 + 2000, range(3), c(3))])
    ledger.record(["overflow", PLC, "G", T0 + 2000, 7, c(3)])
    # cycle 4: dropped whole at the poller's queue
    ledger.record(polled(4, T0 + 3000, 10), ["queue_dropped", PLC, "G", T0 + 3000, 10, c(4)])
    # cycle 5: still in the poller's send queue; cycle 6: in the buffer's ring
    ledger.record(polled(5, T0 + 4000, 2), polled(6, T0 + 5000, 3))
    outbox = Journal(data / f"poller_{PLC}.outbox")
    outbox.open()
    outbox.append([[1, "G", c(5), frame(5, T0 + 4000, 2, c(5))]])
    ring = RingJournal(data / "buffer.journal", sync=False)
    ring.load()
    ring.taken_in(Block.of_values(PLC, "G", 6, T0 + 5000, [["D0", 1, "GOOD"]] * 3, cycle=c(6)))
    ring.commit()
    # cycle 7: 10 polled, 9 stored, 1 nowhere: lost
    ledger.record(polled(7, T0 + 6000, 10))
    sink.write(rows(T0 + 6000, range(9), c(7)))
    # a cycle outside the window, and stored rows the ledger never saw
    ledger.record(polled(8, T0 + 60_000, 10))
    sink.write(rows(T0 + 7000, range(5), 77, group="OLD"))

    result = account(data / "ledger", sink, data / "backup", T0, T0 + 10_000, data)
    assert result.cycles == 7
    assert result.polled == 55 == 25 + 4 + 3 + 5 + 10 + 7 + 1
    assert (result.stored, result.backed_up, result.rejected) == (25, 4, 3)
    assert (result.in_flight, result.queue_dropped, result.overflow_dropped) == (5, 10, 7)
    assert result.lost == 1 and result.lost_cycles == [[PLC, "G", c(7), T0 + 6000, 1]]
    assert result.unledgered == 5
    assert "lost" in result.table() and result.as_dict()["since"] == iso_ms(T0)
    sink.close()


def test_cycles_of_one_read_time_are_counted_apart(tmp_path: Path) -> None:
    """The wall clock stepped back: cycles 1 (first run) and 2 of epoch 2 share a ts; they are two
    cycles, and the one missing from the historian is lost -- not merged with the other (finding 1)."""
    data = tmp_path / "data"
    ledger = Ledger(data / "ledger", "poller_X")
    sink = SqliteSink(data / "tag_data.db")
    ledger.record(polled(1, T0, 10), polled(2, T0 + 1000, 10), polled(3, T0, 10))  # 3: the step back
    ledger.record(polled(1, T0, 10, epoch=2))  # a restart: seq 1 again, another epoch, the same ts
    sink.write(rows(T0, range(10), c(1)) + rows(T0 + 1000, range(10), c(2)) + rows(T0, range(10), c(3)))
    result = account(data / "ledger", sink, data / "backup", T0, T0 + 10_000, data)
    assert (result.cycles, result.polled, result.stored, result.lost) == (4, 40, 30, 10)
    assert result.lost_cycles == [[PLC, "G", c(1, epoch=2), T0, 10]]
    sink.close()


def test_the_previous_release_journals_and_ledger_are_read_with_the_legacy_cycle(tmp_path: Path) -> None:
    """An upgrade mid-flight: the ledger, outbox and buffer journal of the previous release name cycles
    (group, ts) and their frames carry no cycle; they are counted as cycle -ts, as the upgraded historian
    stores them."""
    data = tmp_path / "data"
    old = Journal(data / "ledger" / "poller_X_20270115.ledger")
    data.joinpath("ledger").mkdir(parents=True)
    old.open()
    old.append([["polled", PLC, "G", 1, T0, 4], ["polled", PLC, "G", 2, T0 + 1000, 2],
                ["polled", PLC, "G", 3, T0 + 2000, 3], ["polled", PLC, "G", 4, T0 + 3000, 5],
                ["queue_dropped", PLC, "G", T0 + 3000, 5]])
    old.close()
    outbox = Journal(data / f"poller_{PLC}.outbox")
    outbox.open()
    outbox.append([[1, "G", T0 + 1000, frame(2, T0 + 1000, 2, None)]])
    buffer = Journal(data / "buffer.journal")
    buffer.open()
    block = Block.of_values(PLC, "G", 3, T0 + 2000, [["D0", 1, "GOOD"]] * 3)
    buffer.append([[1, 1, 0, PLC, "G", 3, T0 + 2000, 3, block.packed]])  # the previous release's record
    buffer.close()
    sink = SqliteSink(data / "tag_data.db")
    sink.write(rows(T0, range(4), -T0))
    result = account(data / "ledger", sink, data / "backup", T0, T0 + 10_000, data)
    assert (result.cycles, result.polled, result.lost) == (4, 14, 0)
    assert (result.stored, result.in_flight, result.queue_dropped) == (4, 5, 5)
    sink.close()


class MovingSink(SqliteSink):
    """A historian that, right after it answered, receives the cycle that was in a poller's outbox --
    as a running pipeline does while the account reads."""

    def __init__(self, path: Path, outbox: Journal, key: CycleKey, ts: int, n: int) -> None:
        super().__init__(path)
        self.outbox, self.key, self.ts, self.n = outbox, key, ts, n

    def cycle_counts(self, since_ms: int, until_ms: int) -> dict[CycleKey, int]:
        counts = super().cycle_counts(since_ms, until_ms)
        _, group, cycle = self.key
        self.write(rows(self.ts, range(self.n), cycle, group))
        self.outbox.append([[2, [[group, cycle]]]])  # confirmed by the buffer, forgotten by the poller
        return counts


def test_a_value_in_transit_while_the_account_reads_is_not_lost(tmp_path: Path) -> None:
    """Finding 7: the cycle moves from the outbox to the historian between the account's looks; read in
    the order values move, it is found (in flight), never reported lost."""
    data = tmp_path / "data"
    ledger = Ledger(data / "ledger", "poller_X")
    ledger.record(polled(1, T0, 4))
    outbox = Journal(data / f"poller_{PLC}.outbox")
    outbox.open()
    outbox.append([[1, "G", c(1), frame(1, T0, 4, c(1))]])
    sink = MovingSink(data / "tag_data.db", outbox, (PLC, "G", c(1)), T0, 4)
    result = account(data / "ledger", sink, data / "backup", T0, T0 + 10_000, data)
    assert (result.polled, result.in_flight, result.lost) == (4, 4, 0)
    # and a real loss is still one: the rows gone from the historian, the cycle nowhere else
    sink.close()
    plain = SqliteSink(data / "tag_data.db")
    plain._connection().execute("DELETE FROM TAG_DATA WHERE tag_address IN ('D0', 'D1')")
    result = account(data / "ledger", plain, data / "backup", T0, T0 + 10_000, data)
    assert (result.stored, result.in_flight, result.lost) == (2, 0, 2)
    plain.close()
