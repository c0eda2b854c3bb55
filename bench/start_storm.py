"""The start storm: what a plant of many PLCs does in its first minute under supervisord.

    flock /tmp/jsscada-suite.lock .venv/bin/python -m bench.start_storm [--plcs 100] [--after 20] [--busy 2]

The plant of ``bench.many_plcs`` (N PLCs x one FIXED group of 200 INT16 tags at 1 s, one simulator,
one poller process per PLC, buffer, writer into SQLite, gateway) is started by supervisord as ``make run``
starts it, and watched twice a second until every poller polls and ``--after`` seconds more:

- supervisord's view: programs RUNNING (and since when), the pollers among them;
- the gateway's: pollers with a cycle, the buffer's ring (values held, dropped by overflow), values
  the writer committed;
- each stage's own log line saying it is ready (the buffer's sockets bound, the writer leasing, each
  poller polling), against supervisord's launch.

``--busy N`` keeps N more processes spinning on the CPU for the whole run: the rest of a busy host (other
tenants here; at a plant, whatever else boots with it), which makes the storm longer.

Then the pollers are stopped and ``scada account`` says where every value polled since the launch went:
the independent count (the ledger against the historian) of what the start stored, dropped or lost.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.many_plcs import api, every_poller_polling, new_plant, stop_plant
from tests.helpers import scada
from tests.supervisor_run import Supervisor

READY = {  # the log line by which each stage says it is ready (its own words)
    "buffer": re.compile(r"ingest \S+, live \S+, leases"),
    "writer": re.compile(r"leasing from"),
    "poller": re.compile(r"polling [\d.]+ s after the process started"),
}
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")


def ready_at(log: Path, pattern: re.Pattern[str]) -> float | None:
    """The wall-clock time (s) of the first line of ``log`` matching ``pattern`` (logs are in local time)."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        if pattern.search(line) and (m := STAMP.match(line)):
            return datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return None


def look(sup: Supervisor, env: dict[str, str], count: int, launched: float) -> dict[str, Any]:
    row: dict[str, Any] = {"t": time.time() - launched}
    try:
        info = sup.rpc.supervisor.getAllProcessInfo()
        row["running"] = sum(p["statename"] == "RUNNING" for p in info)
        row["pollers_running"] = sum(p["statename"] == "RUNNING" for p in info if p["name"].startswith("poller-"))
    except OSError:
        row["running"] = row["pollers_running"] = None
    try:
        status = api(env, "/api/polling/status")
        row["polling"] = len({g["plc_code"] for g in status["groups"] if g.get("cycles", 0) >= 1})
    except (OSError, ValueError):
        row["polling"] = None
    for path, keys in (("/api/buffer/status", ("current_size", "overflow_count", "received_values")),
                       ("/api/buffer/writer/metrics", ("values_written_total",))):
        try:
            body = api(env, path)
            row.update({k: body.get(k) for k in keys})
        except (OSError, ValueError):
            pass
    return row


def run(count: int, after: float, busy: int) -> None:
    base, env = new_plant("storm-", count)
    sup = Supervisor(env)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    launched = time.time()
    sup.start()
    rows: list[dict[str, Any]] = []
    all_polling: float | None = None
    try:
        deadline = time.monotonic() + 120 + 2 * count
        while time.monotonic() < deadline:
            rows.append(look(sup, env, count, launched))
            if all_polling is None and every_poller_polling(env, count):
                all_polling = time.time() - launched
                deadline = time.monotonic() + after
            time.sleep(0.5)
        logs = Path(env["SCADA_LOG_DIR"])
        ready = {stage: ready_at(logs / f"{stage}.log", READY[stage]) for stage in ("buffer", "writer")}
        pollers = sorted(t - launched for f in logs.glob("poller-*.log")
                         if (t := ready_at(f, READY["poller"])) is not None)
        scada(env, "pollers", "stop", check=False, timeout=120)  # nothing more is polled; what was is counted
        time.sleep(5)  # the writer commits what the buffer holds
        accounted = scada(env, "account", "--since",
                          datetime.fromtimestamp(launched - 5).astimezone().isoformat(), check=False)
    finally:
        stop_plant(sup, env)
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    print(f"{count} PLCs ({busy} processes spinning beside): every poller polling "
          f"{all_polling or float('nan'):.1f} s after supervisord was launched")
    for stage, t in ready.items():
        print(f"  {stage} ready (its log) {t - launched:6.1f} s" if t else f"  {stage}: no ready line")
    if pollers:
        print(f"  pollers polling (their logs): first {pollers[0]:.1f} s, median {statistics.median(pollers):.1f} s, "
              f"last {pollers[-1]:.1f} s ({len(pollers)} of {count})")
    print("\n     t  programs RUNNING (pollers)  polling  ring held  ring dropped  received  written")
    shown = -10.0
    for r in rows:
        if r["t"] - shown < 2 and r is not rows[-1]:
            continue
        shown = r["t"]
        print(f"{r['t']:6.1f}  {r.get('running')!s:>8} ({r.get('pollers_running')!s:>4})"
              f"{r.get('polling')!s:>17}  {r.get('current_size')!s:>9}  {r.get('overflow_count')!s:>12}"
              f"  {r.get('received_values')!s:>8}  {r.get('values_written_total')!s:>7}")
    print("\nscada account since the launch:\n" + accounted.stdout + accounted.stderr)
    out = base.parent / f"start_storm_{count}.json"
    out.write_text(json.dumps({"rows": rows, "ready": ready, "pollers": pollers}), encoding="utf-8")
    shutil.rmtree(base / "data", ignore_errors=True)
    print(f"(timeline in {out}; the stages' logs in {base / 'logs'})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plcs", type=int, default=100)
    parser.add_argument("--after", type=float, default=20.0, help="seconds to watch once every poller polls")
    parser.add_argument("--busy", type=int, default=0, help="processes spinning on the CPU meanwhile")
    args = parser.parse_args()
    run(args.plcs, args.after, args.busy)


if __name__ == "__main__":
    main()
