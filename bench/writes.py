"""Benchmark: writes to the PLC -- POST to answer, for one tag and for 100 tags, while the PLC's groups poll
at 100 ms; and the pollers' lateness meanwhile.

    .venv/bin/python -m bench.writes [--seconds 20] [--scan-ms 0 10]   (from the project directory, under the lock)

One PLC: virtual-plc in its own process, alone (it answers at once) or behind
bench/scan_relay.py serving one request per scan of ``--scan-ms`` (a
Q-series CPU serves about one MC request per END processing, so a real PLC
is closer to this). The gateway and the poller run as the processes they
are in production (``python -m services.gateway``, ``python -m
services.poller``); the bench plays the buffer. The poller polls GROUPS
FIXED groups of 100 tags at 100 ms, and holds 100 writable INT16 tags. Three
windows of ``--seconds`` each: no writes; one tag written over and over
(sequential POSTs, one at a time); 100 tags in one POST, over and over. A
write is old values read, the writes sent, the values read back: for 100
consecutive tags, three requests. Lateness is measured independently of the
poller's own figures, from the PollingData timestamps the bench receives:
each cycle's read start against its group's grid (first cycle + n x 100 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import zmq

from bench.scan_relay import ScanRelay
from common import bus
from common.config_store.csv_import import import_csv
from common.config_store.schema import open_store
from common.wire.envelope import encode, unpack
from common.wire.ingest import Ingested
from tests.helpers import free_port
from tests.integration.poller_harness import PLC, make_store

GROUPS, TAGS, INTERVAL_MS, WRITABLE = 4, 100, 100, 100
TOKEN = "bench-writes"


def plant(base: Path, port: int) -> dict[str, str]:
    groups = "".join(f"G{g},{PLC},FIXED,{INTERVAL_MS},,,1\n" for g in range(GROUPS)) + f"SP,{PLC},FIXED,1000,,,1\n"
    tags = "".join(f"{PLC},G{g},T{g}_{i:03d},D{g * 200 + i},INT16,,,,\n" for g in range(GROUPS) for i in range(TAGS))
    settings = make_store(base, port, groups, tags, timeout_ms=3000, pool_size=5)
    (base / "tags.csv").write_text(
        "plc_code,group_name,tag_name,address,data_type,scale,offset,unit,description,writable,min,max\n"
        + "".join(f"{PLC},SP,SP_{k:03d},D{5000 + k},INT16,0.1,,,,1,-1000,1000\n" for k in range(WRITABLE)))
    conn = open_store(settings.config_db)
    import_csv(conn, [base / "tags.csv"])
    conn.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCADA_", "ORACLE_", "BUFFER_"))}
    env.update(SCADA_DATA_DIR=str(settings.scada_data_dir), SCADA_RUN_DIR=str(settings.scada_run_dir),
               SCADA_LOG_DIR=str(settings.scada_log_dir), SCADA_API_PORT=str(free_port()), SCADA_API_TOKEN=TOKEN)
    return env


class Buffer:
    """Plays the buffer: takes the PollingData, confirms it, keeps (group, seq, ts) of each cycle."""

    def __init__(self, env: dict[str, str]) -> None:
        run = Path(env["SCADA_RUN_DIR"])
        self.cycles: list[tuple[str, int, int, float]] = []  # group, seq, ts, received (monotonic)
        self._stop = threading.Event()
        ctx: zmq.Context[Any] = zmq.Context.instance()
        self.pull: zmq.Socket[bytes] = ctx.socket(zmq.PULL)
        self.live: zmq.Socket[bytes] = ctx.socket(zmq.PUB)
        self.pull.bind(f"ipc://{run / 'ingest.sock'}")
        self.live.bind(f"ipc://{run / 'live.sock'}")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.pull.poll(100):
                m = unpack(self.pull.recv(), "polling_data")
                self.cycles.append((m["group"], m["seq"], m["ts"], time.monotonic()))
                self.live.send_multipart([bus.ack_topic(PLC), encode(Ingested(PLC, [(m["group"], m["cycle"])]))])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.pull.close(linger=0)
        self.live.close(linger=0)


def lateness(cycles: list[tuple[str, int, int, float]], since: float, until: float) -> list[float]:
    """Each 100 ms cycle's start (its ts) after its group's grid, for cycles received in [since, until)."""
    out: list[float] = []
    for g in range(GROUPS):
        mine = sorted((seq, ts) for group, seq, ts, at in cycles if group == f"G{g}")
        if not mine:
            continue
        seq0, ts0 = mine[0]
        offsets = [ts - ts0 - (seq - seq0) * INTERVAL_MS for seq, ts in mine]
        base = min(offsets)  # the grid runs through the earliest start
        wanted = {seq for group, seq, _, at in cycles if group == f"G{g}" and since <= at < until}
        out += [o - base for (seq, _), o in zip(mine, offsets, strict=True) if seq in wanted]
    return out


def pct(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else values[0]


def window(url: str, body: dict[str, Any] | None, seconds: float) -> tuple[list[float], int]:
    """POST ``body`` one after another for ``seconds`` (None: just wait); latencies in ms, failures."""
    times: list[float] = []
    failures = 0
    end = time.monotonic() + seconds
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client:
        while time.monotonic() < end:
            if body is None:
                time.sleep(0.1)
                continue
            started = time.perf_counter()
            answer = client.post("/api/tags/write", json=body)
            times.append(1000 * (time.perf_counter() - started))
            failures += answer.status_code != 200
    return times, failures


def run(seconds: float, scan_ms: float) -> list[tuple[str, list[float], int, list[float]]]:
    plc_port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "virtual_plc", "--port", str(plc_port)],
                              stderr=subprocess.PIPE, text=True)
    assert server.stderr is not None
    server.stderr.readline()
    loop = asyncio.new_event_loop()
    relay_thread = threading.Thread(target=loop.run_forever, daemon=True)
    relay_thread.start()
    port = plc_port
    if scan_ms:
        relay = ScanRelay(("127.0.0.1", plc_port), scan_ms / 1000)
        port = asyncio.run_coroutine_threadsafe(relay.start(), loop).result(5)[1]
    stages: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        env = plant(Path(tmp), port)
        buffer = Buffer(env)
        try:
            for args in (["services.gateway"], ["services.poller", "--plc", PLC]):
                stages.append(subprocess.Popen([sys.executable, "-m", *args], env=env, stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL))
            url = f"http://127.0.0.1:{env['SCADA_API_PORT']}"
            one = {"plc": PLC, "tag": "SP_000", "value": 12.3}
            hundred = {"plc": PLC, "writes": [{"tag": f"SP_{k:03d}", "value": round(k * 0.1 - 5, 1)}
                                              for k in range(WRITABLE)]}
            deadline = time.monotonic() + 30
            while True:  # until the poller is connected and a write goes through
                try:
                    if httpx.post(f"{url}/api/tags/write", json=one, headers={"Authorization": f"Bearer {TOKEN}"},
                                  timeout=10).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the gateway and poller did not come up within 30 s")
                time.sleep(0.3)
            time.sleep(2)  # the groups settle on their grid
            results = []
            for name, body in (("no writes", None), ("1 tag", one), ("100 tags", hundred)):
                since = time.monotonic()
                times, failures = window(url, body, seconds)
                results.append((name, times, failures, lateness(buffer.cycles, since, time.monotonic())))
            return results
        finally:
            for stage in stages:
                stage.terminate()
            for stage in stages:
                stage.wait(15)
            buffer.close()
            server.terminate()
            server.wait(10)
            loop.call_soon_threadsafe(loop.stop)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--scan-ms", type=float, nargs="+", default=[0.0, 10.0])
    args = parser.parse_args()
    print(f"one PLC (virtual-plc, own process, 3E binary, pool of 5), {GROUPS} FIXED groups x {TAGS} tags at "
          f"{INTERVAL_MS} ms; gateway and poller in their own processes; {args.seconds:.0f} s per window; "
          "POSTs one after another")
    print(f"{'PLC':<22} {'window':<10} {'POSTs':>6} {'failed':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}   "
          f"{'cycles':>6} {'late p50':>8} {'late p99':>8} {'late max':>8}")
    for scan in args.scan_ms:
        plc = f"{scan:g} ms scan relay" if scan else "answers at once"
        for name, times, failures, late in run(args.seconds, scan):
            posts = (f"{len(times):>6} {failures:>6} {pct(times, 50):>8.1f} {pct(times, 99):>8.1f} "
                     f"{max(times):>8.1f}" if times else f"{'-':>6} {'-':>6} {'-':>8} {'-':>8} {'-':>8}")
            print(f"{plc:<22} {name:<10} {posts}   {len(late):>6} {pct(late, 50):>7.0f}ms {pct(late, 99):>7.0f}ms "
                  f"{max(late):>7.0f}ms")
    print("lateness: a 100 ms cycle's read start (PollingData ts, wall clock, ms) after its group's grid")


if __name__ == "__main__":
    main()
