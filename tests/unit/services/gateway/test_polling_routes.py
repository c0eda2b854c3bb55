"""/api/polling's commands in-process: the gateway's app against a real poller's control link and its
command table on temporary ipc endpoints; tokens, refusals and their HTTP statuses, a poller away or mute."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import zmq.asyncio
from fastapi.testclient import TestClient

from common.settings import Settings
from common.wire.control import Command
from services.gateway.app import create_app
from services.poller.control import ControlLink
from tests.helpers import wait_for
from tests.integration.poller_harness import PLC
from tests.unit.services.gateway.conftest import Stages

TOKEN = "t0ken-for-tests-9f2c"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


class PollerEnd:
    """A poller's control link in a thread of its own, answering with ``handler``."""

    def __init__(self, endpoint: str, groups: list[str], handler: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.endpoint, self.groups, self.handler = endpoint, groups, handler
        self.task: asyncio.Task[None] | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        ctx = zmq.asyncio.Context()
        link = ControlLink(ctx, self.endpoint, PLC, self.groups, self.handler)
        self.task = self.loop.create_task(link.run())
        self.ready.set()
        try:
            self.loop.run_until_complete(self.task)
        except asyncio.CancelledError:
            pass
        finally:
            link.close()
            ctx.term()

    def stop(self) -> None:
        assert self.task is not None
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(5)


@pytest.fixture
def gateway(stages: Stages) -> Iterator[TestClient]:
    settings = Settings(**{**stages.settings.model_dump(), "scada_api_token": TOKEN, "api_poller_timeout_s": 0.5,
                           "scada_cors_origins": "http://dashboard.example", "api_trigger_min_interval_ms": 0},
                        _env_file=None)
    with TestClient(create_app(settings)) as client:
        yield client


def _connected(client: TestClient) -> bool:
    return bool(client.app.state.control.connected(PLC))  # type: ignore[attr-defined]


def test_commands_reach_the_poller_and_its_refusals_are_http_statuses(stages: Stages, gateway: TestClient) -> None:
    for reader in stages.poller.groups.values():
        reader.epoch = 1  # as the poller's start sets it
    poller = PollerEnd(stages.settings.control_endpoint, list(stages.poller.groups), stages.poller.commands.answer)
    try:
        wait_for(lambda: _connected(gateway), 5, interval=0.05, what="the poller's hello")
        stop = f"/api/polling/groups/FAST/stop?plc={PLC}"
        answer = gateway.post(stop)
        assert answer.status_code == 401 and "Bearer" in answer.json()["detail"]
        assert gateway.post(stop, headers={"Authorization": "Bearer wrong"}).status_code == 403
        assert gateway.post(stop, headers=BEARER).json() == {"plc_code": PLC, "group": "FAST", "state": "STOPPED"}
        assert stages.poller.groups["FAST"].state.value == "STOPPED"
        started = gateway.post(f"/api/polling/groups/FAST/start?plc={PLC}", headers=BEARER)
        assert started.status_code == 200 and started.json()["state"] == "RUNNING"
        assert gateway.post(f"/api/polling/groups/NOPE/start?plc={PLC}", headers=BEARER).status_code == 404
        fixed = gateway.post(f"/api/polling/groups/FAST/trigger?plc={PLC}", headers=BEARER)
        assert fixed.status_code == 409 and "FIXED" in fixed.json()["detail"]
        unread = gateway.post(f"/api/polling/groups/HS/trigger?plc={PLC}", headers=BEARER)  # no PLC on port 1
        assert unread.status_code == 502 and "HS cycle 1" in unread.json()["detail"]
        stopped = gateway.post(f"/api/polling/stop-all?plc={PLC}", headers=BEARER)
        assert {g["state"] for g in stopped.json()["results"][0]["groups"]} == {"STOPPED"}
        assert gateway.post("/api/polling/start-all?plc=KRNOSUCHPLC001", headers=BEARER).status_code == 404
        assert gateway.get("/api/polling/status").status_code == 200  # reading needs no token
    finally:
        poller.stop()


def test_a_poller_away_is_503_and_a_mute_one_504(stages: Stages, gateway: TestClient) -> None:
    path = f"/api/polling/groups/HS/trigger?plc={PLC}"
    away = gateway.post(path, headers=BEARER)
    assert away.status_code == 503 and "not connected" in away.json()["detail"]

    async def mute(command: Command) -> dict[str, Any]:
        await asyncio.sleep(30)
        return {}

    poller = PollerEnd(stages.settings.control_endpoint, ["HS"], mute)
    try:
        wait_for(lambda: _connected(gateway), 5, interval=0.05, what="the poller's hello")
        silent = gateway.post(path, headers=BEARER)
        assert silent.status_code == 504 and "did not answer trigger" in silent.json()["detail"]
    finally:
        poller.stop()


def test_cors_lets_in_the_configured_origin_only(gateway: TestClient) -> None:
    preflight = gateway.options("/api/polling/start-all", headers={"Origin": "http://dashboard.example",
                                                                   "Access-Control-Request-Method": "POST"})
    assert preflight.headers["access-control-allow-origin"] == "http://dashboard.example"
    other = gateway.get("/api/polling/status", headers={"Origin": "http://elsewhere.example"})
    assert "access-control-allow-origin" not in other.headers
