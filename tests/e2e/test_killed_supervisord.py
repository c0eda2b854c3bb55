"""`make run` after supervisord was killed with SIGKILL: the strays are found and stopped, one copy runs, lost 0.

Also: a second copy of a stage started by hand beside a running one exits at once with a clear line.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from common import stage_lock
from common.times import iso_ms, now_ms
from tests.helpers import ROOT, sample_on_free_ports, scada, scada_env, short_tmp, wait_for
from tests.supervisor_run import Supervisor

STAGES = {"buffer", "writer", "gateway", "simulator", "poller_KRCWO12ELOA101", "poller_KRCWO12ELOA102",
          "poller_KRCWO12WELD201"}


def _rows(env: dict[str, str]) -> int:
    path = Path(env["SCADA_DATA_DIR"]) / "tag_data.db"
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(path, timeout=5)) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM TAG_DATA").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def _holders(env: dict[str, str]) -> dict[str, int]:
    return {s.stage: s.pid for s in stage_lock.stray_stages(Path(env["SCADA_RUN_DIR"]))}


def _make(env: dict[str, str], target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", target], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=180)


def test_make_run_after_supervisord_was_killed_runs_one_copy_and_loses_nothing() -> None:
    base = short_tmp()
    env = scada_env(base, PYTHON=sys.executable)
    sample_on_free_ports(base / "csv")
    scada(env, "db", "init")
    scada(env, "db", "import", str(base / "csv"))
    since = now_ms() - 1000
    sup = Supervisor(env)
    sup.start()
    restarted = False
    try:
        sup.wait_running(60)
        wait_for(lambda: _rows(env) > 5000, 60, interval=0.5, what="rows in the historian")
        second = subprocess.run([sys.executable, "-m", "services.buffer"], cwd=ROOT, env=env, text=True,
                                capture_output=True, timeout=60)
        assert second.returncode == stage_lock.EXIT_ALREADY_RUNNING
        assert "another buffer is already running" in second.stderr
        old = wait_for(lambda: _holders(env) if set(_holders(env)) == STAGES else None, 30,
                       what="every stage holding its lock")

        assert sup.proc is not None
        os.kill(sup.proc.pid, signal.SIGKILL)  # supervisord dies; its children go on, polling under load
        sup.proc.wait(10)
        sup.proc = None
        before = _rows(env)
        wait_for(lambda: _rows(env) > before + 2000, 30, interval=0.5, what="the orphans still storing")

        restarted = True
        run = _make(env, "run")
        assert run.returncode == 0, run.stdout + run.stderr
        assert "stages left running by a supervisord that is gone" in run.stdout
        for stage, pid in old.items():
            assert not stage_lock._alive(pid), f"the old {stage} (pid {pid}) still runs"
        sup.wait_running(60)
        new = wait_for(lambda: _holders(env) if set(_holders(env)) == STAGES else None, 30,
                       what="every stage holding its lock")
        assert not set(new.values()) & set(old.values())
        assert set(new.values()) == set(sup.pids())  # exactly supervisord's children hold the locks
        now = _rows(env)
        wait_for(lambda: _rows(env) > now + 2000, 60, interval=0.5, what="the new copy storing")
    finally:
        if restarted:
            _make(env, "stop")
        else:
            sup.stop()
    until = now_ms()
    result = scada(env, "account", "--since", iso_ms(since), "--until", iso_ms(until), "--json", check=False)
    account = json.loads(result.stdout)
    assert account["polled"] > 5000 and account["lost"] == 0, account
