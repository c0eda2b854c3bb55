"""End-to-end benchmark: the whole pipeline under supervisord at increasing rates.

    make bench        (or: .venv/bin/python -m bench.pipeline [--seconds 20] [--intervals 1000,500,250,160,125,100])
    .venv/bin/python -m bench.pipeline --intervals 160 --transports ipc,tcp,curve   (what tcp:// and CURVE cost)

A generated plant of 4 simulated PLCs (virtual-plc, binary 3E), 4 FIXED groups
of 1,000 tags each per PLC, so 16,000 values per round; the interval sets the
offered rate (16,000 / interval). For each rate a fresh plant runs under
supervisord into the SQLite historian; after a warm-up it measures:

- values stored per second (rows committed to TAG_DATA over the window);
- commit age p50/p99: from a cycle's read to the commit of its batch (writer);
- CPU (% of one core) and memory (RSS) of each stage;
- where the pipeline saturates and why: the stage whose CPU is at the limit,
  and the symptom (poller overruns, the buffer filling, values dropped).

``--transports``: ``ipc`` (the default endpoints), ``tcp`` (every endpoint but the
writer's lease on tcp://127.0.0.1, ZMQ_ALLOW_INSECURE_TCP=true) and ``curve``
(the same with CURVE: each stage's key pair made with ``scada keys create
NAME --allow``), as README's two-host deployment sets them up on one host.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.plant import write_csv
from tests.helpers import free_port, scada, scada_env, short_tmp, wait_for
from tests.supervisor_run import Supervisor

PLCS, GROUPS, TAGS = 4, 4, 1000
TICKS = os.sysconf("SC_CLK_TCK")


def write_plant(folder: Path, interval_ms: int) -> None:
    folder.mkdir(parents=True)
    codes = [f"KRBENCH{n:03d}PIPE"[:14] for n in range(PLCS)]
    write_csv(folder, "lines", [["B1", "bench"]])
    write_csv(folder, "processes", [["BP", "B1", "bench"]])
    # virtual-plc serves no multi-block read (0406): multi_block_read 0.
    write_csv(folder, "plcs", [[c, "BP", "127.0.0.1", free_port(), "MC3E_BINARY", 5, "", 3000, 1, "", "TCP", 0, ""]
                               for c in codes])
    write_csv(folder, "polling_groups", [[f"G{g}", c, "FIXED", interval_ms, "", "", 1]
                                         for c in codes for g in range(GROUPS)])
    write_csv(folder, "tags", [[c, f"G{g}", f"T{g}_{i:04d}", f"D{g * 1000 + i}", "INT16", "", "", "", ""]
                               for c in codes for g in range(GROUPS) for i in range(TAGS)])


def cpu_and_rss(pid: int) -> tuple[float, int]:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICKS
    rss = 0
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    return cpu, rss


def stages(sup: Supervisor) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in sup.rpc.supervisor.getAllProcessInfo():
        name = "poller" if p["name"].startswith("poller-") else p["name"]
        if p["pid"]:
            out[f"{name}:{p['name']}" if name == "poller" else name] = p["pid"]
    return out


def api(env: dict[str, str], path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{env['SCADA_API_PORT']}{path}", timeout=10) as response:
        return json.loads(response.read())


def answers(env: dict[str, str], path: str) -> bool:
    try:
        api(env, path)
    except OSError:  # not listening yet (URLError is an OSError)
        return False
    return True


def stored_rows(env: dict[str, str]) -> int:
    with sqlite3.connect(Path(env["SCADA_DATA_DIR"]) / "tag_data.db", timeout=10) as db:
        try:
            return int(db.execute("SELECT count(*) FROM TAG_DATA").fetchone()[0])
        except sqlite3.OperationalError:  # the writer has not created the table yet
            return 0


TRANSPORTS = ("ipc", "tcp", "curve")


def tcp_endpoints(env: dict[str, str], curve: bool) -> None:
    """Every endpoint but the lease on tcp:// (README "Pollers on another host"); keys for each stage if ``curve``."""
    for name in ("INGEST", "LIVE", "TELEMETRY", "CONTROL"):
        env[f"SCADA_{name}_ENDPOINT"] = f"tcp://127.0.0.1:{free_port()}"
    env["ZMQ_ALLOW_INSECURE_TCP"] = "false" if curve else "true"
    if curve:
        for stage in ("buffer", "gateway", "writer", "poller"):
            scada(env, "keys", "create", stage, "--allow")


