"""A cycle's identity end to end (issue 13, findings 1, 2 and 7), each checked twice: ``scada account``
and an independent count -- every PollingData the buffer republished, recorded by a SUB on its live PUB
(what ``scada tap`` prints), compared value by value with TAG_DATA.

- The pollers' wall clock stepped back under libfaketime (``faketime`` from Debian: LD_PRELOAD of
  libfaketimeMT with a FAKETIME_TIMESTAMP_FILE the test rewrites; the monotonic clock stays real): by
  30 s with the buffer away during the step, then by 60 s more with the buffer present. Every cycle
  after the first step reads a wall clock time an earlier cycle of its group already had.
- Meanwhile one PLC reads the same 100 addresses in a FIXED group every 100 ms and in its HANDSHAKE
  group, triggered over the API as fast as it answers (the trigger limit set to 0 for the test).
- ``scada account --last 2m`` repeated while a generated plant runs at the highest rate this test can
  afford: never a false loss; rows deleted from TAG_DATA are reported lost.
"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import zmq

from common.historian import layout
from common.times import iso_ms, ms_of_iso, now_ms
from common.wire.envelope import decode
from common.wire.ingest import PollingData
from tests.helpers import ROOT, sample_on_free_ports, scada, scada_env, short_tmp, wait_for
from tests.supervisor_run import Supervisor

pytestmark = pytest.mark.timeout(300)

FAKETIME_LIB = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")
A = "KRCWO12ELOA101"
Key = tuple[str, str, int]  # plc, group, cycle


class FakedClockSupervisor(Supervisor):
    """supervisord whose pollers (only) run under libfaketime, stepped by rewriting ``spec``."""

    def __init__(self, env: dict[str, str], spec: Path) -> None:
        super().__init__(env)
        self.spec = spec

    def start(self) -> None:
        for key in ("SCADA_DATA_DIR", "SCADA_RUN_DIR", "SCADA_LOG_DIR"):
            Path(self.env[key]).mkdir(parents=True, exist_ok=True, mode=0o700)
        scada(self.env, "supervisor-conf")
        conf = Path(self.env["SCADA_RUN_DIR"]) / "pollers.conf"
        faked = (f',LD_PRELOAD="{FAKETIME_LIB}",FAKETIME_TIMESTAMP_FILE="{self.spec}",'
                 'FAKETIME_CACHE_DURATION="1",FAKETIME_DONT_FAKE_MONOTONIC="1"')
        lines = conf.read_text().splitlines()
        assert any(line.startswith("environment=") for line in lines), "each poller has its environment line"
        conf.write_text("".join(line + (faked if line.startswith("environment=") else "") + "\n" for line in lines))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(ROOT / "supervisord.conf")],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.socket.exists, 15, what="supervisor socket")

    def step(self, offset_s: int) -> None:
        tmp = self.spec.with_suffix(".tmp")
        tmp.write_text(f"{offset_s:+d}\n")
        tmp.replace(self.spec)


class Tap:
    """Every PollingData the buffer republishes (topic ``data.``), once per cycle."""

    def __init__(self, env: dict[str, str]) -> None:
        self.endpoint = f"ipc://{env['SCADA_RUN_DIR']}/live.sock"
        self.cycles: dict[Key, PollingData] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="tap")
        self._thread.start()

    def _run(self) -> None:
        ctx = zmq.Context()
        sock = ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, 0)
        sock.setsockopt(zmq.SUBSCRIBE, b"data.")
        sock.connect(self.endpoint)
        try:
            while not self._stop.is_set():
                if sock.poll(100):
                    data = decode(sock.recv_multipart()[-1], PollingData)
                    self.cycles[(data.plc_code, data.group, data.identity)] = data
        finally:
            sock.close()
            ctx.term()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


def historian(env: dict[str, str]) -> dict[tuple[str, str, int, str], tuple[str, Any, str]]:
    with sqlite3.connect(Path(env["SCADA_DATA_DIR"]) / "tag_data.db", timeout=30) as db:
        rows = db.execute("SELECT plc_code, group_name, cycle, tag_address, ts, tag_value, quality FROM TAG_DATA")
        return {(p, g, c, a): (ts, v, q) for p, g, c, a, ts, v, q in rows}


def disagreements(tap: Tap, stored: dict[tuple[str, str, int, str], tuple[str, Any, str]]) -> list[str]:
    """Every value the tap saw, as stored: same read time, value and quality under its identity."""
    out = []
    for (plc, group, cycle), data in tap.cycles.items():
        for v in data.values:
            row = stored.get((plc, group, cycle, v.address))
            if row != (iso_ms(data.ts_ms), v.value, v.quality):
                out.append(f"{plc} {group} cycle {cycle} {v.address}: tapped {v.value!r} {v.quality}, stored {row}")
    return out


def account(env: dict[str, str], *window: str) -> tuple[int, dict[str, Any]]:
    result = scada(env, "account", *window, "--json", check=False, timeout=120)
    return result.returncode, json.loads(result.stdout)


def api(env: dict[str, str], method: str, path: str) -> tuple[int, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{env['SCADA_API_PORT']}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return 0, None


@contextmanager
def plant(sup_factory: Any, csv: Path, **extra: str) -> Iterator[tuple[Any, dict[str, str]]]:
    base = csv.parent
    env = scada_env(base, **extra)
    scada(env, "db", "init")
    scada(env, "db", "import", str(csv))
    sup = sup_factory(env)
    sup.start()
    try:
        sup.wait_running(60)
        yield sup, env
    finally:
        pids: list[int] = []
        with contextlib.suppress(OSError):
            pids = sup.pids()
        sup.stop()
        for pid in pids:
            wait_for(functools.partial(_gone, pid), 15, what=f"pid {pid} to exit")


def sample_with_one_address_in_two_groups(folder: Path) -> None:
    """The sample plant, plus a FIXED group on A reading every 100 ms the 100 addresses of A's BATCH_HS."""
    sample_on_free_ports(folder)
    with (folder / "polling_groups.csv").open("a", encoding="utf-8") as handle:
        handle.write(f"DUP_100MS,{A},FIXED,100,,,1\n")
    lines = (folder / "tags.csv").read_text(encoding="utf-8").splitlines()
    hs = [line.split(",") for line in lines if line.startswith(f"{A},BATCH_HS,")]
    with (folder / "tags.csv").open("a", encoding="utf-8") as handle:
        for cells in hs:
            handle.write(",".join([A, "DUP_100MS", "DUP_" + cells[2], *cells[3:]]) + "\n")


