"""Chaos: every stage killed and restarted under steady load, the historian away, the PLCs away; nothing lost.

    .venv/bin/python -m bench.chaos [--rounds 3] [--outage 20]     (the long run; make bench runs it)

The sample plant runs under a real supervisord into the SQLite historian.
Scenarios, one after the other, each a window of time:

- each stage (a poller, the buffer, the writer, the gateway) killed with
  SIGKILL, then with SIGTERM, and restarted by supervisord (autorestart);
- the historian locked by another process for longer than the writer's
  retries (its batches go to backup files), then released (they are replayed);
- the simulator (every PLC) stopped and started: the pollers store BAD values
  for the downtime, which is the PLC's, not loss;
- the buffer stopped longer than a poller's send queue holds (DATA_QUEUE_SIZE
  is set small for this): the oldest cycles are dropped at the queue, counted;
- the writer stopped until the buffer's ring (BUFFER_MAX_SIZE, set small)
  overflows: the oldest values are dropped by the buffer, counted;
- (the long run only) poison frames pushed to the buffer's ingest beside the
  plant (tests/e2e/test_poison_frames.py): refused or stored BAD, no stage
  dies, the real values all stored;
- (the long run only) supervisord killed with SIGKILL under load, then the
  ``make run`` steps: ``scada strays --stop`` stops the stages it left, and a
  new supervisord starts one copy of each;
- the data disk (SCADA_DATA_DIR on a tmpfs the run mounts: journals, ledger,
  historian) filled and kept full for ``--disk-full`` seconds, then freed: no
  stage stops; the pollers' queues, holding cycles the buffer cannot confirm
  meanwhile, may drop their oldest past twice DATA_QUEUE_SIZE (counted).
  Where mounting is refused (not root), this scenario is left out, saying why.

Then the pollers are stopped, the pipeline drains, and ``scada account``
answers for each window: polled, stored, backed up, in flight, dropped, lost.
Lost must be 0 everywhere; drops may appear only in the two scenarios made
for them, and only of their kind.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import stage_lock
from common.times import iso_ms, now_ms
from tests.disk_full import DiskFiller, mount_refused
from tests.e2e.test_poison_frames import send_poison
from tests.helpers import remove_short_tmps, scada, short_tmp, short_tmps, wait_for
from tests.supervisor_run import Supervisor, running_plant

SAMPLE_VALUES_PER_S = 552  # the sample plant's FIXED groups: 3 x (150/1 s + 120/5 s + 100/10 s)
QUEUE_CYCLES = 12  # DATA_QUEUE_SIZE for the run: ~9 s of a sample PLC's cycles


@dataclass
class Scenario:
    name: str
    since_ms: int
    until_ms: int = 0
    allowed: tuple[str, ...] = ()  # the drop counters this scenario may raise
    account: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        a = self.account
        drops_ok = all(a[k] == 0 for k in ("queue_dropped", "overflow_dropped") if k not in self.allowed)
        return bool(a) and a["lost"] == 0 and a["in_flight"] == 0 and drops_ok and a["polled"] > 0


def _pid(sup: Supervisor, program: str) -> int:
    group, _, name = program.rpartition(":")
    info = sup.rpc.supervisor.getProcessInfo(f"{group}:{name}" if group else name)
    return int(info["pid"])


def restart_by_signal(sup: Supervisor, program: str, sig: signal.Signals) -> None:
    """Signal the program's process and wait for supervisord to have it running again, under a new pid."""
    old = _pid(sup, program)
    os.kill(old, sig)

    def again() -> bool:
        try:
            info = sup.rpc.supervisor.getProcessInfo(program)
        except OSError:
            return False
        return bool(info["statename"] == "RUNNING" and info["pid"] not in (0, old))

    wait_for(again, 30, interval=0.2, what=f"{program} restarted after {sig.name}")


def backup_folder(env: dict[str, str]) -> Path:
    """Where the writer keeps its backup files (Settings.backup_dir)."""
    return Path(env.get("BACKUP_FILE_PATH") or Path(env["SCADA_DATA_DIR"]) / "backup")


def backup_files(env: dict[str, str], replayed_only: bool = False) -> int:
    """Backup files the writer has written so far (replayed or not), or only those replayed."""
    folder = backup_folder(env)
    replayed = len(list((folder / "replayed").glob("backup_*.csv")))
    return replayed if replayed_only else replayed + len(list(folder.glob("backup_*.csv")))


