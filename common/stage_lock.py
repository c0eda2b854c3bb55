"""One copy of each stage per run directory, and finding the copies a dead supervisord left behind.

Strategy: a stage takes ``fcntl.flock`` on ``$SCADA_RUN_DIR/<stage>.lock``
(``poller_<PLC>.lock`` for a poller) before it opens a socket or a journal,
and keeps it for its life; the kernel lets it go when the process ends,
however it ends, so a stale file never blocks a start. The holder writes its
pid into the file. A second copy finds the lock taken, logs one line naming
the holder and exits with status 3.

When supervisord itself is killed (``kill -9``) its children go on running.
``stray_stages`` names them: a lock file whose lock is held, by the pid
written in it, and proved by the kernel's own table (``/proc/locks`` lists
that pid holding a FLOCK on that very file's inode), so a pid that was
reused by an unrelated process is never taken for a stage.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("stage_lock")

EXIT_ALREADY_RUNNING = 3
_held: list[int] = []  # the lock files this process holds, open for its life


def lock_path(run_dir: Path, stage: str) -> Path:
    return run_dir / f"{stage}.lock"


def hold(run_dir: Path, stage: str) -> None:
    """Take this stage's lock in ``run_dir``, or log who holds it and exit with EXIT_ALREADY_RUNNING."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", stage):
        log.error("stage name %r cannot name a lock file; this one stops", stage)
        sys.exit(2)
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = lock_path(run_dir, stage)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _pid_in(path)
        os.close(fd)
        log.error("another %s is already running for %s (pid %s holds %s); this one stops", stage, run_dir,
                  holder if holder is not None else "?", path)
        sys.exit(EXIT_ALREADY_RUNNING)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _held.append(fd)


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _flock_holders(inode: int) -> set[int]:
    """The pids /proc/locks shows holding a FLOCK on a file with this inode."""
    pids: set[int] = set()
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return pids
    for line in lines:
        parts = line.split()
        # "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234567 0 EOF" (a "->" marks a waiter: not a holder)
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[2] != "->":
            with_inode = parts[5].rsplit(":", 1)
            if len(with_inode) == 2 and with_inode[1] == str(inode) and parts[4].isdigit():
                pids.add(int(parts[4]))
    return pids


@dataclass(frozen=True)
class Stray:
    stage: str
    pid: int


def stray_stages(run_dir: Path) -> list[Stray]:
    """Stages of ``run_dir`` that hold their lock: each pid proved by the lock file and /proc/locks."""
    found = []
    for path in sorted(run_dir.glob("*.lock")):
        pid = _pid_in(path)
        try:
            inode = path.stat().st_ino
        except OSError:
            continue
        if pid is not None and pid != os.getpid() and pid in _flock_holders(inode):
            found.append(Stray(path.stem, pid))
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie has ended: only its parent's wait is missing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def stop_strays(strays: list[Stray], grace_s: float = 15.0) -> list[Stray]:
    """SIGTERM each (a stage finishes cleanly: the poller flushes, the writer commits), SIGKILL what is
    still there after ``grace_s``; returns those that had to be killed."""
    for stray in strays:
        with contextlib.suppress(ProcessLookupError):
            os.kill(stray.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(_alive(s.pid) for s in strays):
        time.sleep(0.1)
    killed = [s for s in strays if _alive(s.pid)]
    for stray in killed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(stray.pid, signal.SIGKILL)
    return killed
