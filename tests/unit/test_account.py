"""scada account: every polled value found in exactly one place, or counted lost."""

from __future__ import annotations

from pathlib import Path

from common.historian.rows import Row
from common.historian.sqlite_sink import SqliteSink
from common.journal import Journal
from common.ledger import Ledger
from common.messages import Block, PollingData, TagValue, encode_polling_data, iso_ms
from services.buffer.journal import RingJournal
from services.cli.account import account
from services.writer.backup import BackupStore

PLC = "KRCWO12ELOA101"
T0 = 1_800_000_000_000


def rows(ts: int, addresses: range, group: str = "G") -> list[Row]:
    return [Row(iso_ms(ts), PLC, f"D{i}", i, "GOOD", group, 1) for i in addresses]


def test_every_value_is_in_one_place_or_lost(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ledger = Ledger(data / "ledger", "poller_X")
    sink = SqliteSink(data / "tag_data.db")
    backups = BackupStore(data / "backup")
    # cycle 1: 10 polled, all stored
    ledger.record(["polled", PLC, "G", 1, T0, 10])
    sink.write(rows(T0, range(10)))
    # cycle 2: 10 polled, 6 stored, 4 backed up (and 2 of the stored ones in a backup too: counted once)
    ledger.record(["polled", PLC, "G", 2, T0 + 1000, 10])
    sink.write(rows(T0 + 1000, range(6)))
    backups.write(rows(T0 + 1000, range(4, 10)))
    # cycle 3: 10 polled, 3 rejected by the database, 7 dropped by the buffer's overflow
    ledger.record(["polled", PLC, "G", 3, T0 + 2000, 10])
    backups.reject([(r, "too long") for r in rows(T0 + 2000, range(3))])
    ledger.record(["overflow", PLC, "G", T0 + 2000, 7])
    # cycle 4: dropped whole at the poller's queue
    ledger.record(["polled", PLC, "G", 4, T0 + 3000, 10], ["queue_dropped", PLC, "G", T0 + 3000, 10])
    # cycle 5: still in the poller's send queue; cycle 6: in the buffer's ring
    ledger.record(["polled", PLC, "G", 5, T0 + 4000, 2], ["polled", PLC, "G", 6, T0 + 5000, 3])
    outbox = Journal(data / f"poller_{PLC}.outbox")
    outbox.open()
    frame = encode_polling_data(PollingData(PLC, "G", 5, T0 + 4000, 1.0, [TagValue("D0", 1, "GOOD")] * 2))
    outbox.append([[1, "G", T0 + 4000, frame]])
    ring = RingJournal(data / "buffer.journal", sync=False)
    ring.load()
    ring.taken_in(Block.of_values(PLC, "G", 6, T0 + 5000, [["D0", 1, "GOOD"]] * 3))
    ring.commit()
    # cycle 7: 10 polled, 9 stored, 1 nowhere: lost
    ledger.record(["polled", PLC, "G", 7, T0 + 6000, 10])
    sink.write(rows(T0 + 6000, range(9)))
    # a cycle outside the window, and stored rows the ledger never saw
    ledger.record(["polled", PLC, "G", 8, T0 + 60_000, 10])
    sink.write(rows(T0 + 7000, range(5), group="OLD"))

    result = account(data / "ledger", sink, data / "backup", T0, T0 + 10_000, data)
    assert result.cycles == 7
    assert result.polled == 55 == 25 + 4 + 3 + 5 + 10 + 7 + 1
    assert (result.stored, result.backed_up, result.rejected) == (25, 4, 3)
    assert (result.in_flight, result.queue_dropped, result.overflow_dropped) == (5, 10, 7)
    assert result.lost == 1 and result.lost_cycles == [[PLC, "G", T0 + 6000, 1]]
    assert result.unledgered == 5
    assert "lost" in result.table() and result.as_dict()["since"] == iso_ms(T0)
    sink.close()
