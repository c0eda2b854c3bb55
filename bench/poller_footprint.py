"""What a poller of the sample plant costs: resident memory after its imports and while polling, and its start.

    flock /tmp/jsscada-suite.lock .venv/bin/python -m bench.poller_footprint [--runs 5] [--plc KRCWO12ELOA102]

Each run starts two fresh processes, as supervisord would (compiled modules
first, ``make bytecode``):

- ``imported``: the poller's entry module imported (``runpy``, not run), its
  VmRSS then, and the count of modules loaded;
- ``polling``: ``python -m services.poller --plc PLC`` against virtual-plc
  (in this process) with the sample plant's config; this process plays the
  buffer (ingest and confirmations) and reads the poller's status on the
  telemetry PUB until every 1 s group has run ``--cycles`` cycles. Figures:
  ``process.rss_bytes`` and ``process.polling_after_s`` of the status (measured
  in the poller, /proc/self), and, read from outside in the same moment,
  /proc/PID/smaps_rollup: anonymous memory (heaps, stacks) against file-backed
  pages (the interpreter, shared libraries, bytecode), and the poller's threads.

Memory is printed in MiB and, for the issue's aim (25 MB), in MB.

``--soak-minutes N`` instead runs one poller N minutes and prints its
resident memory once a minute: does it level off?
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import zmq
from virtual_plc import Memory, Server

from common import bus
from common.config_store.csv_import import import_csv
from common.config_store.schema import open_store
from common.settings import Settings
from common.wire.envelope import unpack
from services.poller import interpreter
from tests.helpers import ROOT, sample_on_free_ports, scada_env, short_tmp, wait_for
from tests.integration.poller_harness import Ingest

PLC = "KRCWO12ELOA102"
MIB = 2**20

#: A fresh interpreter importing the poller's entry module without running it; prints its VmRSS and modules.
IMPORT_PROBE = ("import json, sys, runpy; sys.argv = ['poller']; "
                "runpy.run_module('services.poller.__main__', run_name='not_main'); "
                "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS:')][0].split()[1]; "
                "print(json.dumps({'rss': int(rss) * 1024, 'modules': sorted(sys.modules)}))")


@dataclass
class Polling:
    """A running poller's figures, once every 1 s group has run its cycles."""

    status: dict[str, Any]
    smaps: dict[str, int]
    threads: int
    log: str
    #: the shared libraries mapped into the poller (file names, from /proc/PID/maps)
    libraries: set[str]


def imported() -> dict[str, Any]:
    """VmRSS (bytes) and the sorted module names of a fresh process that imported the poller's entry module."""
    done = subprocess.run([sys.executable, *interpreter.FLAGS, "-c", IMPORT_PROBE], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True, env={**os.environ, **interpreter.environment()})
    return dict(json.loads(done.stdout))


def smaps_rollup(pid: int) -> dict[str, int]:
    """/proc/PID/smaps_rollup in bytes: Rss, Anonymous, Pss, Private_Dirty, ..."""
    figures = {}
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
        for line in rollup:
            name, _, value = line.partition(":")
            if value.strip().endswith("kB"):
                figures[name] = int(value.split()[0]) * 1024
    return figures


def libraries(pid: int) -> set[str]:
    """The file names of the shared objects mapped into ``pid`` (libsqlite3.so.0, _zmq.cpython-311...so, ...)."""
    with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as maps:
        return {line.rsplit("/", 1)[1].strip() for line in maps if ".so" in line and "/" in line}


def threads(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("Threads:"))


