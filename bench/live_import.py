"""Benchmark: a live ``scada db import`` on the running sample plant -- how fast the plant follows, and
what the PLCs and groups the import does not touch notice.

    .venv/bin/python -m bench.live_import [--rounds 6]   (from the project directory)

The sample plant under supervisord (simulator, 3 pollers, buffer, writer, gateway) on temporary
directories and free ports. Each round imports, with ``--prune``, one of two plants in turn: (a) a PLC
added (20 tags at 1 s), a tag of KRCWO12ELOA101's FAST_1S moved to another address, KRCWO12ELOA102's
MID_5S from 5 s to 1 s; (b) the same PLC removed and both changes undone. Measured from the moment
``scada db import`` starts, with a tap on the buffer's live PUB and the gateway's API polled every
0.1 s: the import command itself; the first cycle read with the moved tag (the reload); the first
MID_5S cycle on its new interval; the new PLC's first all-GOOD cycle; the removed PLC gone from
/api/values/latest, /api/polling/status and /metrics. Over the whole run, for the groups no import
changes (every group of KRCWO12WELD201, FAST_1S and SLOW_10S of the others): the largest gap between
two cycles against the interval, and whether any process but the added and removed pollers restarted.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common.times import now_ms
from tests.helpers import free_port, scada, wait_for
from tests.live_plant import CycleTap, copied_group, exported, plc_row, rewrite, shown_anywhere
from tests.supervisor_run import running_plant

A, B, C, NEW = "KRCWO12ELOA101", "KRCWO12ELOA102", "KRCWO12WELD201", "KRCWO12ELOA103"
UNTOUCHED = [(C, g) for g in ("FAST_1S", "MID_5S", "SLOW_10S")] + [(p, g) for p in (A, B) for g in ("SLOW_10S",)] + [
    (B, "FAST_1S")]
INTERVAL_MS = {"FAST_1S": 1000, "MID_5S": 5000, "SLOW_10S": 10000}


def plants(env: dict[str, str]) -> tuple[Path, Path]:
    """(a) the changed plant, (b) the plant as it started (the store exported before any change)."""
    original = exported(env)
    changed = exported(env)
    group, tags = copied_group(changed, (A, "FAST_1S"), NEW)
    rewrite(changed / "plcs.csv", lambda r: r, [plc_row(NEW, free_port())])
    rewrite(changed / "polling_groups.csv", lambda r: {**r, "interval_ms": "1000"}
            if (r["plc_code"], r["group_name"]) == (B, "MID_5S") else r, [group])
    rewrite(changed / "tags.csv", lambda r: {**r, "address": "D1999"}
            if (r["plc_code"], r["tag_name"]) == (A, "CNT_001") else r, tags)
    return changed, original


def seconds_until(condition: Callable[[], Any], t0: int, timeout: float = 30) -> float:
    wait_for(condition, timeout, interval=0.1)
    return (now_ms() - t0) / 1000


def p50_max(values: list[float]) -> str:
    return f"p50 {statistics.median(values):5.2f} s  max {max(values):5.2f} s  (n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=6, help="imports, alternating add and remove (even)")
    args = parser.parse_args()
    figures: dict[str, list[float]] = {k: [] for k in ("import", "reload", "interval", "new PLC", "removed PLC")}
    with running_plant() as (sup, env):
        sup.wait_running(60)
        tap = CycleTap(env)
        wait_for(lambda: tap.ts(B, "MID_5S") and tap.ts(C, "SLOW_10S"), 60, what="steady polling")
        started = now_ms()
        before = sup.pids_by_name()
        changed, original = plants(env)
        for round_ in range(args.rounds):
            adding = round_ % 2 == 0
            t0 = now_ms()
            scada(env, "db", "import", "--prune", str(changed if adding else original))
            figures["import"].append((now_ms() - t0) / 1000)
            moved = "D1999" if adding else "D1"

            def read_moved(t0: int = t0, moved: str = moved) -> bool:
                return any(ts > t0 and moved in addresses for ts, addresses, _ in tap.cycles[(A, "FAST_1S")])

            def new_grid(t0: int = t0) -> bool:
                return len(tap.ts(B, "MID_5S", t0)) >= 2

            def new_plc_good(t0: int = t0) -> bool:
                return any(ts > t0 and good for ts, _, good in tap.cycles.get((NEW, "FAST_1S"), []))

            figures["reload"].append(seconds_until(read_moved, t0))
            if adding:
                figures["interval"].append(seconds_until(new_grid, t0) - 1.0)
                figures["new PLC"].append(seconds_until(new_plc_good, t0))
            else:
                figures["removed PLC"].append(seconds_until(lambda: not shown_anywhere(env, NEW), t0))
            time.sleep(3)  # let the plant run a moment as it is now
        after = sup.pids_by_name()
        tap.close()
    restarted = sorted(n for n in before if n in after and after[n] != before[n])
    print(f"live import on the sample plant, {args.rounds} imports (--prune), times from the start of the import:")
    print(f"  scada db import (commit, supervisord told)   {p50_max(figures['import'])}")
    print(f"  first cycle with a moved tag (reload)        {p50_max(figures['reload'])}")
    print(f"  MID_5S 5 s -> 1 s: first cycle on new grid   {p50_max(figures['interval'])}")
    print(f"  added PLC: first all-GOOD cycle              {p50_max(figures['new PLC'])}")
    print(f"  removed PLC gone from latest/status/metrics  {p50_max(figures['removed PLC'])}")
    print("  groups no import changed: largest gap between cycles / interval")
    for plc, group in UNTOUCHED:
        ts = [t for t in tap.ts(plc, group) if t >= started]
        gap = max(b - a for a, b in itertools.pairwise(ts))
        print(f"    {plc} {group:<9} {gap / 1000:6.2f} s / {INTERVAL_MS[group] / 1000:4.1f} s  ({len(ts)} cycles)")
    print(f"  processes restarted besides the added and removed poller: {restarted or 'none'}")


if __name__ == "__main__":
    main()
