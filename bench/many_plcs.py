"""Scale benchmark: many simulated PLCs, one poller process each, under supervisord on this machine.

    flock /tmp/jsscada-suite.lock .venv/bin/python -m bench.many_plcs [--plcs 25,50,100] [--seconds 30]

For each plant size a fresh plant runs under supervisord as ``make run`` starts it: the simulator
(virtual-plc, one server per PLC, all in one process), one poller per PLC, the buffer, the writer into
the SQLite historian and the gateway. Every PLC has one FIXED group of 200 INT16 tags at 1 s (one
batch read, binary 3E, one connection), so the plant offers N x 200 values/s. It measures:

- time until every poller is polling: from supervisord's launch until the gateway's status shows a
  cycle of every PLC; and each poller's own figure (exec to schedules running, ``polling_after_s``);
- values stored per second over the window (rows committed to TAG_DATA) against the offered rate;
- start lateness p99 twice: as the pollers report it (their last 1,000 cycles, start included), and
  independently from the historian: every stored cycle's read time against its PLC's 1 s grid,
  relative to that PLC's earliest cycle in the window (so a lower bound, off by that cycle's lateness);
- CPU (% of one core) and resident memory of every stage, the pollers together and per poller;
- the stage that saturates first: the busiest process and the symptoms (overruns, missed deadlines,
  the buffer filling, queues, values dropped), and the whole machine's CPU against its cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.plant import write_csv
from common.footprint import cpu_seconds, rss_bytes
from tests.helpers import ROOT, free_port, scada, scada_env, short_tmp, wait_for
from tests.supervisor_run import Supervisor

TAGS = 200
INTERVAL_MS = 1000


def plc_codes(count: int) -> list[str]:
    return [f"KRSCALE{n:03d}PLCA" for n in range(count)]


def write_plant(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    codes = plc_codes(count)
    ports: list[int] = []
    while len(ports) < count:  # free_port() may hand the same free port out twice
        if (port := free_port()) not in ports:
            ports.append(port)
    write_csv(folder, "lines", [["S1", "scale bench"]])
    write_csv(folder, "processes", [["SP", "S1", "scale bench"]])
    write_csv(folder, "plcs", [[c, "SP", "127.0.0.1", port, "MC3E_BINARY", 1, "", 3000, 1, "", "TCP", 0, ""]
                               for c, port in zip(codes, ports, strict=True)])
    write_csv(folder, "polling_groups", [["G1S", c, "FIXED", INTERVAL_MS, "", "", 1] for c in codes])
    write_csv(folder, "tags", [[c, "G1S", f"T{i:03d}", f"D{i}", "INT16", "", "", "", ""]
                               for c in codes for i in range(TAGS)])


def grouped_pollers(env: dict[str, str], count: int, per_process: int) -> str:
    """The pollers' supervisor include with ``per_process`` PLCs in each process (bench/poller_group.py)."""
    codes = plc_codes(count)
    chunks = [codes[i:i + per_process] for i in range(0, count, per_process)]
    out = []
    for n, chunk in enumerate(chunks):
        plcs = " ".join(f"--plc {c}" for c in chunk)
        out.append(f"[program:pollers{n:02d}]\ncommand={sys.executable} -m bench.poller_group {plcs}\n"
                   f"directory={ROOT}\nautostart=true\nautorestart=true\nstartsecs=1\nstopwaitsecs=10\n"
                   f"redirect_stderr=true\nstdout_logfile={env['SCADA_LOG_DIR']}/pollers{n:02d}.log\n\n")
    out.append(f"[group:pollers]\nprograms={','.join(f'pollers{n:02d}' for n in range(len(chunks)))}\n")
    return "".join(out)