def polling(plc: str = PLC, cycles: int = 3, timeout: float = 30,
            on_status: Callable[[dict[str, Any]], None] | None = None, **env: str) -> Polling:
    """Run ``python -m services.poller --plc PLC`` of the sample plant until every 1 s group has run ``cycles``
    cycles; its last status, its smaps_rollup and threads read then, and its log. ``on_status``: called with
    each status the poller publishes (once a second). ``env``: extra variables."""
    base = short_tmp("footprint-")
    environ = scada_env(base, **env)
    ports = sample_on_free_ports(base / "csv")
    settings = Settings(scada_data_dir=base / "data", scada_run_dir=base / "run", scada_log_dir=base / "logs",
                        _env_file=None)
    settings.make_dirs()
    conn = open_store(settings.config_db)
    import_csv(conn, [base / "csv"])
    conn.close()
    telemetry: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
    telemetry.setsockopt(zmq.LINGER, 0)
    telemetry.setsockopt(zmq.SUBSCRIBE, bus.status_topic("poller", plc))
    telemetry.bind(settings.telemetry_endpoint)
    ingest = Ingest(settings)
    latest: dict[str, Any] = {}
    smaps: dict[str, int] = {}
    running_threads = 0
    mapped: set[str] = set()

    with Server("127.0.0.1", ports[plc], memory=Memory()):
        poller = subprocess.Popen(interpreter.command(sys.executable, plc), cwd=ROOT,
                                  env={**environ, **interpreter.environment()},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

        def polled_a_while() -> bool:
            nonlocal smaps, running_threads, mapped
            while telemetry.poll(100):
                latest.update(unpack(telemetry.recv_multipart()[1]))
                if on_status is not None:
                    on_status(latest)
                smaps, running_threads, mapped = smaps_rollup(poller.pid), threads(poller.pid), libraries(poller.pid)
            fast = [g for g in latest.get("groups", []) if g["interval_ms"] == 1000]
            return bool(fast) and all(g["cycles"] >= cycles for g in fast)

        try:
            wait_for(polled_a_while, timeout, what=f"{cycles} cycles of every 1 s group in the poller's status")
        finally:
            poller.terminate()
            _, log = poller.communicate(timeout=15)
            ingest.close()
            telemetry.close()
            shutil.rmtree(base, ignore_errors=True)
    if not ingest.received:
        raise AssertionError(f"no cycle of the poller reached the ingest; its log:\n{log}")
    return Polling(latest, smaps, running_threads, log, mapped)


def soak(plc: str, minutes: int) -> None:
    """One poller polling ``minutes``: its resident memory once a minute, from its own status."""
    started = time.monotonic()
    marks: list[tuple[float, int]] = []

    def each(status: dict[str, Any]) -> None:
        at = time.monotonic() - started
        if "process" in status and (not marks or at - marks[-1][0] >= 60):
            marks.append((at, status["process"]["rss_bytes"]))
            print(f"  {at / 60:5.1f} min  {marks[-1][1] / MIB:6.2f} MiB  "
                  f"({(marks[-1][1] - marks[0][1]) / MIB:+.2f} since the first minute)", flush=True)

    print(f"{plc} polling for {minutes} min, its resident memory once a minute:")
    polling(plc, cycles=minutes * 60, timeout=minutes * 60 + 60, on_status=each)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--plc", default=PLC)
    parser.add_argument("--cycles", type=int, default=5, help="cycles of every 1 s group before the reading")
    parser.add_argument("--soak-minutes", type=int, default=0,
                        help="instead: one poller polling this long, its memory once a minute")
    args = parser.parse_args()
    if args.soak_minutes:
        soak(args.plc, args.soak_minutes)
        return
    rows = []
    for run in range(1, args.runs + 1):
        probe = imported()
        running = polling(args.plc, args.cycles)
        process = running.status["process"]
        rows.append((probe["rss"], process["rss_bytes"], process["polling_after_s"]))
        print(f"run {run}: imported {probe['rss'] / MIB:.2f} MiB ({len(probe['modules'])} modules); "
              f"polling {process['rss_bytes'] / MIB:.2f} MiB = {process['rss_bytes'] / 1e6:.2f} MB "
              f"(anonymous {running.smaps['Anonymous'] / MIB:.2f}, file-backed "
              f"{(running.smaps['Rss'] - running.smaps['Anonymous']) / MIB:.2f}, "
              f"private {(running.smaps['Private_Clean'] + running.smaps['Private_Dirty']) / MIB:.2f} MiB; "
              f"{running.threads} threads); polling {process['polling_after_s']:.2f} s after exec", flush=True)
    imported_rss, polling_rss, started = zip(*rows, strict=True)
    print(f"{args.plc}, {args.runs} runs: imported {min(imported_rss) / MIB:.2f}-{max(imported_rss) / MIB:.2f} MiB; "
          f"polling {min(polling_rss) / MIB:.2f}-{max(polling_rss) / MIB:.2f} MiB "
          f"({min(polling_rss) / 1e6:.2f}-{max(polling_rss) / 1e6:.2f} MB, median "
          f"{statistics.median(polling_rss) / 1e6:.2f} MB); polling after "
          f"{min(started):.2f}-{max(started):.2f} s")


if __name__ == "__main__":
    main()
