"""What a process costs: its resident memory and its start time, read from /proc; and TLS left out.

Strategy: figures are read in the process itself (``/proc/self``), so a status
message carries what the operator would see with ``ps``, for every poller of a
plant at once. :func:`leave_out_tls` is called by stages that never speak TLS
(the pollers) before anything imports asyncio: asyncio imports ``ssl`` whether
or not a loop ever uses it, and ssl brings OpenSSL's libraries, ~4.5 MB of
resident memory in each of a hundred pollers. With ``sys.modules["ssl"]`` set
to None, ``import ssl`` raises ImportError, which asyncio expects (it then
runs without TLS); anything else that needs ssl in such a process fails loudly
at import rather than silently doing without.
"""

from __future__ import annotations

import os
import sys
import time

_TICKS = os.sysconf("SC_CLK_TCK")


def leave_out_tls() -> None:
    """Make ``import ssl`` fail in this process; a no-op where ssl is loaded already."""
    if "ssl" not in sys.modules:
        sys.modules["ssl"] = None  # type: ignore[assignment]


def rss_bytes(pid: int | str = "self") -> int:
    """The resident set (VmRSS) of ``pid``, by default this process; 0 where /proc has no such figure."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int | str = "self") -> float:
    """User plus system CPU time ``pid`` has used so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def age_s(pid: int | str = "self") -> float:
    """Seconds since ``pid`` was started (exec'd), by the kernel's clock; for a stage's start time."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        started_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
    return time.clock_gettime(time.CLOCK_BOOTTIME) - started_ticks / _TICKS
