"""Benchmark: the journal's cost per record, framed (length + CRC-32) against the previous release's bare msgpack.

    .venv/bin/python -m bench.journal

2,000 buffer records of 500-value cycles (the packed values the buffer keeps),
appended ten per call as the buffer's loop does under load, then replayed;
median of 7 runs, microseconds per record. The bare format is written the way
the previous release did (one msgpack record after the other, one ``write``).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack

from bench.buffer_writer import cycle
from common.journal import Journal


def records(n: int = 2000) -> list[list[Any]]:
    blocks = [cycle(s).block() for s in range(n)]
    return [[1, i, 0, b.plc_code, b.group, b.seq, b.ts_ms, b.count, b.packed] for i, b in enumerate(blocks)]


def framed(path: Path, batches: list[list[Any]]) -> None:
    journal = Journal(path)
    list(journal.replay())
    journal.open()
    for batch in batches:
        journal.append(batch)
    journal.dirty = False  # no fsync at close: the bare writer does none either
    journal.close()


def bare(path: Path, batches: list[list[Any]]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    for batch in batches:
        os.write(fd, b"".join(msgpack.packb(r, use_bin_type=True) for r in batch))
    os.close(fd)


def run(write: Callable[[Path, list[list[Any]]], None], recs: list[list[Any]]) -> tuple[float, float]:
    batches = [recs[i:i + 10] for i in range(0, len(recs), 10)]
    appends, replays = [], []
    for _ in range(7):
        with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
            path = Path(tmp) / "j"
            started = time.perf_counter()
            write(path, batches)
            appends.append(time.perf_counter() - started)
            started = time.perf_counter()
            assert sum(1 for _ in Journal(path).replay(repair=False)) == len(recs)
            replays.append(time.perf_counter() - started)
    return 1e6 * statistics.median(appends) / len(recs), 1e6 * statistics.median(replays) / len(recs)


def main() -> None:
    recs = records()
    size = len(msgpack.packb(recs[0], use_bin_type=True))
    print(f"{len(recs):,} records of {size:,} bytes (a 500-value cycle), us per record (median of 7):")
    print(f"{'format':<40} {'append':>8} {'replay':>8}")
    for name, write in (("bare msgpack (previous release)", bare), ("framed, length + CRC-32 (this one)", framed)):
        append, replay = run(write, recs)
        print(f"{name:<40} {append:>8.1f} {replay:>8.1f}")


if __name__ == "__main__":
    main()
