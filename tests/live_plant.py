"""A running plant changed by ``scada db import``: a tap of every cycle, and the store's CSV files edited.

Shared by tests/e2e/test_live_config.py and bench/live_import.py.
"""

from __future__ import annotations

import csv
import json
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq

from common.wire.envelope import decode
from common.wire.ingest import PollingData
from tests.helpers import scada, short_tmp

Row = dict[str, str]


class CycleTap:
    """Every cycle the buffer republishes on its live PUB: (plc, group) -> [(read time, addresses, all GOOD)]."""

    def __init__(self, env: dict[str, str]) -> None:
        self.endpoint = f"ipc://{env['SCADA_RUN_DIR']}/live.sock"
        self.cycles: dict[tuple[str, str], list[tuple[int, tuple[str, ...], bool]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="cycle tap")
        self._thread.start()

    def _run(self) -> None:
        ctx = zmq.Context()
        sock = ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.RCVHWM, 0)
        sock.setsockopt(zmq.SUBSCRIBE, b"data.")
        sock.connect(self.endpoint)
        while not self._stop.is_set():
            if sock.poll(100):
                data = decode(sock.recv_multipart()[-1], PollingData)
                self.cycles.setdefault((data.plc_code, data.group), []).append(
                    (data.ts_ms, tuple(v.address for v in data.values), all(v.quality == "GOOD" for v in data.values)))
        sock.close(linger=0)
        ctx.term()

    def ts(self, plc: str, group: str, after: int = 0) -> list[int]:
        return [ts for ts, _, _ in self.cycles.get((plc, group), []) if ts > after]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


def get(env: dict[str, str], path: str) -> Any:
    """A GET on the gateway: the text of /metrics, the JSON of anything else."""
    with urllib.request.urlopen(f"http://127.0.0.1:{env['SCADA_API_PORT']}{path}", timeout=10) as answer:
        body = answer.read().decode()
    return body if path == "/metrics" else json.loads(body)


def alive(env: dict[str, str]) -> set[str] | None:
    """The PLCs whose poller reports, once the gateway answers."""
    try:
        return {p["plc_code"] for p in get(env, "/api/polling/status")["pollers"] if p["alive"]}
    except OSError:
        return None


def shown_anywhere(env: dict[str, str], plc: str) -> bool:
    """Whether ``plc`` is in /api/values/latest, /api/polling/status or /metrics."""
    latest = {v["plc_code"] for v in get(env, "/api/values/latest")["values"]}
    pollers = {p["plc_code"] for p in get(env, "/api/polling/status")["pollers"]}
    return plc in latest | pollers or f'plc="{plc}"' in get(env, "/metrics")


def rewrite(path: Path, edit: Callable[[Row], Row | None], add: list[Row] | None = None) -> None:
    """Each row of a CSV file through ``edit`` (None drops it), then ``add`` appended."""
    with path.open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header, rows = list(reader.fieldnames or []), list(reader)
    kept = [r for r in (edit(r) for r in rows) if r is not None] + (add or [])
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)


def exported(env: dict[str, str]) -> Path:
    """The running plant's store exported to a new folder."""
    folder = short_tmp() / "csv"
    scada(env, "db", "export", str(folder))
    return folder


def plc_row(code: str, port: int, description: str = "added live") -> Row:
    return {"plc_code": code, "process_code": "ELOA", "host": "127.0.0.1", "port": str(port),
            "protocol": "MC3E_BINARY", "pool_size": "2", "ports": "", "timeout_ms": "3000", "is_active": "1",
            "description": description, "transport": "TCP", "multi_block_read": "0", "deviations": ""}


def copied_group(folder: Path, source: tuple[str, str], code: str, tags: int = 20) -> tuple[Row, list[Row]]:
    """A FIXED 1 s group on PLC ``code`` reading the first ``tags`` tags of ``source`` (plc, group)."""
    with (folder / "tags.csv").open(encoding="utf-8") as handle:
        rows = [{**r, "plc_code": code} for r in csv.DictReader(handle) if (r["plc_code"], r["group_name"]) == source]
    group = {"group_name": source[1], "plc_code": code, "mode": "FIXED", "interval_ms": "1000", "trigger_device": "",
             "ack_device": "", "is_active": "1"}
    return group, rows[:tags]
