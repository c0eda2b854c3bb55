"""Every answer against its response model, with the figures real stages publish; a renamed field fails."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.exceptions import ResponseValidationError
from fastapi.testclient import TestClient
from pydantic import TypeAdapter, ValidationError

from services.buffer.buffer_service import BufferService
from services.gateway.answers import PollingStatusAnswer
from services.poller.poller_service import PollerService
from tests.integration.poller_harness import PLC
from tests.unit.services.gateway.conftest import Stages


def test_every_status_answer_is_whole_with_the_figures_real_stages_publish(stages: Stages,
                                                                           client: TestClient) -> None:
    stages.publish_all(client)
    buffer = client.get("/api/buffer/status")
    assert buffer.status_code == 200
    assert buffer.json()["max_size"] == stages.settings.buffer_max_size and buffer.json()["last_seen_ms"] > 0
    writer = client.get("/api/buffer/writer/metrics")
    assert writer.status_code == 200 and writer.json()["sink"] == stages.writer.sink.name
    pipeline = client.get("/api/buffer/metrics").json()
    assert pipeline["buffer"]["is_running"] and pipeline["writer"]["is_running"]
    assert pipeline["buffer"]["current_size"] == 0
    polling = client.get("/api/polling/status")
    assert polling.status_code == 200
    answer = TypeAdapter(PollingStatusAnswer).validate_python(polling.json())  # built outside FastAPI's check
    assert [p["plc_code"] for p in answer["pollers"]] == [PLC] and answer["total_groups"] == 2
    group = client.get(f"/api/polling/groups/HS/status?plc={PLC}")
    assert group.status_code == 200 and group.json()["mode"] == "HANDSHAKE" and group.json()["tag_count"] == 3
    queue = client.get("/api/polling/queue/status").json()
    assert queue["pollers"][0]["plc_code"] == PLC and queue["pollers"][0]["capacity"] == 10_000
    health = client.get("/api/buffer/health")
    assert health.json()["writer_ok"] and health.json()["buffer_ok"]


def test_openapi_shows_every_field_of_every_answer(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            content = operation["responses"]["200"].get("content", {})
            if path == "/metrics":
                continue  # Prometheus text
            assert content.get("application/json", {}).get("schema"), f"{method.upper()} {path} shows no answer"
    parts = schema["components"]["schemas"]
    assert "current_size" in parts["BufferStatusAnswer"]["properties"]
    assert "lateness_p99_ms" in parts["GroupFigures"]["properties"]
    assert "connections" in parts["PollerAnswer"]["properties"]


def _renamed(figures: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    figures = dict(figures)
    figures[new] = figures.pop(old)
    return figures


def test_a_field_renamed_in_the_buffer_fails_the_gateway(stages: Stages, client: TestClient,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    figures = BufferService.figures
    monkeypatch.setattr(BufferService, "figures",
                        lambda self: _renamed(figures(self), "current_size", "size"))  # type: ignore[arg-type]
    stages.publish(client, "buffer", stages.buffer.figures)
    with pytest.raises(ResponseValidationError, match="current_size"):
        client.get("/api/buffer/status")


def test_a_field_renamed_in_a_polling_group_fails_the_gateway(stages: Stages, client: TestClient,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    figures = PollerService.figures

    def renamed(self: PollerService) -> dict[str, Any]:
        body: dict[str, Any] = dict(figures(self))
        body["groups"] = [_renamed(dict(g), "deadlines_missed", "missed") for g in body["groups"]]
        return body

    monkeypatch.setattr(PollerService, "figures", renamed)
    stages.publish(client, "poller", stages.poller.figures, PLC)
    with pytest.raises(ValidationError, match="deadlines_missed"):
        TypeAdapter(PollingStatusAnswer).validate_python(client.get("/api/polling/status").json())
    with pytest.raises(ResponseValidationError, match="deadlines_missed"):
        client.get(f"/api/polling/groups/FAST/status?plc={PLC}")
