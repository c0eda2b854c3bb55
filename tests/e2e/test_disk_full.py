"""A full data disk under the running pipeline: a state, not a crash.

The sample plant runs under a real supervisord with SCADA_DATA_DIR (the
pollers' send-queue journals, the buffer's journal, the ledger, the
historian) on a tmpfs the test mounts; backups go elsewhere, as a plant would
put them. The disk is filled and kept full for 25 s, then freed. While full:
no stage dies or goes FATAL, the groups keep polling, and health answers 503
naming the disk and the path. After: collection resumes by itself, and
``scada account`` over the window finds nothing lost, agreeing value for
value with an independent count (a tap on the buffer's live PUB against
TAG_DATA). Skipped, saying why, where this machine refuses to mount a tmpfs.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import zmq

from bench.chaos import account, restart_by_signal, settled
from common.times import iso_ms, ms_of_iso, now_ms
from common.wire.envelope import decode
from common.wire.ingest import PollingData
from tests.disk_full import DiskFiller, MountRefused
from tests.helpers import short_tmp, wait_for
from tests.supervisor_run import Supervisor, running_plant

pytestmark = pytest.mark.timeout(300)

FULL_S = 25.0
CycleKey = tuple[str, str, int]


class Tap:
    """Every PollingData the buffer republishes on its live PUB: values per cycle (plc, group, ts)."""

    def __init__(self, endpoint: str) -> None:
        self.cycles: dict[CycleKey, int] = {}
        self._stop = threading.Event()
        self._sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.RCVHWM, 0)
        self._sock.setsockopt(zmq.SUBSCRIBE, b"data.")
        self._sock.connect(endpoint)
        self._thread = threading.Thread(target=self._run, daemon=True, name="tap")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._sock.poll(100):
                data = decode(self._sock.recv_multipart()[-1], PollingData)
                self.cycles[(data.plc_code, data.group, data.ts_ms)] = len(data.values)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


def _get(env: dict[str, str], path: str) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{env['SCADA_API_PORT']}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _stored(env: dict[str, str], since_ms: int, until_ms: int) -> dict[CycleKey, int]:
    with sqlite3.connect(Path(env["SCADA_DATA_DIR"]) / "tag_data.db", timeout=10) as db:
        rows = db.execute("SELECT plc_code, group_name, ts, COUNT(*) FROM TAG_DATA WHERE ts >= ? AND ts < ? "
                          "GROUP BY plc_code, group_name, ts", (iso_ms(since_ms), iso_ms(until_ms)))
        return {(plc, group, ms_of_iso(ts)): n for plc, group, ts, n in rows}


def _cycles(env: dict[str, str]) -> int:
    return sum(int(g.get("cycles") or 0) for g in _get(env, "/api/polling/status")[1]["groups"])


def _no_stage_down(sup: Supervisor) -> None:
    states = sup.states()
    assert all(s == "RUNNING" for s in states.values()), states


def test_a_full_data_disk_stops_nothing_and_loses_nothing() -> None:
    backups = short_tmp("scada-bk-")
    try:
        plant = running_plant(data_tmpfs_mb=96, BACKUP_FILE_PATH=str(backups), ORACLE_RETRY_MAX="1",
                              POLLER_ACK_TIMEOUT="3")
        sup, env = plant.__enter__()
    except MountRefused as error:
        pytest.skip(f"cannot mount a tmpfs here to fill a disk for real ({error}); CI runs this as root")
    try:
        sup.wait_running(60)
        data_dir = Path(env["SCADA_DATA_DIR"])
        tap = Tap(f"ipc://{env['SCADA_RUN_DIR']}/live.sock")
        wait_for(lambda: len(tap.cycles) > 10, 30, what="the tap hearing the buffer")
        wait_for(lambda: _get(env, "/api/buffer/health")[0] == 200, 30, what="a healthy pipeline before")
        since = now_ms()
        time.sleep(3)

        filler = DiskFiller(data_dir).fill()
        full_from = time.monotonic()

        def disk_reason() -> str | None:
            code, body = _get(env, "/api/buffer/health")
            found = [r for r in body.get("reasons", []) if r.startswith("disk:") and str(data_dir) in r]
            return found[0] if code == 503 and found else None

        reason = wait_for(disk_reason, 15, what="health naming the full disk")
        assert "bytes free" in reason
        # a buffer killed while the disk is full starts again (its journal read and reopened in place), and
        # loses nothing: what it held unconfirmed, the pollers still hold and send again. (Kill a poller as
        # well and what only their memories held is gone: the account then shows it lost, not silently.)
        killed_ms = now_ms()
        restart_by_signal(sup, "buffer", signal.SIGKILL)
        # the tap's SUB reconnects to the new buffer's PUB: what it republishes meanwhile the tap may miss
        blind = (killed_ms - 2000, now_ms() + 5000)
        wait_for(disk_reason, 15, what="health naming the full disk after the buffer's restart")
        url = f"http://127.0.0.1:{env['SCADA_API_PORT']}/metrics"

        def buffer_disk_not_ok() -> bool:  # the reason above may be the writer's; the new buffer reports its own
            with urllib.request.urlopen(url, timeout=5) as response:
                return 'scada_stage_disk_ok{stage="buffer"} 0.0' in response.read().decode()

        wait_for(buffer_disk_not_ok, 15, what="the restarted buffer reporting the full disk in /metrics")
        cycles_when_full, counted_from = _cycles(env), time.monotonic()
        while time.monotonic() - full_from < FULL_S:
            _no_stage_down(sup)
            time.sleep(2)
        # the groups kept polling on the full disk: the three 1 s groups alone make 3 cycles a second
        assert _cycles(env) >= cycles_when_full + 2.5 * (time.monotonic() - counted_from - 2)
        status = {p["plc_code"]: p for p in _get(env, "/api/polling/status")[1]["pollers"]}
        assert all(p["alive"] and not p["disk"]["ok"] for p in status.values()), status
        assert all(not p["task_deaths"] for p in status.values())
        filler.free()
        freed = now_ms()

        def healthy_disks() -> bool:
            body = _get(env, "/api/buffer/health")[1]
            return not any(r.startswith("disk:") for r in body.get("reasons", []))

        wait_for(healthy_disks, 30, interval=0.5, what="every stage writing its disk again")
        wait_for(lambda: any(ts > freed + 2000 for _, _, ts in _stored(env, freed, now_ms() + 1000)), 60,
                 interval=1, what="collection resuming by itself")
        until = now_ms()
        sup.ctl("stop", "pollers:*")
        totals = wait_for(lambda: settled(env, since, until), 120, interval=1, what="the window to drain")
        _no_stage_down_except_pollers = {k: v for k, v in sup.states().items() if not k.startswith("pollers:")}
        assert all(s == "RUNNING" for s in _no_stage_down_except_pollers.values())
        time.sleep(1)
        tap.close()

        a = account(env, since, until)
        print(f"health while full: {reason}\naccount: {a}\ntapped cycles: {len(tap.cycles)}")
        assert a["lost"] == 0 and a["in_flight"] == 0, (a["lost"], a["lost_cycles"], a)
        assert a["polled"] > 5000 and a["cycles"] > 100
        assert a["polled"] == (a["stored"] + a["queue_dropped"] + a["overflow_dropped"] + a["rejected"]
                               + a["rejected_at_ingest"]), a
        # the independent count: every cycle the buffer republished in the window is in TAG_DATA, whole
        tapped = {k: n for k, n in tap.cycles.items() if since <= k[2] < until}
        stored = _stored(env, since, until)
        missing = {k: (n, stored.get(k, 0)) for k, n in tapped.items() if stored.get(k, 0) != n}
        assert not missing, list(missing.items())[:5]
        assert sum(stored.values()) == a["stored"] + a["overflow_dropped"], (a, totals)
        seen = {k: n for k, n in stored.items() if not blind[0] <= k[2] < blind[1]}
        assert sum(n for k, n in tapped.items() if not blind[0] <= k[2] < blind[1]) == sum(seen.values()) > 10_000
    finally:
        plant.__exit__(None, None, None)
