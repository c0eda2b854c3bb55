"""GET /api/buffer/health names the disk and the path a stage cannot write (built from the stages' statuses)."""

from __future__ import annotations

import json
import time
from typing import Any

from common.disk import DiskState
from services.gateway.routes.buffer import health
from services.gateway.telemetry import StageStatus


class Statuses:
    """Stands in for the gateway's TelemetryStore: the last status of each stage."""

    def __init__(self, **bodies: dict[str, Any]) -> None:
        self.latest = {topic.replace("__", "."): StageStatus(topic.replace("__", "."), time.monotonic(), body)
                       for topic, body in bodies.items()}

    def stage(self, topic: str) -> StageStatus | None:
        return self.latest.get(topic)

    def prefixed(self, prefix: str) -> list[StageStatus]:
        return [s for t, s in sorted(self.latest.items()) if t.startswith(prefix)]


def test_a_full_disk_makes_health_503_naming_stage_path_and_free_bytes(tmp_path: Any) -> None:
    full = DiskState(clock=lambda: 1_795_000_000.0)
    full.failed(tmp_path / "buffer.journal", OSError(28, "No space left on device"))
    writer = {"database_ok": True, "backup_files_pending": 0, "sink": "sqlite"}
    answer = health(Statuses(status__buffer={"alerting": False, "disk": full.figures()},  # type: ignore[arg-type]
                             status__writer=writer,
                             status__poller__KRCWO12ELOA101={"disk": DiskState().figures()}))
    body = json.loads(bytes(answer.body))
    assert answer.status_code == 503 and body["disk_ok"] is False
    [reason] = body["reasons"]
    assert reason.startswith("disk: buffer cannot write ") and str(tmp_path / "buffer.journal") in reason
    assert "No space left on device" in reason and "bytes free" in reason and "since 2026-11-18T" in reason
    assert body["details"]["disk_problems"][0]["stage"] == "buffer"

    fine = health(Statuses(status__buffer={"alerting": False, "disk": DiskState().figures()},  # type: ignore[arg-type]
                           status__writer=writer))
    assert fine.status_code == 200 and json.loads(bytes(fine.body))["disk_ok"] is True