def api(env: dict[str, str], path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{env['SCADA_API_PORT']}{path}", timeout=10) as response:
        return json.loads(response.read())


def historian(env: dict[str, str]) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{Path(env['SCADA_DATA_DIR']) / 'tag_data.db'}?mode=ro", uri=True, timeout=10)


def stored_rows(env: dict[str, str]) -> int:
    try:
        with historian(env) as db:
            return int(db.execute("SELECT count(*) FROM TAG_DATA").fetchone()[0])
    except sqlite3.OperationalError:  # no file or table yet
        return 0


def epoch_ms(ts: Any) -> int:
    if isinstance(ts, int | float):
        return int(ts)
    return int(datetime.fromisoformat(str(ts).replace("Z", "+00:00")).timestamp() * 1000)


def lateness_from_historian(env: dict[str, str], since_ms: int, until_ms: int) -> list[float]:
    """Every stored cycle's read time against its PLC's 1 s grid (see the module's docstring), in ms."""
    with historian(env) as db:
        rows = db.execute("SELECT DISTINCT plc_code, ts FROM TAG_DATA").fetchall()
    by_plc: dict[str, list[int]] = {}
    for plc, ts in rows:
        ms = epoch_ms(ts)
        if since_ms <= ms < until_ms:
            by_plc.setdefault(plc, []).append(ms)
    late: list[float] = []
    for stamps in by_plc.values():
        stamps.sort()
        offsets = [ms - stamps[0] - INTERVAL_MS * round((ms - stamps[0]) / INTERVAL_MS) for ms in stamps]
        best = min(offsets)
        late += [float(o - best) for o in offsets]
    return late


def p99(values: list[float]) -> float | None:
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def stage_pids(sup: Supervisor) -> dict[str, int]:
    """Every program's pid; a poller's named ``poller:<program>`` (``poller-<PLC>`` one per PLC, or the
    prototype's ``pollers:pollersNN``)."""
    return {("poller:" if p["group"] == "pollers" or p["name"].startswith("poller-") else "") + p["name"]: p["pid"]
            for p in sup.rpc.supervisor.getAllProcessInfo() if p["pid"]}


def new_plant(prefix: str, count: int) -> tuple[Path, dict[str, str]]:
    """A fresh run folder and environment with the plant of ``count`` PLCs in its config store."""
    base = short_tmp(prefix)
    env = scada_env(base)
    write_plant(base / "csv", count)
    scada(env, "db", "init")
    scada(env, "db", "import", str(base / "csv"))
    return base, env


def stop_plant(sup: Supervisor, env: dict[str, str]) -> None:
    """supervisord stopped, and any stage of the run it left behind (seen with 100 PLCs: its shutdown waited
    for the central stages past the 30 s Supervisor.stop gives it, then was killed) stopped by the product's
    own ``scada strays --stop``, so no run loads the machine for the next one."""
    sup.stop()
    strays = scada(env, "strays", "--stop", check=False, timeout=120)
    if strays.returncode != 0 or strays.stdout.strip():
        print(f"  (stages left running after supervisord, stopped: {strays.stdout.strip()[:300]})")


def every_poller_polling(env: dict[str, str], count: int) -> dict[str, Any] | None:
    try:
        status = api(env, "/api/polling/status")
    except (OSError, urllib.error.URLError, ValueError):
        return None  # the gateway is not up yet
    cycling = {g["plc_code"] for g in status["groups"] if g.get("cycles", 0) >= 1}
    return status if len(cycling) >= count else None


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of every core, from /proc/stat: what the whole machine did, other tenants too."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def run_size(count: int, seconds: float, warmup: float, per_process: int = 1) -> dict[str, Any]:
    base, env = new_plant("many-", count)
    sup = Supervisor(env)
    launched = time.monotonic()
    sup.pollers_conf = grouped_pollers(env, count, per_process) if per_process > 1 else None
    sup.start()
    try:
        first = wait_for(lambda: every_poller_polling(env, count), 60 + 3 * count, interval=0.2,
                         what=f"a cycle of each of {count} pollers")
        all_polling_s = time.monotonic() - launched
        time.sleep(warmup)
        pids = stage_pids(sup)
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        t0, wall0, rows0, busy0 = time.monotonic(), int(time.time() * 1000), stored_rows(env), machine_busy()
        before = api(env, "/api/polling/status")
        time.sleep(seconds)
        t1, wall1, rows1, busy1 = time.monotonic(), int(time.time() * 1000), stored_rows(env), machine_busy()
        cpu = {name: 100 * (cpu_seconds(pid) - cpu0[name]) / (t1 - t0) for name, pid in pids.items()}
        rss = {name: rss_bytes(pid) for name, pid in pids.items()}
        after = api(env, "/api/polling/status")
        buffer = api(env, "/api/buffer/status")
        # what was read in the window is committed a moment later
        time.sleep(3)
        late = lateness_from_historian(env, wall0, wall1 - 1000)
    finally:
        stop_plant(sup, env)
        shutil.rmtree(base, ignore_errors=True)
    pollers = {n: v for n, v in cpu.items() if n.startswith("poller:")}
    poller_rss = [rss[n] for n in pollers]
    groups0 = {g["plc_code"]: g for g in before["groups"]}
    groups1 = {g["plc_code"]: g for g in after["groups"]}

    def grown(key: str) -> int:
        return sum(g.get(key, 0) - groups0.get(plc, {}).get(key, 0) for plc, g in groups1.items())

    reported = [g["lateness_p99_ms"] for g in groups1.values() if g.get("lateness_p99_ms") is not None]
    return {
        "plcs": count, "per_process": per_process, "processes": len(pollers),
        "machine_pct": 100 * (os.cpu_count() or 1) * (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
        "offered": count * TAGS * 1000 / INTERVAL_MS, "stored": (rows1 - rows0) / (t1 - t0),
        "all_polling_s": all_polling_s,
        "polling_after_s": sorted(p.get("process", {}).get("polling_after_s") or 0.0 for p in first["pollers"]),
        "late_p99": p99(late), "late_p50": statistics.median(late) if late else None, "late_max": max(late or [0]),
        "reported_p99_median": round(statistics.median(reported), 1) if reported else None,
        "reported_p99_worst": max(reported or [0]),
        "cpu": cpu, "rss": rss, "pollers_cpu": sum(pollers.values()), "pollers_rss": sum(poller_rss),
        "poller_cpu_mean": statistics.mean(pollers.values()), "poller_rss_mean": statistics.mean(poller_rss),
        "poller_rss_max": max(poller_rss), "overruns": grown("overruns"), "missed": grown("deadlines_missed"),
        "errors": grown("errors"), "buffer_pct": buffer["utilization_pct"], "overflow": buffer["overflow_count"],
        "queue": after["queue"]["size"], "dropped": after["queue"]["dropped"],
    }


def saturation(r: dict[str, Any]) -> str:
    stages = {n: c for n, c in r["cpu"].items() if not n.startswith("poller:")}
    stages["pollers (together)"] = r["pollers_cpu"]
    busiest = max(stages.items(), key=lambda item: item[1])
    plant = sum(r["cpu"].values())
    cores = 100 * (os.cpu_count() or 1)
    symptoms = []
    if r["stored"] < 0.97 * r["offered"]:
        symptoms.append(f"stored {r['stored'] / r['offered']:.0%} of the offered rate")
    if r["overruns"] or r["missed"]:
        symptoms.append(f"{r['overruns']} overruns, {r['missed']} missed deadlines")
    if r["buffer_pct"] >= 50 or r["overflow"]:
        symptoms.append(f"buffer {r['buffer_pct']:.0f}% full, {r['overflow']} dropped")
    if r["queue"] or r["dropped"]:
        symptoms.append(f"poller queues {r['queue']}, dropped {r['dropped']}")
    if r["late_p99"] is not None and r["late_p99"] >= 20:
        symptoms.append(f"lateness p99 {r['late_p99']:.0f} ms")
    load = (f"plant {plant:.0f}% of {cores}% (machine, other tenants too: {r['machine_pct']:.0f}%); busiest: "
            f"{busiest[0]} {busiest[1]:.0f}%")
    return (f"keeps up ({load})" if not symptoms else f"saturating ({load}): " + "; ".join(symptoms))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plcs", default="25,50,100", help="plant sizes, comma-separated")
    parser.add_argument("--seconds", type=float, default=30.0, help="measuring window per size")
    parser.add_argument("--warmup", type=float, default=10.0, help="after every poller is polling")
    parser.add_argument("--per-process", default="1", help="PLCs per poller process, comma-separated to compare "
                        "(1: the design, python -m services.poller; K>1: the prototype bench/poller_group.py)")
    args = parser.parse_args()
    # as `make run` does (`make bytecode`): stages start from compiled modules
    subprocess.run([sys.executable, "-m", "compileall", "-q", "common", "services"], check=True, capture_output=True)
    print(f"PLCs x 1 group x {TAGS} INT16 tags at {INTERVAL_MS} ms (virtual-plc, binary 3E, 1 connection each), "
          f"SQLite historian, {args.seconds:.0f} s window after {args.warmup:.0f} s warm-up, {os.cpu_count()} cores")
    results = []
    sizes = [(int(n), int(k)) for n in args.plcs.split(",") for k in args.per_process.split(",")]
    for count, per_process in sizes:
        r = run_size(count, args.seconds, args.warmup, per_process)
        results.append(r)
        after = r["polling_after_s"]
        print(f"\n{count} PLCs, {per_process} per poller process ({r['processes']} processes): offered "
              f"{r['offered']:,.0f} values/s, stored {r['stored']:,.0f} values/s; every poller "
              f"polling {r['all_polling_s']:.1f} s after supervisord started (each poller: median "
              f"{statistics.median(after):.2f} s, worst {after[-1]:.2f} s from its exec)")
        print(f"  lateness from the historian: p50 {r['late_p50']:.1f} ms, p99 {r['late_p99']:.1f} ms, max "
              f"{r['late_max']:.0f} ms; as the pollers report it (p99 of their last 1,000 cycles, start included): "
              f"median {r['reported_p99_median']} ms, worst {r['reported_p99_worst']} ms")
        print(f"  pollers together {r['pollers_cpu']:.0f}% CPU, {r['pollers_rss'] / 2**20:,.0f} MiB; per process "
              f"{r['poller_cpu_mean']:.1f}% CPU, {r['poller_rss_mean'] / 2**20:.1f} MiB (max "
              f"{r['poller_rss_max'] / 2**20:.1f})")
        print("  " + ", ".join(f"{n} {r['cpu'][n]:.0f}% {r['rss'][n] / 2**20:.0f} MiB" for n in sorted(r["cpu"])
                               if not n.startswith("poller:")))
        print(f"  errors {r['errors']}, overruns {r['overruns']}, missed {r['missed']}, buffer {r['buffer_pct']}%")
        print(f"  -> {saturation(r)}")
    print("\n| PLCs (per process) | offered values/s | stored values/s | all polling after "
          "| lateness p99 (historian / pollers' worst) | pollers CPU | pollers RSS | per poller process CPU / RSS "
          "| buffer, writer, simulator CPU | first to saturate |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        c = r["cpu"]
        print(f"| {r['plcs']} ({r['per_process']}) | {r['offered']:,.0f} | {r['stored']:,.0f} | "
              f"{r['all_polling_s']:.1f} s | "
              f"{r['late_p99']:.1f} ms / {r['reported_p99_worst']} ms | {r['pollers_cpu']:.0f}% | "
              f"{r['pollers_rss'] / 2**20:,.0f} MiB | {r['poller_cpu_mean']:.1f}% / {r['poller_rss_mean'] / 2**20:.1f} "
              f"MiB | {c.get('buffer', 0):.0f}%, {c.get('writer', 0):.0f}%, {c.get('simulator', 0):.0f}% | "
              f"{saturation(r)} |")


if __name__ == "__main__":
    main()
