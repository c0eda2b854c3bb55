"""scada account with a deadband: values a poller read and deliberately did not send are counted on their
own line (suppressed), never as lost, and never hide a value that was sent and then lost."""

from __future__ import annotations

from pathlib import Path

import zmq

from common import ledger
from common.historian.rows import Row
from common.historian.sqlite_sink import SqliteSink
from common.ledger import Ledger
from common.times import iso_ms
from common.wire.cycle import make_cycle
from common.wire.ingest import GOOD, PollingData, TagValue
from services.cli.account import account
from services.poller.deadband import Deadband
from services.poller.sender import SendQueue

PLC = "KRCWO12ELOA101"
T0 = 1_800_000_000_000


def test_suppressed_values_have_their_own_line_and_lost_stays_honest(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ctx = zmq.Context()
    queue = SendQueue(ctx, f"ipc://{tmp_path}/ingest.sock", 100, data_dir / "poller.outbox",
                      Ledger(data_dir / "ledger", f"poller_{PLC}"), PLC)
    queue.load()
    band = Deadband([1.0] * 10, max_interval_ms=60_000)
    sink = SqliteSink(data_dir / "tag_data.db")
    sent_per_cycle = []
    for seq in range(1, 5):  # D0 moves 2.0 a cycle (past the band), D1..D9 stand still
        ts = T0 + 1000 * seq
        read = [TagValue(f"D{i}", (2.0 * seq if i == 0 else 5.0), GOOD) for i in range(10)]
        filtered = band.filter(read, ts)
        cycle = make_cycle(1, seq)
        queue.put(PollingData(PLC, "G", seq, ts, 1.0, filtered.values, None, cycle), filtered.suppressed)
        sent_per_cycle.append(len(filtered.values))
        if seq != 4:  # cycle 4's one sent value never arrives: it must show as lost, not as suppressed
            sink.write([Row(iso_ms(ts), PLC, v.address, v.value, v.quality, "G", cycle) for v in filtered.values])
    queue.ledger.flush()
    assert sent_per_cycle == [10, 1, 1, 1]
    kinds = [e.kind for e in ledger.read(data_dir / "ledger", 0, 2**62)]
    assert kinds.count("polled") == 4 and kinds.count("suppressed") == 3

    found = account(data_dir / "ledger", sink, data_dir / "backup", T0, T0 + 10_000)
    assert (found.polled, found.stored, found.suppressed, found.lost) == (40, 12, 27, 1)
    assert found.lost_cycles == [[PLC, "G", make_cycle(1, 4), T0 + 4000, 1]]
    assert "suppressed by deadband                 27" in found.table()
    queue.close()
    ctx.term()
