"""Benchmark: buffer ingest, writer throughput into SQLite, memory of a full ring.

    .venv/bin/python bench/buffer_writer.py

- ingest: PollingData of 500 values PUSHed over ipc to a running buffer
  (decode, journal, ring append, live republish, confirmations), values per
  second, with the journal fsynced, only written, and skipped;
- writer: SqliteSink.write (one executemany + commit per batch, WAL) of
  200,000 rows at batch sizes 100, 500, 1,000 and 5,000, values per second;
- memory: a ring holding 100,000 values (200 cycles of 500), measured with
  tracemalloc, bytes per value.
"""

from __future__ import annotations

import gc
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import zmq

from common.historian.rows import rows_of
from common.historian.sqlite_sink import SqliteSink
from common.settings import Settings
from common.times import now_ms
from common.wire.envelope import decode, encode
from common.wire.ingest import Ingested, PollingData, TagValue, block_from_frame
from services.buffer.buffer_service import BufferService
from services.buffer.ring import Ring

T0 = now_ms() // 1000 * 1000 - 3_600_000  # an hour ago: within the window the buffer lets in


def cycle(seq: int, n: int = 500, plc: str = "KRCWO12ELOA101") -> PollingData:
    values = [TagValue(f"D{i}", (seq * 7 + i) % 32768 if i % 5 else (seq + i) * 0.5, "GOOD") for i in range(n)]
    return PollingData(plc, "FAST_1S", seq, T0 + 1000 * seq, 3.2, values)


def bench_ingest(journal: str, cycles: int = 2000) -> tuple[float, float]:
    """``journal``: "sync" (the default: written, fsynced every 20 ms), "write" (BUFFER_JOURNAL_SYNC=false),
    or "none" (journal writes skipped: what the buffer cost before it was durable).
    Returns values/s taken into the ring, and values/s confirmed to the poller (journaled, and fsynced
    with "sync"), both from the first send."""
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        settings = Settings(scada_data_dir=Path(tmp) / "d", scada_run_dir=Path(tmp) / "r",
                            scada_log_dir=Path(tmp) / "l", buffer_max_size=10_000_000,
                            buffer_journal_sync=journal == "sync", _env_file=None)
        settings.make_dirs()
        service = BufferService(settings, zmq.Context())
        if journal == "none":
            service.journal.taken_in = lambda block: None  # type: ignore[method-assign]
        stop = threading.Event()
        thread = threading.Thread(target=service.run, args=(stop,))
        thread.start()
        frames = [encode(cycle(s)) for s in range(cycles)]
        push: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUSH)
        push.connect(settings.ingest_endpoint)
        acks: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
        acks.setsockopt(zmq.SUBSCRIBE, b"ack.")
        acks.connect(settings.live_endpoint)
        time.sleep(0.3)
        confirmed: set[tuple[str, int]] = set()
        started = time.perf_counter()
        for frame in frames:
            push.send(frame)
        elapsed = 0.0
        while len(confirmed) < cycles and time.perf_counter() - started < 60:
            if acks.poll(10):
                confirmed.update(decode(acks.recv_multipart()[-1], Ingested).keys)
            if not elapsed and service.ring.received >= cycles * 500:
                elapsed = time.perf_counter() - started
        confirmed_after = time.perf_counter() - started
        push.close(linger=0)
        acks.close(linger=0)
        stop.set()
        thread.join()
    return cycles * 500 / elapsed, len(confirmed) * 500 / confirmed_after


def bench_writer(batch: int, total: int = 200_000) -> tuple[float, float]:
    blocks = [cycle(s).block() for s in range(total // 500)]
    rows = rows_of(blocks)
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        sink = SqliteSink(Path(tmp) / "tag_data.db")
        sink.write(rows[:1])  # create the table
        started = time.perf_counter()
        latencies = []
        for start in range(1, len(rows), batch):
            t0 = time.perf_counter()
            sink.write(rows[start : start + batch])
            latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - started
        sink.close()
    return (len(rows) - 1) / elapsed, 1000 * sum(latencies) / len(latencies)


def bench_memory(values: int = 100_000) -> tuple[float, float]:
    frames = [encode(cycle(s)) for s in range(values // 500)]
    gc.collect()
    tracemalloc.start()
    ring = Ring(values)
    for frame in frames:
        ring.append(block_from_frame(frame))  # the buffer's own way in
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert ring.size == values
    return current / 1e6, current / values


def main() -> None:
    print("buffer ingest over ipc (500-value PollingData), values/s taken in and confirmed to the poller:")
    for journal, what in (("sync", "journal fsynced every 20 ms (default)"),
                          ("write", "journal written, not fsynced (BUFFER_JOURNAL_SYNC=false)"),
                          ("none", "no journal (not durable; for comparison)")):
        taken, confirmed = bench_ingest(journal)
        print(f"  {taken:>10,.0f} {confirmed:>10,.0f}  {what}")
    print(f"{'writer batch':>12} {'values/s':>12} {'ms/batch':>10}")
    for batch in (100, 500, 1000, 5000):
        per_second, latency = bench_writer(batch)
        print(f"{batch:>12,} {per_second:>12,.0f} {latency:>10.2f}")
    megabytes, per_value = bench_memory()
    print(f"memory of a full ring (100,000 values): {megabytes:.1f} MB ({per_value:.0f} bytes per value)")


if __name__ == "__main__":
    main()
