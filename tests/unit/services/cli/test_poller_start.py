"""A poller's turn in a host's start: at most ALONGSIDE pollers import at a time, after the buffer and writer."""

from __future__ import annotations

import logging
import sqlite3
import sys
from pathlib import Path

import pytest

from common.settings import Settings
from services.cli import poller_start
from services.cli.poller_start import ahead_of, plant_codes, take_turn
from services.cli.supervisor_conf import render
from tests.unit.common.test_stage_lock import holder

CODES = [f"KRSCALE{n:03d}PLCA" for n in range(10)]


def store_of(path: Path, active: list[str], inactive: tuple[str, ...] = ()) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE plcs (plc_code TEXT PRIMARY KEY, is_active INTEGER)")
    conn.executemany("INSERT INTO plcs VALUES (?, ?)", [(c, 1) for c in active] + [(c, 0) for c in inactive])
    conn.commit()
    conn.close()
    return path


def test_each_poller_waits_for_the_one_alongside_places_before_it() -> None:
    assert [ahead_of(c, CODES, 4) for c in CODES] == [None] * 4 + CODES[:6]
    assert ahead_of("KRCWO12ELOA101", CODES, 4) is None  # not an active PLC of the store: no turn to wait for


def test_the_plants_order_is_the_stores_active_plcs_sorted(tmp_path: Path) -> None:
    store = store_of(tmp_path / "scada.db", list(reversed(CODES)), inactive=("KRAAAAAAAAAAAA",))
    assert plant_codes(store) == CODES
    assert plant_codes(tmp_path / "missing.db") == []  # unreadable: nobody waits


def test_the_first_pollers_start_at_once_without_looking_at_anything(tmp_path: Path) -> None:
    store = store_of(tmp_path / "scada.db", CODES)
    assert take_turn(CODES[0], tmp_path / "run", store, central=True).startswith("for nothing")


def test_a_later_poller_starts_once_the_buffer_writer_and_the_poller_ahead_hold_their_locks(tmp_path: Path) -> None:
    store = store_of(tmp_path / "scada.db", CODES)
    code = CODES[poller_start.ALONGSIDE] if len(CODES) > poller_start.ALONGSIDE else CODES[-1]
    ahead = ahead_of(code, CODES)
    assert ahead is not None
    holders = [holder(tmp_path, stage) for stage in ("buffer", "writer", f"poller_{ahead}")]
    try:
        waited = take_turn(code, tmp_path, store, central=True)
    finally:
        for proc in holders:
            proc.kill()
            proc.wait()
    assert "s for the buffer and writer" in waited and f"s for {ahead} to start" in waited


def test_waits_are_bounded_a_missing_stage_delays_and_never_stops_a_poller(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    store = store_of(tmp_path / "scada.db", CODES)
    monkeypatch.setattr(poller_start, "CENTRAL_WAIT_S", 0.2)
    monkeypatch.setattr(poller_start, "AHEAD_WAIT_S", 0.2)
    with caplog.at_level(logging.WARNING, "poller_start"):
        waited = take_turn(CODES[-1], tmp_path, store, central=True)
    assert "for the buffer and writer" in waited
    assert "started without waiting longer for buffer and writer" in caplog.text
    assert f"started without waiting longer for poller_{ahead_of(CODES[-1], CODES)}" in caplog.text
    # an edge host (no central stages here) waits only for the poller ahead
    assert "buffer" not in take_turn(CODES[-1], tmp_path, store, central=False)


def test_then_it_becomes_the_poller_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = store_of(tmp_path / "scada.db", CODES)
    execs: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(poller_start.os, "execv", lambda path, args: execs.append((path, args)))
    poller_start.main(["--plc", CODES[1], "--run-dir", str(tmp_path), "--store", str(store)])
    assert execs == [(sys.executable, [sys.executable, "-m", "services.poller", "--plc", CODES[1]])]
    with pytest.raises(SystemExit, match="usage"):
        poller_start.main(["--plc", CODES[1]])


def test_the_include_runs_each_poller_through_its_turn_and_a_new_plc_changes_no_other_program(
        tmp_path: Path) -> None:
    settings = Settings(scada_data_dir=tmp_path / "data", scada_run_dir=tmp_path / "run", _env_file=None)
    before = render(settings, CODES[:3], tmp_path, "/usr/bin/python3")
    after = render(settings, CODES[:4], tmp_path, "/usr/bin/python3")
    assert (f"command=/usr/bin/python3 -m services.cli.poller_start --plc {CODES[0]} --run-dir "
            f"{(tmp_path / 'run').resolve()} --store {(tmp_path / 'data' / 'scada.db').resolve()}\n") in before
    programs = before.split("[program:")[1:]
    assert all(p in after for p in programs)
