"""Benchmark: timing of FIXED groups -- start lateness and cumulative drift.

    .venv/bin/python -m bench.poll_timing [--seconds 60] [--intervals 1000,100]   (from the project directory)

10 groups of 100 tags on one PLC (virtual-plc in its own process), each group
on its own schedule. For each interval it prints the p50, p99 and maximum of
the start lateness against the deadline (from the poller's monotonic clock)
and the cumulative drift at the end, measured independently from the
PollingData timestamps: (last ts - first ts) - (cycles - 1) x interval.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import zmq

from common.settings import Settings
from common.wire.envelope import decode
from common.wire.ingest import PollingData
from services.poller.embedded import EmbeddedPoller
from tests.integration.poller_harness import PLC, make_store

GROUPS = 10
TAGS = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def plant(base: Path, port: int, interval_ms: int) -> Settings:
    groups = "".join(f"G{g:02d},{PLC},FIXED,{interval_ms},,,1\n" for g in range(GROUPS))
    tags = "".join(f"{PLC},G{g:02d},T{g:02d}_{i:03d},D{g * 200 + i},INT16,,,,\n"
                   for g in range(GROUPS) for i in range(TAGS))
    return make_store(base, port, groups, tags, timeout_ms=3000, pool_size=5)


def collect(settings: Settings, out: list[tuple[str, int, int]], stop: threading.Event) -> None:
    """Play the buffer; keep (group, seq, ts) only, so the benchmark adds no garbage to the poller's process."""
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PULL)
    sock.bind(settings.ingest_endpoint)
    while not stop.is_set() or sock.poll(200):
        if sock.poll(200):
            data = decode(sock.recv(), PollingData)
            out.append((data.group, data.seq, data.ts_ms))
    sock.close(linger=0)


def run(interval_ms: int, seconds: float) -> dict[str, float]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "virtual_plc", "--port", str(port)],
                              stderr=subprocess.PIPE, text=True)
    assert server.stderr is not None
    server.stderr.readline()
    received: list[tuple[str, int, int]] = []
    stop = threading.Event()
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        settings = plant(Path(tmp), port, interval_ms)
        collector = threading.Thread(target=collect, args=(settings, received, stop))
        collector.start()
        poller = EmbeddedPoller(settings, PLC).start()
        time.sleep(seconds)
        groups = list(poller.service.groups.values())
        poller.end()
        stop.set()
        collector.join()
    server.terminate()
    server.wait(10)
    lateness = [ms for g in groups for ms in g.stats.lateness_ms]
    drifts = []
    for g in groups:
        data = sorted((seq, ts) for group, seq, ts in received if group == g.name)
        if len(data) >= 2:
            # Off the grid start + n x interval, whatever n is (a skipped deadline is an overrun, not drift).
            elapsed = data[-1][1] - data[0][1]
            drifts.append(elapsed - round(elapsed / interval_ms) * interval_ms)
    cuts = statistics.quantiles(lateness, n=100, method="inclusive")
    return {
        "cycles": sum(g.stats.cycles for g in groups), "errors": sum(g.stats.errors for g in groups),
        "overruns": sum(g.stats.overruns for g in groups),
        "duration_ms": statistics.fmean(g.stats.total_duration_ms / max(1, g.stats.cycles) for g in groups),
        "p50": cuts[49], "p99": cuts[98], "max": max(lateness),
        "drift_max": max(drifts, key=abs), "drift_mean": statistics.fmean(drifts),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--intervals", default="1000,100")
    args = parser.parse_args()
    print(f"{GROUPS} FIXED groups x {TAGS} tags, one virtual-plc (own process, binary 3E, pool of 5), "
          f"{args.seconds:.0f} s per interval")
    print(f"{'interval':>9} {'cycles':>7} {'errors':>6} {'overruns':>8} {'read ms':>8} "
          f"{'late p50':>9} {'late p99':>9} {'late max':>9} {'drift (ms, worst group)':>24}")
    for interval in (int(i) for i in args.intervals.split(",")):
        r = run(interval, args.seconds)
        print(f"{interval:>7}ms {r['cycles']:>7.0f} {r['errors']:>6.0f} {r['overruns']:>8.0f} "
              f"{r['duration_ms']:>8.2f} {r['p50']:>8.2f}ms {r['p99']:>8.2f}ms {r['max']:>8.2f}ms "
              f"{r['drift_max']:>+23.1f}")
    print("lateness: start of a cycle after its deadline (monotonic clock); drift: last cycle's start off the """
          "first cycle's grid, from PollingData timestamps (wall clock, ms resolution)")


if __name__ == "__main__":
    main()
