"""The gateway against real processes: pollers, buffer, writer and gateway under supervisord on
temporary endpoints, virtual-plc as the PLCs, an API token configured. The answers' shapes, the commands'
refusals, a poller away or mute, and CORS are tested in-process (tests/unit/services/gateway/)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.helpers import ROOT, scada_env, short_tmp, wait_for
from tests.supervisor_run import Supervisor, running_plant

pytestmark = pytest.mark.timeout(300)
TOKEN = "t0ken-for-tests-9f2c"
SECRET = "oracle-pw-never-shown"
A, B, C = "KRCWO12ELOA101", "KRCWO12ELOA102", "KRCWO12WELD201"


@pytest.fixture(scope="module")
def plant() -> Iterator[tuple[Supervisor, dict[str, str]]]:
    with running_plant(SCADA_API_TOKEN=TOKEN, ORACLE_PASSWORD=SECRET,
                       SCADA_CORS_ORIGINS="http://dashboard.example") as (sup, env):
        sup.wait_running()
        wait_for(lambda: _call(env, "GET", "/api/buffer/status")[0] == 200 and len(
            _call(env, "GET", "/api/polling/status")[1]["pollers"]) == 3, 30, what="telemetry from every stage")
        yield sup, env


def _call(env: dict[str, str], method: str, path: str, token: str | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{env['SCADA_API_PORT']}{path}", method=method,
                                     headers=headers or {})
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            raw = response.read()
            kind = response.headers.get("content-type", "")
            return response.status, json.loads(raw) if "json" in kind else raw.decode()
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except urllib.error.URLError as error:
        # supervisord calls the gateway RUNNING a second after its start; uvicorn may listen later on a
        # loaded machine. Status 0 = not listening; callers waiting for it poll, others fail on it.
        if isinstance(error.reason, ConnectionRefusedError):
            return 0, None
        raise


def get(env: dict[str, str], path: str) -> tuple[int, Any]:
    return _call(env, "GET", path)


def post(env: dict[str, str], path: str, token: str | None = TOKEN) -> tuple[int, Any]:
    return _call(env, "POST", path, token)


def test_polling_status_and_group_status(plant: tuple[Supervisor, dict[str, str]]) -> None:
    _, env = plant
    status, body = get(env, "/api/polling/status")
    assert status == 200 and body["is_running"] and body["total_groups"] == 12
    assert {p["plc_code"] for p in body["pollers"]} == {A, B, C}
    status, group = get(env, f"/api/polling/groups/FAST_1S/status?plc={A}")
    assert status == 200 and group["plc_code"] == A and group["mode"] == "FIXED" and group["tag_count"] == 150
    status, body = get(env, "/api/polling/groups/FAST_1S/status")
    assert status == 409 and sorted(body["detail"]["candidates"]) == [A, B, C]
    assert get(env, "/api/polling/groups/NOPE/status")[0] == 404
    assert get(env, f"/api/polling/groups/FAST_1S/status?plc={A.lower()}")[0] == 422
    status, queue = get(env, "/api/polling/queue/status")
    assert status == 200 and queue["capacity"] == 30_000 and {p["plc_code"] for p in queue["pollers"]} == {A, B, C}


def test_token_rules(plant: tuple[Supervisor, dict[str, str]]) -> None:
    _, env = plant
    path = f"/api/polling/groups/BATCH_HS/trigger?plc={A}"
    status, body = post(env, path, token=None)
    assert status == 401 and "Bearer" in body["detail"]
    assert post(env, path, token="wrong")[0] == 403
    status, body = post(env, path)
    assert status == 200 and body["values"] == 100
    for path in ("/api/polling/start-all", "/api/polling/stop-all", f"/api/polling/groups/FAST_1S/stop?plc={A}",
                 "/api/stages/writer/restart"):
        assert post(env, path, token=None)[0] == 401, path
    assert get(env, "/api/polling/status")[0] == 200  # reading needs no token


def test_buffer_writer_and_health(plant: tuple[Supervisor, dict[str, str]]) -> None:
    sup, env = plant
    status, buffer = get(env, "/api/buffer/status")
    assert status == 200 and buffer["max_size"] == 100_000 and buffer["received_values"] > 0
    wait_for(lambda: get(env, "/api/buffer/writer/metrics")[1].get("successful_writes", 0) > 0, 10,
             what="writer figures")
    status, writer = get(env, "/api/buffer/writer/metrics")
    assert status == 200 and writer["success_rate_pct"] == 100.0 and writer["sink"] == "sqlite"
    assert writer["throughput_items_per_sec"] > 0 and writer["avg_batch_size"] > 0
    status, health = get(env, "/api/buffer/health")
    assert status == 200 and health["status"] == "healthy" and health["reasons"] == []
    status, metrics = get(env, "/api/buffer/metrics")
    assert status == 200 and metrics["writer"]["is_running"] and metrics["buffer"]["max_size"] == 100_000
    assert "stopped" in sup.ctl("stop", "writer")
    try:
        status, health = get(env, "/api/buffer/health")
        assert status == 503 and "the writer is not reporting" in health["reasons"]
        assert get(env, "/api/buffer/writer/metrics")[0] == 503
    finally:
        assert "started" in sup.ctl("start", "writer")
    wait_for(lambda: get(env, "/api/buffer/health")[0] == 200, 15, what="healthy again")


def test_stages_through_supervisord(plant: tuple[Supervisor, dict[str, str]]) -> None:
    _, env = plant
    status, body = get(env, "/api/stages")
    names = {s["name"]: s["state"] for s in body["stages"]}
    assert status == 200 and names["buffer"] == "RUNNING" and names[f"pollers:{A}"] == "RUNNING"
    status, body = post(env, "/api/stages/writer/stop")
    assert status == 200 and body["state"] == "STOPPED"
    status, body = post(env, "/api/stages/writer/start")
    assert status == 200 and body["state"] == "RUNNING"
    status, body = post(env, f"/api/stages/pollers:{A}/restart")
    assert status == 200 and body["state"] == "RUNNING"
    assert post(env, "/api/stages/nosuch/start")[0] == 404
    assert post(env, "/api/stages/gateway/stop")[0] == 409
    assert post(env, "/api/stages/writer/explode")[0] == 422
    assert post(env, "/api/stages/writer/stop", token="wrong")[0] == 403


def test_latest_values_and_websockets(plant: tuple[Supervisor, dict[str, str]]) -> None:
    _, env = plant
    status, body = get(env, f"/api/values/latest?plc={A}&group=FAST_1S")
    assert status == 200 and body["count"] == 150
    value = next(v for v in body["values"] if v["address"] == "D9000")
    assert value["quality"] == "GOOD" and value["value"] == -12000 and value["ts"].endswith("Z")
    assert get(env, "/api/values/latest?plc=bad")[0] == 422
    port = env["SCADA_API_PORT"]
    with connect(f"ws://127.0.0.1:{port}/ws/polling", open_timeout=5) as ws:
        first = json.loads(ws.recv(timeout=3))
        second = json.loads(ws.recv(timeout=3))
    assert first["t"] == "polling" and first["total_groups"] == 12 and "pipeline" in first
    assert second["t"] == "polling"
    # a 10 s group: its first cycle may be a few seconds away
    wait_for(lambda: get(env, f"/api/values/latest?plc={B}&group=SLOW_10S")[1]["count"] > 0, 15,
             what="a cycle of SLOW_10S")
    with connect(f"ws://127.0.0.1:{port}/ws/values?plc={B}&group=SLOW_10S", open_timeout=5) as ws:
        message = json.loads(ws.recv(timeout=3))
    assert message["t"] == "values" and message["values"]
    assert {(v["plc_code"], v["group"]) for v in message["values"]} == {(B, "SLOW_10S")}


def test_prometheus_metrics(plant: tuple[Supervisor, dict[str, str]]) -> None:
    _, env = plant
    status, text = get(env, "/metrics")
    assert status == 200
    assert f'scada_group_cycles_total{{group="FAST_1S",plc="{A}"}}' in text
    assert "scada_buffer_capacity 100000.0" in text
    assert 'scada_stage_up{stage="buffer"} 1' in text
    assert "# TYPE scada_writer_values_written_total counter" in text


def test_no_secret_in_answers_or_logs(plant: tuple[Supervisor, dict[str, str]]) -> None:
    _, env = plant
    for path in ("/api/polling/status", "/api/buffer/metrics", "/api/stages", "/openapi.json", "/metrics",
                 "/api/buffer/health"):
        _, body = get(env, path)
        text = json.dumps(body)
        assert TOKEN not in text and SECRET not in text, path
    post(env, "/api/stages/nosuch/start", token="wrong-" + TOKEN)  # a wrong token must not be logged either
    for log in Path(env["SCADA_LOG_DIR"]).glob("*.log"):
        content = log.read_text(errors="replace")
        assert TOKEN not in content and SECRET not in content, log.name


def test_gateway_refuses_to_listen_beyond_loopback_without_a_token() -> None:
    env = scada_env(short_tmp(), SCADA_API_HOST="0.0.0.0")
    result = subprocess.run([sys.executable, "-m", "services.gateway"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2 and "SCADA_API_TOKEN" in result.stderr
