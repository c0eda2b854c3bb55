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
signals reach the poller itself):

1. on a host that runs the central stages (``SCADA_CENTRAL=true``), every
   poller but the first ALONGSIDE of the plant's PLC order (the config
   store's active PLCs, sorted) waits until the buffer and the writer hold
   their stage locks (they have imported and are opening their sockets), at
   most CENTRAL_WAIT_S;
2. then it takes one of ALONGSIDE start turns (``run/start_turn_<n>``, each
   an flock) and holds it until it has imported: a small process forked off
   before the exec keeps the turn until the poller holds its own stage lock
   (or has died, or TURN_HOLD_S passed), so no more than ALONGSIDE pollers
   import at a time, whatever the host's speed, and the writer keeps its
   share of the cores. A turn is waited for at most TURN_WAIT_S.

A plant of a few PLCs starts as before; a poller started alone (a crash, a
PLC added, an operator's restart) finds a free turn and the central stages
up, and starts at once. Every wait is bounded, so a central stage that will
not start, or a poller that hangs before importing, delays the others and
never stops them; a poller then queues what it polls until the buffer takes
it. Waiting is not dropping: nothing is polled yet.
"""

from __future__ import annotations

import fcntl
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
TURN_WAIT_S = 300.0
TURN_HOLD_S = 120.0
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


def wait_until(ready: list[str], run_dir: Path, bound_s: float) -> float:
    """Wait until every stage of ``ready`` holds its lock, at most ``bound_s``; returns the seconds waited."""
    started = time.monotonic()
    while not all(is_held(run_dir, stage) for stage in ready):
        if time.monotonic() - started >= bound_s:
            log.warning("started without waiting longer for %s (%.0f s)", " and ".join(ready), bound_s)
            break
        time.sleep(LOOK_EVERY_S)
    return time.monotonic() - started


def take_turn(run_dir: Path, turns: int = ALONGSIDE, bound_s: float = TURN_WAIT_S) -> tuple[int | None, float]:
    """One of ``turns`` start turns, as an open file descriptor holding its flock (None after ``bound_s``
    without a free one), and the seconds waited."""
    started = time.monotonic()
    fds: list[int] = []
    try:
        for n in range(turns):
            fds.append(os.open(run_dir / f"start_turn_{n}", os.O_RDWR | os.O_CREAT, 0o600))
    except OSError as error:  # no run directory, a full disk: start, without a turn
        log.warning("started without a start turn: %s", error)
        for fd in fds:
            os.close(fd)
        return None, 0.0
    try:
        while True:
            for fd in fds:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                fds.remove(fd)
                return fd, time.monotonic() - started
            if time.monotonic() - started >= bound_s:
                log.warning("started without a start turn: none came free in %.0f s", bound_s)
                return None, time.monotonic() - started
            time.sleep(LOOK_EVERY_S)
    finally:
        for fd in fds:
            os.close(fd)


def hand_over(turn: int, run_dir: Path, code: str, poller_pid: int, hold_s: float = TURN_HOLD_S) -> None:
    """Keep ``turn`` in a process of its own (forked twice, so that nobody has to wait for it) until the
    poller ``poller_pid`` holds its stage lock, has died, or ``hold_s`` passed; this process goes on to
    become the poller, whose copy of the turn closes at the exec."""
    try:
        middle = os.fork()
    except OSError as error:  # no process to spare: the turn is given back at once
        log.warning("start turn given back at once: %s", error)
        return
    if middle != 0:
        os.waitpid(middle, 0)  # it exits at once, leaving the keeper to init
        return
    try:
        if os.fork() != 0:
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)  # the poller's log pipe is the poller's alone
        for std in (0, 1, 2):
            os.dup2(null, std)
        deadline = time.monotonic() + hold_s
        while (time.monotonic() < deadline and not is_held(run_dir, f"poller_{code}")
               and _running(poller_pid)):
            time.sleep(LOOK_EVERY_S)
    finally:
        os.close(turn)
        os._exit(0)


def _running(pid: int) -> bool:
    """Alive and not a zombie (a poller that ended stays one until supervisord has waited for it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def wait_for_turn(code: str, run_dir: Path, store: Path, central: bool) -> tuple[int | None, str]:
    """Wait for this poller's turn: the turn's descriptor (None: started without one) and what it waited for."""
    waited = []
    codes = plant_codes(store)
    if central and code in codes and codes.index(code) >= ALONGSIDE:
        waited.append(f"{wait_until(list(CENTRAL), run_dir, CENTRAL_WAIT_S):.1f} s for the buffer and writer")
    turn, seconds = take_turn(run_dir)
    waited.append(f"{seconds:.1f} s for a start turn")
    return turn, ", ".join(waited)


def main(argv: list[str]) -> None:
    options = dict(zip(argv[::2], argv[1::2], strict=False))
    if len(argv) != 6 or set(options) != {"--plc", "--run-dir", "--store"}:
        raise SystemExit("usage: python -m services.cli.poller_start --plc CODE --run-dir DIR --store FILE")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s %(levelname)s poller.{options['--plc']}[%(process)d] %(name)s: "
                        "%(message)s")
    code, run_dir = options["--plc"], Path(options["--run-dir"])
    turn, waited = wait_for_turn(code, run_dir, Path(options["--store"]),
                                 os.environ.get("SCADA_CENTRAL", "false").lower() == "true")
    log.info("%s waited %s; starting the poller", code, waited)
    sys.stderr.flush()
    if turn is not None:
        hand_over(turn, run_dir, code, os.getpid())
        os.close(turn)
    os.execv(sys.executable, [sys.executable, "-m", "services.poller", "--plc", code])


if __name__ == "__main__":
    main(sys.argv[1:])
