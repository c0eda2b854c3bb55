"""Helpers the tests share: free ports, short temporary directories, a plant on free ports."""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_made: list[Path] = []


def short_tmp(prefix: str = "scada-") -> Path:
    """A temporary directory with a short path: ipc:// paths must stay under ~100 characters.

    Removed by ``remove_short_tmps`` (at the end of a test session that passed, or by a benchmark).
    """
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    _made.append(path)
    return path


def short_tmps() -> list[Path]:
    """The directories ``short_tmp`` made that still exist."""
    return [path for path in _made if path.exists()]


def remove_short_tmps() -> int:
    """Remove every directory ``short_tmp`` made (logs, databases, journals); returns how many."""
    removed = 0
    while _made:
        path = _made.pop()
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def sample_on_free_ports(folder: Path) -> dict[str, int]:
    """Copy the sample plant to ``folder`` with every PLC on a free port; returns code -> port."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in SAMPLE.glob("*.csv"):
        shutil.copy(path, folder / path.name)
    rows = list(csv.DictReader((folder / "plcs.csv").open(encoding="utf-8")))
    ports = {}
    for row in rows:
        row["port"] = str(free_port())
        ports[row["plc_code"]] = int(row["port"])
    with (folder / "plcs.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return ports


def scada_env(base: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCADA_", "ORACLE_", "BUFFER_", "MC_"))}
    env.update({
        "SCADA_DATA_DIR": str(base / "data"), "SCADA_RUN_DIR": str(base / "run"),
        "SCADA_LOG_DIR": str(base / "logs"), "SCADA_API_HOST": "127.0.0.1",
        "SCADA_API_PORT": str(free_port()), "SCADA_PYTHON": sys.executable,
        "SCADA_SIMULATOR": "true", "SCADA_CENTRAL": "true", "SCADA_POLLERS": "true", "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def scada(env: dict[str, str], *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli.main", *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, check=check, timeout=timeout)


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.25, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
