"""What CURVE costs: PollingData pushed to the real buffer over tcp:// on loopback, with and without CURVE.

    .venv/bin/python -m bench.curve_cost [--seconds 10] [--rate 100000] [--values 100]

A pusher process (the project's socket factory and security, as a poller's
PUSH) sends cycles of ``--values`` values to a BufferService (in this
process, journal as configured by default) at ``--rate`` values/s, then as
fast as it can. For each mode it reports the values/s the buffer took in and
the CPU (% of one core) of the pusher and of the buffer's process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import zmq

from common import bus, curve, zmq_keys
from common.settings import Settings
from common.times import now_ms
from common.wire.envelope import encode
from common.wire.ingest import PollingData, TagValue
from services.buffer.buffer_service import BufferService
from tests.helpers import ROOT, free_port, short_tmp

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def push(endpoint: str, keys: str, secure: bool, seconds: float, rate: float, values: int) -> None:
    """The pusher's side (run as a process of its own)."""
    settings = Settings(scada_ingest_endpoint=endpoint, scada_keys_dir=Path(keys), zmq_key_name="poller",
                        zmq_allow_insecure_tcp=not secure, _env_file=None)
    security = curve.for_stage(settings, "poller")
    ctx = zmq.Context()
    sock = bus.make_socket(ctx, zmq.PUSH, connect=endpoint, hwm=1000, linger=5000, security=security, name="ingest")
    t0 = now_ms() - 60_000
    cycles = [PollingData("KRCWO12ELOA101", f"G{seq % 50}", seq, t0 + seq, 1.0,
                          [TagValue(f"D{i}", seq + i, "GOOD") for i in range(values)], cycle=seq)
              for seq in range(1000)]
    frames = [encode(c) for c in cycles]
    per_cycle = values / rate if rate > 0 else 0.0
    start = time.monotonic()
    sent = 0
    while time.monotonic() - start < seconds:
        sock.send(frames[sent % len(frames)])
        sent += 1
        if per_cycle:
            delay = start + sent * per_cycle - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    sock.close()
    ctx.term()


def run(secure: bool, seconds: float, rate: float, values: int, keys: Path) -> dict[str, float]:
    base = short_tmp("curvebench-")
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    settings = Settings(scada_data_dir=base / "data", scada_run_dir=base / "run", scada_log_dir=base / "logs",
                        scada_keys_dir=keys, scada_ingest_endpoint=endpoint, zmq_allow_insecure_tcp=not secure,
                        buffer_max_size=1_000_000, _env_file=None)
    settings.make_dirs()
    buffer = BufferService(settings, zmq.Context())
    stop = threading.Event()
    thread = threading.Thread(target=buffer.run, args=(stop,), daemon=True)
    thread.start()
    time.sleep(0.5)
    pusher = subprocess.Popen([sys.executable, "-m", "bench.curve_cost", "--push", endpoint, keys.as_posix(),
                               "1" if secure else "0", str(seconds), str(rate), str(values)], cwd=ROOT)
    # Measured from the first value in (the pusher's start-up, imports and key exchange, is not the transport's).
    while buffer.ring.received == 0 and pusher.poll() is None:
        time.sleep(0.005)
    cpu0, t0, first = cpu_seconds(os.getpid()), time.monotonic(), buffer.ring.received
    pusher_cpu0 = cpu_seconds(pusher.pid)
    pusher_cpu = pusher_cpu0
    while pusher.poll() is None:
        try:
            pusher_cpu = cpu_seconds(pusher.pid)
        except OSError:
            break
        time.sleep(0.1)
    elapsed = time.monotonic() - t0
    received = buffer.ring.received - first
    buffer_cpu = cpu_seconds(os.getpid()) - cpu0
    stop.set()
    thread.join(10)
    return {"values_per_s": round(received / elapsed), "buffer_cpu_pct": round(100 * buffer_cpu / elapsed, 1),
            "pusher_cpu_pct": round(100 * (pusher_cpu - pusher_cpu0) / elapsed, 1),
            "buffer_us_per_value": round(1e6 * buffer_cpu / max(received, 1), 2)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--push":
        endpoint, key_dir, secure, seconds, rate, values = sys.argv[2:8]
        push(endpoint, key_dir, secure == "1", float(seconds), float(rate), int(values))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=100_000, help="offered values/s (0: as fast as it can)")
    parser.add_argument("--values", type=int, default=100, help="values per cycle")
    args = parser.parse_args()
    keys = short_tmp("curvekeys-")
    for name in ("buffer", "poller"):
        zmq_keys.create_pair(keys, name)
    zmq_keys.allow(keys, keys / "poller.key")
    results = []
    for offered in (args.rate, 0.0):
        for curve_on in (False, True):
            figures = run(curve_on, args.seconds, offered, args.values, keys)
            row = {"curve": curve_on, "offered": offered or "max", **figures}
            print(json.dumps(row), flush=True)
            results.append(row)


if __name__ == "__main__":
    main()