def settled(env: dict[str, str], since: str, until: str) -> dict[str, Any] | None:
    _, answer = account(env, "--since", since, "--until", until)
    return answer if answer["in_flight"] == 0 else None


@pytest.mark.skipif(not FAKETIME_LIB.exists() or shutil.which("faketime") is None,
                    reason="needs Debian's faketime package (libfaketime) to step the pollers' clock")
def test_clock_steps_and_one_address_in_two_groups_lose_nothing() -> None:
    base = short_tmp()
    spec = base / "faketime.spec"
    spec.write_text("+0\n")
    sample_with_one_address_in_two_groups(base / "csv")
    since = iso_ms(now_ms() - 200_000)  # read times go back up to 90 s from now
    # A ring the burst after the buffer's absence cannot overflow: an overflow is counted, not lost, but the
    # tap would have seen values the historian then cannot have.
    with plant(lambda env: FakedClockSupervisor(env, spec), base / "csv", API_TRIGGER_MIN_INTERVAL_MS="0",
               BUFFER_MAX_SIZE="2000000") as (sup, env):
        tap = Tap(env)
        triggering = threading.Event()
        triggers: list[int] = []

        def trigger_fast() -> None:
            while not triggering.is_set():
                triggers.append(api(env, "POST", f"/api/polling/groups/BATCH_HS/trigger?plc={A}")[0])

        trigger = threading.Thread(target=trigger_fast, daemon=True)
        try:
            db = Path(env["SCADA_DATA_DIR"]) / "tag_data.db"
            wait_for(lambda: db.exists() and historian(env), 60, what="the first rows")
            trigger.start()
            started = time.monotonic()
            # 1. the buffer away, the clock 30 s back: every cycle after it reads a time already stored
            time.sleep(max(0.0, 31 - (time.monotonic() - started)))
            assert "stopped" in sup.ctl("stop", "buffer")
            time.sleep(1.0)
            sup.step(-30)
            time.sleep(5.0)
            assert "started" in sup.ctl("start", "buffer")
            time.sleep(3.0)
            # 2. the buffer present, the clock 60 s further back
            sup.step(-90)
            time.sleep(5.0)
            triggering.set()
            trigger.join(20)
            status, polling = api(env, "GET", "/api/polling/status")
            assert status == 200
            steps = {p["plc_code"]: p["clock"] for p in polling["pollers"]}
            assert all(c["steps"] >= 2 and c["last_step_ms"] < -55_000 for c in steps.values()), steps
            assert "wall clock stepped back" in (Path(env["SCADA_LOG_DIR"]) / f"poller-{A}.log").read_text()
            assert "stopped" in sup.ctl("stop", *sup.pollers())
            until = iso_ms(now_ms() + 10_000)
            wait_for(lambda: settled(env, since, until), 90, interval=1, what="nothing in flight")
        finally:
            triggering.set()
            tap.close()
        code, answer = account(env, "--since", since, "--until", until)
        stored = historian(env)
    print(json.dumps({k: answer[k] for k in ("cycles", "polled", "stored", "lost", "queue_dropped")}),
          f"triggers {triggers.count(200)} ok of {len(triggers)}")
    assert code == 0 and answer["lost"] == 0 and answer["queue_dropped"] == answer["overflow_dropped"] == 0, answer
    assert answer["polled"] == answer["stored"] == len(stored), answer
    assert triggers.count(200) > 50  # the HANDSHAKE group was read again and again meanwhile
    # the independent count: the tap saw (nearly) every cycle, and each value it saw is stored as it saw it
    assert len(tap.cycles) >= 0.9 * answer["cycles"], (len(tap.cycles), answer["cycles"])
    assert disagreements(tap, stored) == []
    # the faults happened: read times repeat across cycles of a group, and across the two groups on A
    times: dict[tuple[str, str, str], int] = {}
    for (plc, group, _), data in tap.cycles.items():
        times[(plc, group, iso_ms(data.ts_ms))] = times.get((plc, group, iso_ms(data.ts_ms)), 0) + 1
    assert any(n > 1 for n in times.values()), "no read time repeated within a group"
    on_a = {(group, ts) for (plc, group, ts) in times if plc == A}
    print("read times A's two groups shared:", sum(("DUP_100MS", ts) in on_a for g, ts in on_a if g == "BATCH_HS"))


