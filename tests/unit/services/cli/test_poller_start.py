"""A poller's turn in a host's start: at most ALONGSIDE pollers import at a time, the bulk after the buffer and
writer; every wait bounded."""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from common.settings import Settings
from services.cli import poller_start
from services.cli.poller_start import hand_over, plant_codes, take_turn, wait_for_turn
from services.cli.supervisor_conf import render
from tests.helpers import ROOT, wait_for
from tests.unit.common.test_stage_lock import holder

CODES = [f"KRSCALE{n:03d}PLCA" for n in range(10)]


def store_of(path: Path, active: list[str], inactive: tuple[str, ...] = ()) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE plcs (plc_code TEXT PRIMARY KEY, is_active INTEGER)")
    conn.executemany("INSERT INTO plcs VALUES (?, ?)", [(c, 1) for c in active] + [(c, 0) for c in inactive])
    conn.commit()
    conn.close()
    return path


def turn_is_free(run_dir: Path, n: int) -> bool:
    fd = os.open(run_dir / f"start_turn_{n}", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_the_plants_order_is_the_stores_active_plcs_sorted(tmp_path: Path) -> None:
    store = store_of(tmp_path / "scada.db", list(reversed(CODES)), inactive=("KRAAAAAAAAAAAA",))
    assert plant_codes(store) == CODES
    assert plant_codes(tmp_path / "missing.db") == []  # unreadable: nobody waits for the central stages


def test_no_more_than_the_turns_start_at_once_and_a_turn_given_back_is_taken(tmp_path: Path) -> None:
    held = [take_turn(tmp_path, turns=2, bound_s=5)[0] for _ in range(2)]
    assert None not in held
    turn, waited = take_turn(tmp_path, turns=2, bound_s=0.3)  # both taken: bounded, started without one
    assert turn is None and waited >= 0.3
    first = held[0]
    assert first is not None
    os.close(first)
    again, _ = take_turn(tmp_path, turns=2, bound_s=5)
    assert again is not None
    for fd in (held[1], again):
        assert fd is not None
        os.close(fd)


def test_a_run_directory_it_cannot_use_starts_the_poller_without_a_turn(tmp_path: Path) -> None:
    assert take_turn(tmp_path / "missing", turns=2, bound_s=5) == (None, 0.0)


def test_the_first_pollers_do_not_wait_for_the_central_stages(tmp_path: Path) -> None:
    store = store_of(tmp_path / "scada.db", CODES)
    turn, waited = wait_for_turn(CODES[0], tmp_path, store, central=True)
    assert turn is not None and "buffer" not in waited
    os.close(turn)


def test_a_later_poller_waits_for_the_buffer_and_writer_bounded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    store = store_of(tmp_path / "scada.db", CODES)
    monkeypatch.setattr(poller_start, "CENTRAL_WAIT_S", 0.3)
    with caplog.at_level(logging.WARNING, "poller_start"):
        turn, waited = wait_for_turn(CODES[-1], tmp_path, store, central=True)
    assert turn is not None and "for the buffer and writer" in waited
    assert "started without waiting longer for buffer and writer" in caplog.text
    os.close(turn)
    holders = [holder(tmp_path, stage) for stage in ("buffer", "writer")]
    try:
        turn, waited = wait_for_turn(CODES[-1], tmp_path, store, central=True)
    finally:
        for proc in holders:
            proc.kill()
            proc.wait()
    assert turn is not None and waited.startswith("0.0 s for the buffer and writer")
    os.close(turn)
    turn, waited = wait_for_turn(CODES[-1], tmp_path, store, central=False)  # an edge host: no central stages
    assert turn is not None and "buffer" not in waited
    os.close(turn)


def test_the_turn_is_kept_until_the_poller_holds_its_stage_lock(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # plays the poller's pid
    try:
        turn, _ = take_turn(tmp_path, turns=1, bound_s=5)
        assert turn is not None
        hand_over(turn, tmp_path, CODES[0], sleeper.pid)
        os.close(turn)  # as the exec does: only the keeper holds the turn now
        assert not turn_is_free(tmp_path, 0)
        poller = holder(tmp_path, f"poller_{CODES[0]}")  # the poller has imported and taken its lock
        try:
            wait_for(lambda: turn_is_free(tmp_path, 0), 10, what="the turn given back")
        finally:
            poller.kill()
            poller.wait()
        turn, _ = take_turn(tmp_path, turns=1, bound_s=5)
        assert turn is not None
        hand_over(turn, tmp_path, CODES[1], sleeper.pid)
        os.close(turn)
    finally:
        sleeper.kill()
        sleeper.wait()
    wait_for(lambda: turn_is_free(tmp_path, 0), 10, what="the turn given back when the poller died")


def test_then_it_becomes_the_poller_itself(tmp_path: Path) -> None:
    store = store_of(tmp_path / "scada.db", CODES)
    fake = tmp_path / "services" / "poller"
    fake.mkdir(parents=True)
    for package in (tmp_path / "services", fake):
        (package / "__init__.py").write_text("")
    (fake / "__main__.py").write_text("import os, sys; print(os.getpid(), sys.argv[1:])")
    gate = subprocess.Popen([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
                             "from services.cli import poller_start; poller_start.main(sys.argv[1:])",
                             "--plc", CODES[1], "--run-dir", str(tmp_path), "--store", str(store)],
                            cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(tmp_path)})
    out, err = gate.communicate(timeout=30)
    assert out.strip() == f"{gate.pid} ['--plc', '{CODES[1]}']"  # the same pid: supervisord's signals reach it
    assert f"{CODES[1]} waited 0.0 s for a start turn; starting the poller" in err
    with pytest.raises(SystemExit, match="usage"):
        poller_start.main(["--plc", CODES[1]])


def test_the_include_runs_each_poller_through_its_turn_and_a_new_plc_changes_no_other_program(
        tmp_path: Path) -> None:
    settings = Settings(scada_data_dir=tmp_path / "data", scada_run_dir=tmp_path / "run", _env_file=None)
    before = render(settings, CODES[:3], tmp_path, "/usr/bin/python3")
    after = render(settings, CODES[:4], tmp_path, "/usr/bin/python3")
    assert (f"command=/usr/bin/python3 -m services.cli.poller_start --plc {CODES[0]} --run-dir "
            f"{(tmp_path / 'run').resolve()} --store {(tmp_path / 'data' / 'scada.db').resolve()}\n") in before
    assert all(program in after for program in before.split("[program:")[1:])
