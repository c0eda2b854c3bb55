"""The buffer and the writer on real ZeroMQ sockets (temporary ipc paths) and a real SQLite file."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from common import ledger
from common.settings import Settings
from common.times import now_ms
from common.wire.cycle import make_cycle
from common.wire.envelope import decode, encode, envelope, pack
from common.wire.ingest import PollingData, TagValue
from common.wire.lease import Batch, LeaseRequest
from services.buffer.buffer_service import BufferService
from services.writer.writer_service import WriterService
from tests.helpers import short_tmp, wait_for


@pytest.fixture
def settings() -> Settings:
    base = short_tmp()
    return Settings(scada_data_dir=base / "data", scada_run_dir=base / "run", scada_log_dir=base / "logs",
                    buffer_lease_timeout=1.0, buffer_write_interval=0.05, _env_file=None)


class Stage:
    def __init__(self, target: Any) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=target, args=(self.stop,), daemon=True)
        self.thread.start()

    def end(self) -> None:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()


@pytest.fixture
def buffer(settings: Settings) -> Iterator[BufferService]:
    settings.make_dirs()
    service = BufferService(settings, zmq.Context())
    stage = Stage(service.run)
    yield service
    stage.end()


def push(settings: Settings, frames: list[bytes]) -> None:
    ctx: zmq.Context[Any] = zmq.Context.instance()
    sock = ctx.socket(zmq.PUSH)
    sock.connect(settings.ingest_endpoint)
    for frame in frames:
        sock.send(frame)
    sock.close(linger=2000)


T0 = now_ms() // 1000 * 1000 - 3_600_000  # an hour ago: within the window the buffer lets in


def cycle(seq: int, n: int = 50, plc: str = "KRCWO12ELOA101") -> bytes:
    return encode(PollingData(plc, "FAST_1S", seq, T0 + 1000 * seq, 1.0,
                                                    [TagValue(f"D{i}", seq * 1000 + i, "GOOD") for i in range(n)],
                                                    cycle=make_cycle(1, seq)))


def stored(settings: Settings) -> list[tuple[Any, ...]]:
    if not settings.historian_db.exists():
        return []
    with sqlite3.connect(settings.historian_db) as db:
        try:
            return db.execute("SELECT plc_code, tag_address, cycle, tag_value FROM TAG_DATA").fetchall()
        except sqlite3.OperationalError:
            return []


def test_values_pass_through_and_bad_frames_are_counted(settings: Settings, buffer: BufferService) -> None:
    push(settings, [cycle(1), b"\x00garbage", pack(envelope("polling_data")), cycle(2)])
    wait_for(lambda: buffer.ring.received == 100, 5, what="two cycles in the ring")
    assert buffer.bad_frames == 2
    writer = WriterService(settings, ctx=zmq.Context())
    stage = Stage(writer.run)
    try:
        wait_for(lambda: len(stored(settings)) == 100, 10, what="100 rows stored")
        wait_for(lambda: buffer.acked_values == 100 and not buffer.leases, 5, what="the acknowledgement")
    finally:
        stage.end()
    rows = stored(settings)
    assert sorted(r[3] for r in rows) == sorted([1000 + i for i in range(50)] + [2000 + i for i in range(50)])


def test_unacknowledged_lease_is_handed_out_again_and_stored_once(settings: Settings, buffer: BufferService) -> None:
    push(settings, [cycle(s) for s in range(1, 5)])
    wait_for(lambda: buffer.ring.size == 200, 5, what="values in the ring")
    # A writer that leases a batch and then vanishes without acknowledging it.
    ctx: zmq.Context[Any] = zmq.Context.instance()
    ghost = ctx.socket(zmq.DEALER)
    ghost.connect(settings.lease_endpoint)
    ghost.send(encode(LeaseRequest(1, 120)))
    assert ghost.poll(3000)
    batch = decode(ghost.recv(), Batch)
    assert batch.count == 100  # whole cycles of 50, up to 120
    ghost.close(linger=0)
    assert buffer.ring.size == 100
    wait_for(lambda: buffer.expired_leases == 1, 5, what="the lease to expire")
    assert buffer.ring.size == 200 and buffer.ring.blocks[0].seq == 1  # back at the front
    writer = WriterService(settings, ctx=zmq.Context())
    stage = Stage(writer.run)
    try:
        wait_for(lambda: len(stored(settings)) == 200, 10, what="200 rows")
        time.sleep(0.3)
    finally:
        stage.end()
    rows = stored(settings)
    assert len(rows) == len(set(rows)) == 200


def test_writing_a_batch_twice_stores_it_once(settings: Settings) -> None:
    writer = WriterService(settings, ctx=zmq.Context())
    block = decode(cycle(9), PollingData).block()
    assert writer.write_batch([block]) == "committed"
    assert writer.write_batch([block]) == "committed"
    assert writer.metrics.values_written == 50 and writer.metrics.duplicates == 50
    assert len(stored(settings)) == 50
    writer.sink.close()


def test_ring_survives_a_restart(settings: Settings) -> None:
    settings.make_dirs()
    first = BufferService(settings, zmq.Context())
    first.load_state()
    stage = Stage(first.run)
    push(settings, [cycle(s) for s in range(1, 4)])
    wait_for(lambda: first.ring.size == 150, 5, what="values in the ring")
    stage.end()
    assert Path(settings.buffer_journal_file).stat().st_size > 0
    second = BufferService(settings, zmq.Context())
    second.load_state()
    assert second.ring.size == 150 and [b.seq for b in second.ring.blocks] == [1, 2, 3]
    assert second.ring.received == 0  # counted once, when they first arrived


def test_a_killed_buffer_keeps_its_ring_and_unacknowledged_leases_and_forgets_committed_values(
        settings: Settings) -> None:
    """What a SIGKILL leaves: the journal as written, nothing closed, nothing saved."""
    settings.make_dirs()
    settings.buffer_max_size = 180
    first = BufferService(settings, zmq.Context())
    first.load_state()
    for s in range(1, 5):  # 200 values into a ring of 180: cycle 1 overflows, whole
        first.on_ingest(cycle(s), _nowhere())
    committed = first.on_lease_request(b"w1", encode(LeaseRequest(1, 70)))
    assert isinstance(committed, Batch) and committed.lease is not None
    kept = first.on_lease_request(b"w1", encode(LeaseRequest(2, 40, ack=committed.lease)))
    assert isinstance(kept, Batch) and kept.lease is not None
    first.journal.commit()  # the end of a loop turn; then the process dies without closing anything
    second = BufferService(settings, zmq.Context())
    second.load_state()
    # cycle 1 overflowed, cycle 2 was committed (a lease takes whole cycles: 50 of the 70 asked),
    # 40 values of cycle 3 were leased and not acknowledged: cycles 3 and 4 remain, in order
    values = [v[1] for b in second.ring.blocks for v in b.values()]
    expected = [s * 1000 + i for s in range(3, 5) for i in range(50)]
    assert values == expected and second.ring.size == 100
    overflow = [r for r in ledger.read(settings.ledger_dir, 0, 4_000_000_000_000) if r[0] == "overflow"]
    assert overflow == [("overflow", "KRCWO12ELOA101", "FAST_1S", make_cycle(1, 1), T0 + 1000, 50)]
    # the next start numbers new cycles after the old ones, and compacts the file to what is live
    second.on_ingest(cycle(5), _nowhere())
    assert second.ring.blocks[-1].journal_number == 5


def _nowhere() -> zmq.Socket[Any]:
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUB)
    sock.setsockopt(zmq.LINGER, 0)
    return sock


def test_sqlite_locked_past_the_retries_backs_up_then_replays(settings: Settings,
                                                               buffer: BufferService) -> None:
    from common.historian.sqlite_sink import SqliteSink

    settings.oracle_retry_max = 2
    writer = WriterService(settings, sink=SqliteSink(settings.historian_db, timeout=0.2), ctx=zmq.Context())
    writer.retry_delays = (0.2, 0.4)  # 1, 2, 4 s in production; shortened for the test
    push(settings, [cycle(s) for s in range(1, 3)])
    stage = Stage(writer.run)
    try:
        wait_for(lambda: len(stored(settings)) == 100, 10, what="the first rows")
        lock = sqlite3.connect(settings.historian_db, timeout=5, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # another program holds the historian
        try:
            push(settings, [cycle(s) for s in range(3, 7)])
            wait_for(lambda: writer.backups.pending(), 10, what="a backup file")
            backup = writer.backups.pending()[0]
            assert backup.name.startswith("backup_") and backup.read_text().startswith(
                "timestamp,plc_code,tag_address,tag_value,quality")
            wait_for(lambda: buffer.acked_values == 300, 5, what="the backed-up batch acknowledged")
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        wait_for(lambda: not writer.backups.pending(), 15, what="the backup replayed")
        assert [p.name for p in writer.backups.replayed.iterdir()] == [backup.name]
        wait_for(lambda: len(stored(settings)) == 300, 10, what="every value")
    finally:
        stage.end()
    rows = stored(settings)
    assert len(rows) == len({(r[1], r[2]) for r in rows}) == 300  # each (address, cycle) exactly once
    assert writer.metrics.rows_replayed >= 50 and writer.metrics.backup_files >= 1


def test_rows_the_database_refuses_go_to_a_rejected_file(settings: Settings) -> None:
    from common.historian.rows import Row

    writer = WriterService(settings, ctx=zmq.Context())
    good = Row("2026-11-23T03:36:00.000Z", "KRCWO12ELOA101", "D1", 5, "GOOD", "G", 1)
    bad = good._replace(tag_address=None)  # type: ignore[arg-type]
    assert writer.store([good, bad, good._replace(tag_address="D2")], threading.Event()) == "committed"
    assert len(stored(settings)) == 2
    files = list(writer.backups.rejected.iterdir())
    assert len(files) == 1 and "NOT NULL" in files[0].read_text()
    assert writer.metrics.rows_rejected == 1
    writer.sink.close()


def test_alert_is_logged_once_per_crossing(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    settings.buffer_max_size = 100
    service = BufferService(settings, zmq.Context())
    live: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUB)
    with caplog.at_level("INFO", logger="buffer"):
        for seq in range(1, 11):
            service.on_ingest(cycle(seq, 10), live)  # 10, 20, ... 100 values: crosses 80 once
        service.ring.take(50)
        service._check_alert()  # falls back under 80
        for seq in range(11, 15):
            service.on_ingest(cycle(seq, 10), live)  # 60, 70, 80: crosses again
    live.close()
    warnings = [r for r in caplog.records if "crossed the alert threshold" in r.message]
    notes = [r for r in caplog.records if "below 80%" in r.message]
    assert len(warnings) == 2 and len(notes) == 1


def test_writer_killed_mid_batch_loses_nothing(settings: Settings, buffer: BufferService) -> None:
    import os
    import signal
    import subprocess
    import sys

    from tests.helpers import ROOT

    env = {**os.environ, "SCADA_DATA_DIR": str(settings.scada_data_dir), "SCADA_RUN_DIR": str(settings.scada_run_dir),
           "SCADA_LOG_DIR": str(settings.scada_log_dir), "BUFFER_BATCH_SIZE": "5000"}

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "services.writer"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    total = 0
    kills = 0
    seq = 0
    for _ in range(3):
        frames = []
        for _ in range(100):  # 100 cycles of 200 values
            seq += 1
            frames.append(cycle(seq, 200))
        push(settings, frames)
        total += 100 * 200
        writer = start()
        # Kill it while it holds a lease: after it took a batch, before the buffer saw the ack.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not buffer.leases:
            time.sleep(0.0005)
        assert buffer.leases, "the writer never leased a batch"
        writer.send_signal(signal.SIGKILL)
        writer.wait(5)
        kills += 1
    assert buffer.leases or buffer.expired_leases or buffer.acked_values < total
    writer = start()
    try:
        wait_for(lambda: len(stored(settings)) == total, 60, what=f"all {total} values stored")
        wait_for(lambda: buffer.acked_values >= total - 0 and not buffer.leases and buffer.ring.size == 0, 30,
                 what="everything acknowledged")
    finally:
        writer.terminate()
        writer.wait(15)
    rows = stored(settings)
    assert kills == 3
    assert len(rows) == total and len({(r[1], r[2]) for r in rows}) == total  # each value exactly once


def test_a_writer_behind_takes_larger_batches_then_returns_to_the_normal_size(settings: Settings,
                                                                             buffer: BufferService) -> None:
    settings.buffer_catchup_size = 1500
    push(settings, [cycle(s) for s in range(1, 61)])  # 3,000 values waiting: the writer is behind
    wait_for(lambda: buffer.ring.size == 3000, 5, what="a backlog")
    writer = WriterService(settings, ctx=zmq.Context())
    stage = Stage(writer.run)
    try:
        wait_for(lambda: len(stored(settings)) == 3000, 10, what="the backlog stored")
        push(settings, [cycle(s) for s in range(61, 65)])  # then a normal trickle
        wait_for(lambda: len(stored(settings)) == 3200, 10, what="the trickle stored")
    finally:
        stage.end()
    sizes = [e.values for e in writer.metrics.events if e.ok and e.values]
    # the first lease asks for a normal batch and learns the backlog; then up to 1,500 at once
    assert sizes[:3] == [500, 1500, 1000]
    assert sizes[3:] and all(s <= 200 for s in sizes[3:])  # the trickle goes as it comes
    assert sum(sizes) == 3200