def lock_historian(env: dict[str, str], seconds: float) -> None:
    """Another process holds the historian's write lock: the writer's batches fail past their retries.

    The lock is held ``seconds``, and on past that until the writer has backed up a batch (at most 60 s
    more): on a slow machine the writer's retries and their busy timeouts may outlast a short outage, and
    the scenario is there to show backups written and replayed."""
    before = backup_files(env)
    db = sqlite3.connect(Path(env["SCADA_DATA_DIR"]) / "tag_data.db", timeout=30, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    time.sleep(seconds)
    deadline = time.monotonic() + 60
    while backup_files(env) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    db.execute("ROLLBACK")
    db.close()


def supervisord_killed(sup: Supervisor, env: dict[str, str]) -> None:
    """SIGKILL to supervisord (its stages go on), then what ``make run`` does: stop the strays, start again."""
    assert sup.proc is not None
    os.kill(sup.proc.pid, signal.SIGKILL)
    sup.proc.wait(10)
    sup.proc = None
    strays = stage_lock.stray_stages(Path(env["SCADA_RUN_DIR"]))
    if not strays:
        raise AssertionError("no stage found running after supervisord was killed")
    scada(env, "strays", "--stop", timeout=60)
    sup.start()
    sup.wait_running(60)


def account(env: dict[str, str], since_ms: int, until_ms: int) -> dict[str, Any]:
    result = scada(env, "account", "--since", iso_ms(since_ms), "--until", iso_ms(until_ms), "--json", check=False)
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def run_scenarios(sup: Supervisor, env: dict[str, str], rounds: int, pause: float, outage: float,
                  ring_values: int, say: Callable[[str], None], long_run: bool = False,
                  disk_full: float = 0.0) -> list[Scenario]:
    poller = next(p for p in sup.states() if p.startswith("poller-"))
    scenarios: list[Scenario] = []

    def scenario(name: str, action: Callable[[], None], allowed: tuple[str, ...] = ()) -> None:
        s = Scenario(name, now_ms(), allowed=allowed)
        say(f"  {name} ...")
        action()
        time.sleep(pause)
        s.until_ms = now_ms()
        scenarios.append(s)
        # The next fault waits until this window's cycles have all arrived somewhere (stored, or
        # counted dropped), so each window shows what its own fault did.
        wait_for(lambda: settled(env, s.since_ms, s.until_ms), 90, interval=1, what=f"{name}: the pipeline to drain")

    for n in range(1, rounds + 1):
        prefix = f"round {n}: " if rounds > 1 else ""
        for program in (poller, "buffer", "writer", "gateway"):
            for sig in (signal.SIGKILL, signal.SIGTERM):
                scenario(f"{prefix}{program} {sig.name}", functools.partial(restart_by_signal, sup, program, sig))
        scenario(f"{prefix}historian locked {outage:.0f} s", lambda: lock_historian(env, outage))

        def plc_away() -> None:
            sup.ctl("stop", "simulator")
            time.sleep(pause)
            sup.ctl("start", "simulator")

        scenario(f"{prefix}PLCs stopped and started", plc_away)

        def buffer_away() -> None:
            sup.ctl("stop", "buffer")
            time.sleep(QUEUE_CYCLES * 1.1)  # longer than a poller's queue holds
            sup.ctl("start", "buffer")

        scenario(f"{prefix}buffer away past the poller queue", buffer_away, allowed=("queue_dropped",))

        def writer_away() -> None:
            sup.ctl("stop", "writer")
            time.sleep(ring_values / SAMPLE_VALUES_PER_S * 1.3)
            sup.ctl("start", "writer")

        scenario(f"{prefix}writer away past the ring", writer_away, allowed=("overflow_dropped",))

        def data_disk_full() -> None:
            filler = DiskFiller(Path(env["SCADA_DATA_DIR"])).fill()
            time.sleep(disk_full)
            filler.free()

        if disk_full:
            scenario(f"{prefix}data disk full {disk_full:.0f} s", data_disk_full, allowed=("queue_dropped",))
        if long_run:
            scenario(f"{prefix}poison frames on ingest", lambda: send_poison(env))
            scenario(f"{prefix}supervisord SIGKILL, make run", lambda: supervisord_killed(sup, env))
    return scenarios


def settled(env: dict[str, str], since_ms: int, until_ms: int) -> dict[str, Any] | None:
    """The window's account once nothing of it is in flight and every backup is replayed."""
    a = account(env, since_ms, until_ms)
    return a if a["in_flight"] == 0 and a["backed_up"] == 0 else None


def drain(sup: Supervisor, env: dict[str, str], since_ms: int) -> dict[str, Any]:
    """Stop the pollers and wait until nothing is in flight and every backup is replayed."""
    sup.ctl("stop", *sup.pollers())
    until = now_ms()
    result: dict[str, Any] = wait_for(lambda: settled(env, since_ms, until), 90, interval=1,
                                      what="the pipeline to drain")
    return result


def chaos(rounds: int = 1, pause: float = 3.0, outage: float = 6.0, retries: int = 1, ring_values: int = 8000,
          say: Callable[[str], None] = print, long_run: bool = False,
          disk_full: float = 0.0) -> tuple[list[Scenario], dict[str, Any]]:
    """Run the scenarios; ``ring_values`` must hold what arrives while the historian is locked;
    ``disk_full``: seconds the data disk stays full (0: that scenario left out)."""
    env = {"ORACLE_RETRY_MAX": str(retries), "DATA_QUEUE_SIZE": str(QUEUE_CYCLES),
           "BUFFER_MAX_SIZE": str(ring_values), "BUFFER_LEASE_TIMEOUT": "5", "POLLER_ACK_TIMEOUT": "3"}
    refused = mount_refused() if disk_full else None
    if refused:
        say(f"  (data disk full: left out, this machine refuses to mount a tmpfs: {refused})")
        disk_full = 0.0
    if disk_full:  # backups elsewhere, as a plant would keep them: the historian is on the disk that fills
        env["BACKUP_FILE_PATH"] = str(short_tmp("scada-bk-"))
        env["HISTORIAN_MIN_FREE_MB"] = "16"  # the writer's disk guard, well inside the 256 MB disk
    with running_plant(data_tmpfs_mb=256 if disk_full else None, **env) as (sup, env):
        sup.wait_running()
        start = now_ms()
        time.sleep(pause)
        scenarios = run_scenarios(sup, env, rounds, pause, outage, ring_values, say, long_run, disk_full)
        total = drain(sup, env, start)
        for s in scenarios:
            s.account = account(env, s.since_ms, s.until_ms)
        total["backup_files_replayed"] = backup_files(env, replayed_only=True)
    return scenarios, total


def table(scenarios: list[Scenario], total: dict[str, Any]) -> str:
    head = (f"| {'scenario':<44} | {'polled':>8} | {'stored':>8} | {'backed up':>9} | {'queue drop':>10} "
            f"| {'overflow':>8} | {'lost':>4} | ok |")
    lines = [head, "|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|"]
    for s in [*scenarios, Scenario("whole run", 0, 0, account=total)]:
        a = s.account
        ok = "yes" if (s.ok if s.name != "whole run" else a["lost"] == 0) else "NO"
        lines.append(f"| {s.name:<44} | {a['polled']:>8,} | {a['stored']:>8,} | {a['backed_up']:>9,} "
                     f"| {a['queue_dropped']:>10,} | {a['overflow_dropped']:>8,} | {a['lost']:>4,} | {ok} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pause", type=float, default=5.0, help="seconds of steady load after each fault")
    parser.add_argument("--outage", type=float, default=20.0,
                        help="seconds the historian stays locked (past 1+2+4 s of retries and their timeouts)")
    parser.add_argument("--short", action="store_true", help="without the poison-frame and killed-supervisord "
                        "scenarios (what make test's round runs)")
    parser.add_argument("--disk-full", type=float, default=25.0,
                        help="seconds the data disk (a tmpfs; needs root) stays full; 0 leaves it out")
    args = parser.parse_args()
    started = time.monotonic()
    scenarios, total = chaos(args.rounds, args.pause, args.outage, retries=3, ring_values=30_000,
                             long_run=not args.short, disk_full=args.disk_full)
    print(table(scenarios, total))
    print(f"\nbackup files written and replayed: {total['backup_files_replayed']}; "
          f"{time.monotonic() - started:.0f} s")
    bad = [s.name for s in scenarios if not s.ok]
    if bad or total["lost"]:
        raise SystemExit(f"FAILED: {', '.join(bad) or 'whole run'}; the plant's logs, ledger and journals are "
                         f"kept in {' '.join(str(p) for p in short_tmps())}")
    remove_short_tmps()


if __name__ == "__main__":
    main()
