"""What a deadband saves on the sample plant, and proof that it loses nothing.

    flock /tmp/jsscada-suite.lock .venv/bin/python -m bench.deadband [--seconds 40] [--warmup 8]

The sample plant (three simulated PLCs, 1,410 tags) runs twice under
supervisord into the SQLite historian: once as shipped (no deadband), once
with its slowly changing tags given one (DEADBANDS: the constants and the
production counters; every group keeps the default maximum interval,
60 s, model.DEFAULT_MAX_INTERVAL_MS). For each run, over the
same window after a warm-up, it prints:

- values polled per second and values stored per second, from ``scada
  account`` (the ledger and the historian, per cycle), and stored rows per
  second counted in TAG_DATA independently;
- suppressed per second (the account's own line) and lost, which must be 0:
  the pollers are stopped after the window and the account read once nothing
  of the window is in flight.

The factor printed is stored values/s without the deadband over stored
values/s with it.
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from common.times import iso_ms
from tests.helpers import scada, wait_for
from tests.supervisor_run import running_plant, running_prepared_plant

#: tag name prefix -> deadband (engineering units): the sample plant's slowly changing tags, the constants
#: (any change is stored) and the production counters (+2 counts/s from the simulator, read every second).
#: Its sines, ramps and toggling bits move more than any useful band at every read.
DEADBANDS = {"CONST_": 0.0, "CNT_": 10.0}


def give_deadbands(folder: Path) -> int:
    """Add the deadband column to ``folder``/tags.csv, set for the tags of DEADBANDS; how many got one."""
    path = folder / "tags.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    given = 0
    for row in rows:
        band = next((b for prefix, b in DEADBANDS.items() if row["tag_name"].startswith(prefix)), None)
        row["deadband"] = "" if band is None else str(band)
        given += band is not None
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return given


def stored_rows(env: dict[str, str], since_ms: int, until_ms: int) -> int:
    """Rows in TAG_DATA read in [since, until), counted by SQL, apart from the account."""
    with sqlite3.connect(Path(env["SCADA_DATA_DIR"]) / "tag_data.db", timeout=10) as db:
        since, until = iso_ms(since_ms), iso_ms(until_ms)
        try:  # ts as the view shows it: ISO text, or Unix ms in a compact layout
            kind = db.execute("SELECT typeof(ts) FROM TAG_DATA LIMIT 1").fetchone()
            if kind and kind[0] == "integer":
                return int(db.execute("SELECT count(*) FROM TAG_DATA WHERE ts >= ? AND ts < ?",
                                      (since_ms, until_ms)).fetchone()[0])
            return int(db.execute("SELECT count(*) FROM TAG_DATA WHERE ts >= ? AND ts < ?",
                                  (since, until)).fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def account(env: dict[str, str], since_ms: int, until_ms: int) -> dict[str, Any]:
    result = scada(env, "account", "--since", iso_ms(since_ms), "--until", iso_ms(until_ms), "--json", check=False)
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def run(deadband: bool, seconds: float, warmup: float) -> dict[str, Any]:
    given = [0]

    def prepare(folder: Path) -> None:
        given[0] = give_deadbands(folder)

    with (running_prepared_plant(prepare) if deadband else running_plant()) as (sup, env):
        sup.wait_running(60)
        wait_for(lambda: (Path(env["SCADA_DATA_DIR"]) / "tag_data.db").exists(), 60, what="the historian")
        time.sleep(warmup)
        since = int(time.time() * 1000)
        time.sleep(seconds)
        until = int(time.time() * 1000)
        time.sleep(1.0)
        sup.ctl("stop", *sup.pollers())  # nothing more is polled; what was, drains
        settled = wait_for(lambda: (lambda a: a if a["in_flight"] == 0 else None)(account(env, since, until)), 60,
                           interval=1.0, what="nothing of the window in flight")
        rows = stored_rows(env, since, until)
    span = (until - since) / 1000
    return {"tags_with_deadband": given[0], "polled_per_s": settled["polled"] / span,
            "stored_per_s": settled["stored"] / span, "rows_per_s": rows / span,
            "suppressed_per_s": settled["suppressed"] / span, "lost": settled["lost"], "cycles": settled["cycles"],
            "account": settled}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--warmup", type=float, default=8.0)
    args = parser.parse_args()
    results = {name: run(name == "deadband", args.seconds, args.warmup) for name in ("none", "deadband")}
    print(f"sample plant, {args.seconds:.0f} s window after {args.warmup:.0f} s warm-up; deadbands {DEADBANDS}")
    print(f"{'run':<10}{'tags w/ band':>13}{'polled/s':>10}{'stored/s':>10}{'rows/s':>9}{'suppr./s':>10}{'lost':>6}")
    for name, r in results.items():
        print(f"{name:<10}{r['tags_with_deadband']:>13}{r['polled_per_s']:>10.1f}{r['stored_per_s']:>10.1f}"
              f"{r['rows_per_s']:>9.1f}{r['suppressed_per_s']:>10.1f}{r['lost']:>6}")
    factor = results["none"]["stored_per_s"] / results["deadband"]["stored_per_s"]
    print(f"stored values/s fall by a factor of {factor:.2f} "
          f"({results['none']['stored_per_s']:.0f} -> {results['deadband']['stored_per_s']:.0f})")
    print("account of the deadband run:\n" + json.dumps(results["deadband"]["account"], indent=1))
    if any(r["lost"] for r in results.values()):
        raise SystemExit("values were lost")


if __name__ == "__main__":
    main()
