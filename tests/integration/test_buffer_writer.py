"""The buffer and the writer on real ZeroMQ sockets (temporary ipc paths) and a real SQLite file."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq

from common import messages
from common.messages import PollingData, TagValue
from common.settings import Settings
from services.buffer.service import BufferService
from services.writer.service import WriterService
from tests.helpers import short_tmp, wait_for


@pytest.fixture
def settings() -> Settings:
    base = short_tmp()
    return Settings(scada_data_dir=base / "data", scada_run_dir=base / "run", scada_log_dir=base / "logs",
                    buffer_lease_timeout=1.0, buffer_write_interval=0.05, _env_file=None)  # type: ignore[call-arg]


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
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.PUSH)
    sock.connect(settings.ingest_endpoint)
    for frame in frames:
        sock.send(frame)
    sock.close(linger=2000)


def cycle(seq: int, n: int = 50, plc: str = "KRCWO12ELOA101") -> bytes:
    return messages.encode_polling_data(PollingData(plc, "FAST_1S", seq, 1_800_000_000_000 + 1000 * seq, 1.0,
                                                    [TagValue(f"D{i}", seq * 1000 + i, "GOOD") for i in range(n)]))


def stored(settings: Settings) -> list[tuple[Any, ...]]:
    if not settings.historian_db.exists():
        return []
    with sqlite3.connect(settings.historian_db) as db:
        try:
            return db.execute("SELECT plc_code, tag_address, seq, tag_value FROM TAG_DATA").fetchall()
        except sqlite3.OperationalError:
            return []


def test_values_pass_through_and_bad_frames_are_counted(settings: Settings, buffer: BufferService) -> None:
    push(settings, [cycle(1), b"\x00garbage", msgpack.packb({"v": 1, "t": "polling_data"}), cycle(2)])
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
    ctx = zmq.Context.instance()
    ghost = ctx.socket(zmq.DEALER)
    ghost.connect(settings.lease_endpoint)
    ghost.send(messages.pack({"v": 1, "t": "lease", "id": 1, "max": 120}))
    assert ghost.poll(3000)
    batch = messages.unpack(ghost.recv(), "batch")
    assert sum(len(b[4]) for b in batch["blocks"]) == 120
    ghost.close(linger=0)
    assert buffer.ring.size == 80
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
    block = messages.decode_polling_data(cycle(9)).block()
    writer.write_batch([block])
    writer.write_batch([block])
    assert writer.values_written == 50 and writer.duplicates == 50
    assert len(stored(settings)) == 50
    writer.sink.close()


def test_ring_survives_a_restart(settings: Settings) -> None:
    settings.make_dirs()
    first = BufferService(settings, zmq.Context())
    stage = Stage(first.run)
    push(settings, [cycle(s) for s in range(1, 4)])
    wait_for(lambda: first.ring.size == 150, 5, what="values in the ring")
    stage.end()
    assert Path(settings.buffer_state_file).exists()
    second = BufferService(settings, zmq.Context())
    second.load_state()
    assert second.ring.size == 150 and [b.seq for b in second.ring.blocks] == [1, 2, 3]
    assert not Path(settings.buffer_state_file).exists()