def test_account_under_load_never_reports_a_false_loss() -> None:
    """Finding 7: the account read the historian before what was in flight; at a high rate cycles moved
    between the two looks and were reported lost. Repeated while the plant runs, it must say 0 every
    time; rows deleted from TAG_DATA must be reported lost."""
    from bench.pipeline import write_plant

    base = short_tmp()
    write_plant(base / "csv", 250)  # 4 PLCs x 4 groups x 1,000 tags every 250 ms: 64,000 values/s offered
    with plant(Supervisor, base / "csv") as (_, env):
        db = Path(env["SCADA_DATA_DIR"]) / "tag_data.db"
        wait_for(lambda: db.exists() and historian_count(db) > 50_000, 90, what="the plant under way")
        answers: list[tuple[int, int, int, int]] = []
        # looks until three caught values in flight (each look is a moment: one between two commits finds none)
        while len(answers) < 24 and sum(in_flight > 0 for *_, in_flight in answers) < 3:
            code, answer = account(env, "--last", "2m")
            answers.append((code, answer["lost"], answer["polled"], answer["in_flight"]))
        assert all(code == 0 and lost == 0 for code, lost, _, _ in answers), answers
        # the case that matters is an account taken while cycles move: at least three of the looks caught
        # values in flight (a look between two commits may find none, which proves nothing either way)
        assert sum(in_flight > 0 for *_, in_flight in answers) >= 3, answers
        with sqlite3.connect(db, timeout=30) as conn:  # 5 values stored (within the window), then gone
            keys = conn.execute("SELECT ts, plc_code, group_name, cycle, tag_address FROM TAG_DATA WHERE ts > ? "
                                "ORDER BY ts LIMIT 5", (iso_ms(now_ms() - 90_000),)).fetchall()
            deleted = sum(delete_value(conn, *key) for key in keys)
        assert deleted == 5
        code, answer = account(env, "--last", "2m")
        assert code == 1 and answer["lost"] == deleted, (deleted, answer)
    print("account runs (exit, lost, polled, in flight):", answers)


def delete_value(conn: sqlite3.Connection, ts: str, plc: str, group: str, cycle: int, address: str) -> int:
    """Remove one stored value from under TAG_DATA (a view: common/historian/layout.py)."""
    day = layout.day_of(ms_of_iso(ts))
    return conn.execute(
        f"DELETE FROM {layout.values_table(day)} WHERE id = (SELECT (c.id << {layout.SERIES_BITS}) | s.id "
        f"FROM {layout.cycles_table(day)} c JOIN groups g ON g.id = c.group_id JOIN series s ON s.group_id = g.id "
        "WHERE g.plc_code = ? AND g.group_name = ? AND c.cycle = ? AND s.tag_address = ?)",
        (plc, group, cycle, address)).rowcount


def historian_count(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=10) as conn:
            return int(conn.execute("SELECT count(*) FROM TAG_DATA").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()
