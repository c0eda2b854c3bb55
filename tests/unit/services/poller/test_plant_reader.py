"""A poller's plant read by a child process: the same objects as the model's loaders, and every way it fails."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.config_store import model
from common.config_store.csv_import import import_csv
from common.config_store.schema import open_store
from common.settings import Settings
from services.poller.plant import Plant, load_plant
from services.poller.plant_reader import PlcRows, StoreReadFailed, read_plc_rows
from tests.helpers import ROOT, SAMPLE, wait_for

PLCS = ("KRCWO12ELOA101", "KRCWO12ELOA102", "KRCWO12WELD201")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    path = Settings(scada_data_dir=tmp_path, _env_file=None).config_db  # where a poller of that folder looks
    conn = open_store(path)
    import_csv(conn, [SAMPLE])
    conn.close()
    yield path


@pytest.mark.parametrize("plc_code", PLCS)
def test_the_child_reads_what_the_model_reads(store: Path, plc_code: str) -> None:
    rows = read_plc_rows(store, plc_code)
    conn = open_store(store)
    try:
        assert rows == PlcRows(model.load_plc(conn, plc_code), model.load_groups(conn, plc_code),
                               model.load_tags(conn, plc_code),
                               [p.plc_code for p in model.load_plcs(conn, active_only=True)])
    finally:
        conn.close()
    assert rows.tags and rows.groups
    assert {t.group_name for t in rows.tags} <= {g.group_name for g in rows.groups}


def test_an_inactive_plc_is_not_among_the_codes_that_set_the_phases(store: Path) -> None:
    conn = open_store(store)
    conn.execute("UPDATE plcs SET is_active = 0 WHERE plc_code = ?", (PLCS[0],))
    conn.close()
    rows = read_plc_rows(store, PLCS[0])
    assert rows.plc is not None and not rows.plc.is_active
    assert rows.active_codes == list(PLCS[1:])


def test_a_missing_plc_or_store_is_none_and_no_store_is_made(store: Path, tmp_path: Path) -> None:
    assert read_plc_rows(store, "KRNOSUCHPLC001") == PlcRows(None, [], [], [])
    assert read_plc_rows(tmp_path / "elsewhere.db", PLCS[0]) == PlcRows(None, [], [], [])
    assert not (tmp_path / "elsewhere.db").exists()


def test_a_store_that_is_no_database_fails_with_the_childs_reason(tmp_path: Path) -> None:
    broken = tmp_path / "config.db"
    broken.write_bytes(b"this is not an SQLite file, it was overwritten by a copy gone wrong" * 100)
    with pytest.raises(StoreReadFailed, match="not a database"):
        read_plc_rows(broken, PLCS[0])


def test_a_locked_store_is_waited_for_and_the_poller_comes_up_once_it_is_free(
        store: Path, caplog: pytest.LogCaptureFixture) -> None:
    # an import holds the store (an exclusive lock) longer than the child's busy timeout of 5 s
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    loaded: list[Plant] = []
    settings = Settings(scada_data_dir=store.parent, _env_file=None)
    waiting = threading.Thread(target=lambda: loaded.append(load_plant(settings, PLCS[1])), daemon=True)
    try:
        with caplog.at_level(logging.WARNING, logger="poller"):
            waiting.start()
            wait_for(lambda: "not readable" in caplog.text, 20, what="the poller's warning of a busy store")
            assert not loaded and "database is locked" in caplog.text
    finally:
        holder.execute("COMMIT")
        holder.close()
    waiting.join(timeout=30)
    assert loaded and len(loaded[0].tags_of(loaded[0].groups[0])) > 0, "no plant once the store was free"


def test_a_poller_that_read_its_plant_has_no_sqlite_loaded(store: Path) -> None:
    # a fresh interpreter, as supervisord starts a poller: its entry module, then the read of its plant
    probe = ("import json, sys, runpy; sys.argv = ['poller']; "
             "runpy.run_module('services.poller.__main__', run_name='not_main'); "
             "from services.poller.plant_reader import read_plc_rows; "
             f"rows = read_plc_rows({str(store)!r}, {PLCS[1]!r}); "
             "print(json.dumps({'tags': len(rows.tags), 'sqlite': [m for m in ('sqlite3', '_sqlite3') "
             "if m in sys.modules]}))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=True)
    assert json.loads(done.stdout) == {"tags": 470, "sqlite": []}