def run_rate(interval_ms: int, seconds: float, warmup: float, batch: int, journal_sync: bool = True,
             transport: str = "ipc") -> dict[str, Any]:
    base = short_tmp("bench-")
    env = scada_env(base, BUFFER_BATCH_SIZE=str(batch), BUFFER_JOURNAL_SYNC=str(journal_sync).lower())
    if transport != "ipc":
        tcp_endpoints(env, curve=transport == "curve")
    write_plant(base / "csv", interval_ms)
    scada(env, "db", "init")
    scada(env, "db", "import", str(base / "csv"))
    sup = Supervisor(env)
    sup.start()
    try:
        sup.wait_running(60)
        wait_for(lambda: (Path(env["SCADA_DATA_DIR"]) / "tag_data.db").exists() and stored_rows(env) > 0, 60,
                 what="first rows")
        wait_for(lambda: answers(env, "/api/polling/status"), 60, what="the gateway answering")
        time.sleep(warmup)
        pids = stages(sup)
        t0, rows0 = time.monotonic(), stored_rows(env)
        cpu0 = {n: cpu_and_rss(p)[0] for n, p in pids.items()}
        polling0 = api(env, "/api/polling/status")
        time.sleep(seconds)
        t1, rows1 = time.monotonic(), stored_rows(env)
        usage = {n: cpu_and_rss(p) for n, p in pids.items()}
        polling1 = api(env, "/api/polling/status")
        writer = api(env, "/api/buffer/writer/metrics")
        buffer = api(env, "/api/buffer/status")
    finally:
        sup.stop()
        shutil.rmtree(base, ignore_errors=True)  # a fast run leaves hundreds of MB of historian
    elapsed = t1 - t0
    cpu = {n: 100 * (usage[n][0] - cpu0[n]) / elapsed for n in pids}
    overruns = sum(g["overruns"] for g in polling1["groups"]) - sum(g["overruns"] for g in polling0["groups"])
    return {
        "offered": PLCS * GROUPS * TAGS * 1000 / interval_ms, "stored": (rows1 - rows0) / elapsed,
        "age_p50": writer.get("commit_age_p50_ms"), "age_p99": writer.get("commit_age_p99_ms"),
        "batch": writer.get("avg_batch_size"), "write_ms": writer.get("avg_write_latency_ms"),
        "cpu": cpu, "rss": {n: usage[n][1] for n in pids}, "overruns": overruns,
        "buffer_pct": buffer["utilization_pct"], "overflow": buffer["overflow_count"],
        "queue": polling1["queue"]["size"], "dropped": polling1["queue"]["dropped"],
    }


def verdict(r: dict[str, Any]) -> str:
    busiest = max(r["cpu"].items(), key=lambda item: item[1])
    if r["stored"] >= 0.97 * r["offered"] and r["buffer_pct"] < 50 and not r["overruns"]:
        return f"keeps up (busiest: {busiest[0]} {busiest[1]:.0f}%)"
    symptoms = []
    if r["overruns"]:
        symptoms.append(f"{r['overruns']} poller overruns")
    if r["buffer_pct"] >= 50 or r["overflow"]:
        symptoms.append(f"buffer {r['buffer_pct']:.0f}% full, {r['overflow']} dropped")
    if r["queue"] or r["dropped"]:
        symptoms.append(f"poller queues {r['queue']}, dropped {r['dropped']}")
    return f"saturated at {busiest[0]} ({busiest[1]:.0f}% of a core): " + ("; ".join(symptoms) or "falls behind")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--intervals", default="1000,500,250,160,125,100")
    parser.add_argument("--batch", type=int, default=500, help="BUFFER_BATCH_SIZE for the run")
    parser.add_argument("--no-journal-sync", action="store_true",
                        help="BUFFER_JOURNAL_SYNC=false: what the buffer's fsyncs cost end to end")
    parser.add_argument("--transports", default="ipc",
                        help="comma-separated, each rate run once per transport: ipc, tcp (no CURVE), curve")
    args = parser.parse_args()
    sync = not args.no_journal_sync
    transports = args.transports.split(",")
    if not set(transports) <= set(TRANSPORTS):
        parser.error(f"--transports: each of {', '.join(TRANSPORTS)}")
    print(f"{PLCS} PLCs x {GROUPS} groups x {TAGS} tags (virtual-plc, binary 3E), SQLite historian, "
          f"{args.seconds:.0f} s per rate after {args.warmup:.0f} s warm-up, BUFFER_BATCH_SIZE {args.batch}, "
          f"buffer journal {'fsynced' if sync else 'not fsynced'}, {os.cpu_count()} cores")
    for interval, transport in ((int(i), t) for i in args.intervals.split(",") for t in transports):
        r = run_rate(interval, args.seconds, args.warmup, args.batch, sync, transport)
        print(f"\n{transport}, interval {interval} ms: offered {r['offered']:,.0f} values/s, "
              f"stored {r['stored']:,.0f} values/s, "
              f"commit age p50 {r['age_p50']} ms p99 {r['age_p99']} ms; writer batches {r['batch']} values, "
              f"{r['write_ms']} ms each")
        print("  " + ", ".join(f"{n} {c:.0f}% {r['rss'][n] / 1e6:.0f} MB" for n, c in sorted(r["cpu"].items())))
        print(f"  -> {verdict(r)}")


if __name__ == "__main__":
    main()
