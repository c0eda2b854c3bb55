"""A PLC's rows read from the config store by a child process, so a poller never loads SQLite.

Strategy: SQLite (its library, the sqlite3 module and the pages its queries
touch) is ~1.2 MiB of a poller's resident memory, for one read at start and
one per reload. A short-lived child, a fresh interpreter without ``site``
running store_read.py (standard library only), reads the rows and hands them
over as one ``marshal`` dump of plain values (no code, unlike a pickle); it
exits, and its memory with it. The objects are made here, by the model's own
``*_from_row``, so the poller's plant is what every other reader of the store
makes of the same rows.
"""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.config_store import model

#: a read of one PLC takes milliseconds; the store's busy timeout is 5 s (store_read.BUSY_TIMEOUT_MS)
CHILD_TIMEOUT_S = 30.0
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class PlcRows:
    """What the store says about one PLC; ``plc`` is None when the store (or that PLC in it) is missing."""

    plc: model.Plc | None
    groups: list[model.PollingGroup]
    tags: list[model.Tag]
    #: the plant's active PLCs, in code order
    active_codes: list[str]


class StoreBusy(Exception):
    """The store could not be read now; asking again later may succeed."""


class StoreReadFailed(Exception):
    """The child failed for a reason other than a busy store (its stderr is in the message)."""


def read_plc_rows(config_db: Path | str, plc_code: str) -> PlcRows:
    """The rows of ``plc_code``, read by a child process (blocking, at most CHILD_TIMEOUT_S)."""
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), *([path] if path else [])])}
    optimize = ["-" + "O" * sys.flags.optimize] if sys.flags.optimize else []  # as the poller (interpreter.py)
    command = [sys.executable, *optimize, "-S", "-m", "services.poller.store_read", str(config_db), plc_code]
    try:
        done = subprocess.run(command, capture_output=True, env=env, timeout=CHILD_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise StoreBusy(f"no answer from the store in {CHILD_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip()[-2000:]
        raise StoreReadFailed(f"reading {plc_code} from {config_db} failed (exit {done.returncode}): {why}")
    answer: dict[str, Any] = marshal.loads(done.stdout)
    if answer["outcome"] == "busy":
        raise StoreBusy(answer["message"])
    if answer["outcome"] == "missing":
        return PlcRows(None, [], [], [])
    return PlcRows(model.plc_from_row(_one(answer["plc"])),
                   [model.group_from_row(r) for r in _rows(answer["groups"])],
                   [model.tag_from_row(r) for r in _rows(answer["tags"])], answer["codes"])


def _one(table: tuple[list[str], tuple[Any, ...]]) -> dict[str, Any]:
    columns, row = table
    return dict(zip(columns, row, strict=True))


def _rows(table: tuple[list[str], list[tuple[Any, ...]]]) -> list[dict[str, Any]]:
    columns, rows = table
    return [dict(zip(columns, row, strict=True)) for row in rows]
