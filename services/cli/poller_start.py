"""A poller's turn in its host's start, then the poller itself: what supervisord runs for each PLC.

    python -m services.cli.poller_start --plc CODE --run-dir DIR --store FILE

Strategy: supervisord starts every program of its file in the same instant
(``priority`` orders the forks, it waits for none of them), so at a plant's
start -- ``make run``, or the host coming back after a power cut -- a
hundred pollers import at once beside the buffer and the writer, and on two
cores the writer gets a hundredth of them while the first pollers already
send (docs/BENCHMARKS.md, "The start storm"). Here, with nothing but the
standard library, each poller waits for its turn and then becomes the
poller (``os.execv``: the same pid, so supervisord and the operator's
signals reach the poller itself). The first ALONGSIDE pollers in the
plant's PLC order (the config store's active PLCs, sorted as the pollers'
phases are) start at once, beside the central stages; each of the others
waits

1. on a host that runs the central stages (``SCADA_CENTRAL=true``), until
   the buffer and the writer hold their stage locks (they have imported and
   are opening their sockets), at most CENTRAL_WAIT_S;
2. until the poller ALONGSIDE places before it holds its stage lock (it has
   imported and is starting), at most AHEAD_WAIT_S;

so that no more than ALONGSIDE pollers import at a time, whatever the
host's speed, and the writer keeps its share of the cores. A plant of a
few PLCs starts as before; a poller started alone (a crash, a PLC added,
an operator's restart) finds both done and starts at once. The waits are
bounded, so a central stage that will not start, or a PLC ahead that runs
elsewhere, delays a poller and never stops it; the poller then queues what
it polls until the buffer takes it. Waiting is not dropping: nothing is
polled yet.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import time
from pathlib import Path

from common.stage_lock import is_held

log = logging.getLogger("poller_start")

CENTRAL = ("buffer", "writer")  # the data's path; the gateway is not waited for
CENTRAL_WAIT_S = 60.0
AHEAD_WAIT_S = 5.0
LOOK_EVERY_S = 0.1
#: pollers importing at a time: enough to keep the cores busy, few enough that the writer keeps its share
ALONGSIDE = 2 * (os.cpu_count() or 1)


def plant_codes(store: Path) -> list[str]:
    """The active PLCs of the config store, sorted; empty when it cannot be read (then nobody waits)."""
    try:
        conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
        try:
            return sorted(r[0] for r in conn.execute("SELECT plc_code FROM plcs WHERE is_active = 1"))
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def ahead_of(code: str, codes: list[str], alongside: int = ALONGSIDE) -> str | None:
    """The poller whose start this one waits for: ``alongside`` places before it, or None."""
    if code not in codes:
        return None
    place = codes.index(code)
    return codes[place - alongside] if place >= alongside else None


def wait_until(ready: list[str], run_dir: Path, bound_s: float) -> float:
    """Wait until every stage of ``ready`` holds its lock, at most ``bound_s``; returns the seconds waited."""
    started = time.monotonic()
    while not all(is_held(run_dir, stage) for stage in ready):
        if time.monotonic() - started >= bound_s:
            log.warning("started without waiting longer for %s (%.0f s)", " and ".join(ready), bound_s)
            break
        time.sleep(LOOK_EVERY_S)
    return time.monotonic() - started


def take_turn(code: str, run_dir: Path, store: Path, central: bool) -> str:
    """Wait for this poller's turn; returns what it waited for, for the log."""
    ahead = ahead_of(code, plant_codes(store))
    if ahead is None:
        return f"for nothing (one of the first {ALONGSIDE} PLCs)"
    waited = []
    if central:
        waited.append(f"{wait_until(list(CENTRAL), run_dir, CENTRAL_WAIT_S):.1f} s for the buffer and writer")
    waited.append(f"{wait_until([f'poller_{ahead}'], run_dir, AHEAD_WAIT_S):.1f} s for {ahead} to start")
    return ", ".join(waited)


def main(argv: list[str]) -> None:
    options = dict(zip(argv[::2], argv[1::2], strict=False))
    if len(argv) != 6 or set(options) != {"--plc", "--run-dir", "--store"}:
        raise SystemExit("usage: python -m services.cli.poller_start --plc CODE --run-dir DIR --store FILE")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s %(levelname)s poller.{options['--plc']}[%(process)d] %(name)s: "
                        "%(message)s")
    code = options["--plc"]
    waited = take_turn(code, Path(options["--run-dir"]), Path(options["--store"]),
                       os.environ.get("SCADA_CENTRAL", "false").lower() == "true")
    log.info("%s waited %s; starting the poller", code, waited)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "services.poller", "--plc", code])


if __name__ == "__main__":
    main(sys.argv[1:])
