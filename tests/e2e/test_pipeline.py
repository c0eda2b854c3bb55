"""The whole pipeline under a real supervisord: simulator -> pollers -> buffer -> writer -> SQLite.

One supervisord in the foreground on temporary directories, free ports and
ipc paths; the sample plant on free PLC ports.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from common.config_store import model
from common.config_store.schema import open_store
from services.simulator.patterns import constant_value, is_constant
from tests.helpers import ROOT, scada, wait_for
from tests.supervisor_run import Supervisor, running_plant

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def plant() -> Iterator[tuple[Supervisor, dict[str, str]]]:
    with running_plant() as running:
        yield running


def _historian(env: dict[str, str]) -> sqlite3.Connection:
    return sqlite3.connect(Path(env["SCADA_DATA_DIR"]) / "tag_data.db", timeout=10)


def _fixed_tags(env: dict[str, str]) -> list[model.Tag]:
    conn = open_store(Path(env["SCADA_DATA_DIR"]) / "scada.db")
    fixed = {(g.plc_code, g.group_name) for g in model.load_groups(conn) if g.mode == "FIXED" and g.is_active}
    tags = [t for t in model.load_tags(conn) if (t.plc_code, t.group_name) in fixed]
    conn.close()
    return tags


def _get(env: dict[str, str], path: str) -> Any:
    url = f"http://127.0.0.1:{env['SCADA_API_PORT']}{path}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_every_stage_runs_and_every_fixed_tag_arrives(plant: tuple[Supervisor, dict[str, str]]) -> None:
    sup, env = plant
    states = sup.wait_running()
    assert set(states) >= {"simulator", "gateway", "buffer", "writer", "poller-KRCWO12ELOA101",
                           "poller-KRCWO12ELOA102", "poller-KRCWO12WELD201"}
    expected = {(t.plc_code, str(t.device_address)) for t in _fixed_tags(env)}
    assert len(expected) == 3 * 370

    def stored() -> bool:
        if not (Path(env["SCADA_DATA_DIR"]) / "tag_data.db").exists():
            return False
        with _historian(env) as db:
            try:
                got = set(db.execute("SELECT DISTINCT plc_code, tag_address FROM TAG_DATA WHERE quality = 'GOOD'"))
            except sqlite3.OperationalError:
                return False
        return expected <= got

    wait_for(stored, 30, interval=1, what="a row for every tag of every FIXED group")


def test_constants_read_back_exactly(plant: tuple[Supervisor, dict[str, str]]) -> None:
    _, env = plant
    constants = [t for t in _fixed_tags(env) if is_constant(t.device_address)]
    assert len(constants) == 3 * 25
    with _historian(env) as db:
        for tag in constants:
            rows = db.execute(
                "SELECT tag_value, quality FROM TAG_DATA WHERE plc_code = ? AND tag_address = ?",
                (tag.plc_code, tag.address)).fetchall()
            assert rows, f"no rows for {tag.plc_code} {tag.address}"
            want = constant_value(tag.device_address, tag.type)
            good = {r[0] for r in rows if r[1] == "GOOD"}
            assert good == {want}, f"{tag.plc_code} {tag.address} {tag.data_type}"
            # Cycles before the simulator listened are stored as BAD with no value: a gap, not a number.
            assert all(r[0] is None and r[1] == "BAD_CONNECTION" for r in rows if r[1] != "GOOD")


def test_counters_increase(plant: tuple[Supervisor, dict[str, str]]) -> None:
    _, env = plant
    time.sleep(3)
    with _historian(env) as db:
        for plc in ("KRCWO12ELOA101", "KRCWO12ELOA102", "KRCWO12WELD201"):
            values = [r[0] for r in db.execute(
                "SELECT tag_value FROM TAG_DATA WHERE plc_code = ? AND tag_address = 'D5' AND quality = 'GOOD' "
                "ORDER BY ts", (plc,))]
            assert len(values) >= 3, plc
            assert all(b >= a for a, b in itertools.pairwise(values)), values
            assert values[-1] > values[0], values


def test_tap_prints_live_messages(plant: tuple[Supervisor, dict[str, str]]) -> None:
    _, env = plant
    result = scada(env, "tap", "--count", "3", "--timeout", "10")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3
    for line in lines:
        assert line["topic"].startswith("data.KRCW")
        message = line["message"]
        assert message["t"] == "polling_data" and message["values"]
        assert all(q == "GOOD" for _, _, q in message["values"])


def test_api_answers_from_live_telemetry(plant: tuple[Supervisor, dict[str, str]]) -> None:
    _, env = plant
    polling = _get(env, "/api/polling/status")
    assert polling["is_running"] is True
    assert polling["total_groups"] == 12 and polling["running_groups"] == 12  # HANDSHAKE groups watch their trigger
    fast = [g for g in polling["groups"] if g["name"] == "FAST_1S"]
    assert len(fast) == 3
    # Cycles before the simulator listened count as errors; the latest one must be good.
    assert all(g["cycles"] > g["errors"] and g["last_good_ms"] == g["last_start_ms"] for g in fast), fast
    buffer = _get(env, "/api/buffer/status")
    assert buffer["max_size"] == 100_000
    assert buffer["received_values"] > 0 and buffer["acked_values"] > 0
    with urllib.request.urlopen(f"http://127.0.0.1:{env['SCADA_API_PORT']}/docs", timeout=5) as response:
        assert b"swagger" in response.read().lower()


def test_writer_stopped_and_started_loses_nothing(plant: tuple[Supervisor, dict[str, str]]) -> None:
    sup, env = plant
    assert "stopped" in sup.ctl("stop", "writer")
    time.sleep(4)
    with _historian(env) as db:
        before = db.execute("SELECT count(*) FROM TAG_DATA").fetchone()[0]
    assert "started" in sup.ctl("start", "writer")
    time.sleep(4)
    sizes = {(t.plc_code, t.group_name) for t in _fixed_tags(env)}
    group_size: dict[tuple[str, str], int] = {}
    for t in _fixed_tags(env):
        group_size[(t.plc_code, t.group_name)] = group_size.get((t.plc_code, t.group_name), 0) + 1
    with _historian(env) as db:
        after = db.execute("SELECT count(*) FROM TAG_DATA").fetchone()[0]
        assert after > before
        for plc, group, first, last, cycles in db.execute(
                # a cycle number is epoch << 32 | seq: its sequence in this poller's run is the low 32 bits
                "SELECT plc_code, group_name, min(cycle % 4294967296), max(cycle % 4294967296), "
                "count(DISTINCT cycle) FROM TAG_DATA GROUP BY 1, 2"):
            assert (plc, group) in sizes
            assert first == 1 and cycles == last, f"{plc} {group}: cycles missing ({first}..{last}, {cycles})"
            rows = db.execute("SELECT count(*) FROM TAG_DATA WHERE plc_code = ? AND group_name = ?",
                              (plc, group)).fetchone()[0]
            assert rows == cycles * group_size[(plc, group)], f"{plc} {group}: values missing"


def test_cli_entry_point_is_installed() -> None:
    scada_bin = Path(sys.executable).parent / "scada"
    result = subprocess.run([str(scada_bin), "--help"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and "supervisor-conf" in result.stdout


def _post(env: dict[str, str], path: str, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{env['SCADA_API_PORT']}{path}", method="POST")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_trigger_through_the_gateway_reaches_the_poller(plant: tuple[Supervisor, dict[str, str]]) -> None:
    _, env = plant
    status, body = _post(env, "/api/polling/groups/BATCH_HS/trigger?plc=KRCWO12ELOA102")
    assert status == 200, body
    assert body["values"] == 100 and body["sequence"] >= 1 and body["duration_ms"] > 0
    time.sleep(0.25)  # past API_TRIGGER_MIN_INTERVAL_MS (200 ms); sooner answers 429
    status, again = _post(env, "/api/polling/groups/BATCH_HS/trigger?plc=KRCWO12ELOA102")
    assert status == 200 and again["sequence"] == body["sequence"] + 1 and again["cycle"] == body["cycle"] + 1
    status, body = _post(env, "/api/polling/groups/BATCH_HS/trigger")  # on all three PLCs
    assert status == 409 and sorted(body["detail"]["candidates"]) == [
        "KRCWO12ELOA101", "KRCWO12ELOA102", "KRCWO12WELD201"]
    status, body = _post(env, "/api/polling/groups/FAST_1S/trigger?plc=KRCWO12ELOA102")
    assert status == 409 and "FIXED" in body["detail"]
    status, body = _post(env, "/api/polling/groups/NO_SUCH/trigger?plc=KRCWO12ELOA102")
    assert status == 404
    # the triggered cycles reach the historian like any other
    with _historian(env) as db:
        wait_for(lambda: db.execute("SELECT count(DISTINCT cycle) FROM TAG_DATA WHERE plc_code = 'KRCWO12ELOA102' "
                                    "AND group_name = 'BATCH_HS'").fetchone()[0] >= 2, 10, what="triggered rows")


def test_stop_and_start_a_group_through_the_gateway(plant: tuple[Supervisor, dict[str, str]]) -> None:
    _, env = plant
    status, body = _post(env, "/api/polling/groups/MID_5S/stop?plc=KRCWO12WELD201")
    assert status == 200 and body["state"] == "STOPPED"
    wait_for(lambda: _get(env, "/api/polling/groups/MID_5S/status?plc=KRCWO12WELD201")["state"] == "STOPPED", 5,
             what="the stop in the telemetry")
    status, body = _post(env, "/api/polling/groups/MID_5S/start?plc=KRCWO12WELD201")
    assert status == 200 and body["state"] == "RUNNING"
    queue = _get(env, "/api/polling/queue/status")
    assert queue["capacity"] == 30_000 and len(queue["pollers"]) == 3


def test_scada_pollers_stops_and_starts_every_poller(plant: tuple[Supervisor, dict[str, str]]) -> None:
    sup, env = plant
    others = {n: p for n, p in sup.pids_by_name().items() if not n.startswith("poller-")}
    out = scada(env, "pollers", "stop").stdout
    assert out.count("STOPPED") == 3, out
    assert all(s == "STOPPED" for n, s in sup.states().items() if n.startswith("poller-"))
    out = scada(env, "pollers", "start").stdout
    assert out.count("RUNNING") == 3, out
    sup.wait_running()
    assert {n: p for n, p in sup.pids_by_name().items() if not n.startswith("poller-")} == others
