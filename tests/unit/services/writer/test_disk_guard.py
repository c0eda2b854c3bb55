"""The writer's disk guard at the boundary (free space as a function the test controls): below
HISTORIAN_MIN_FREE_MB nothing is written and the batch is held; health says why; writing resumes after."""

from __future__ import annotations

import json
from pathlib import Path

import zmq

from common.settings import Settings
from common.wire.block import Block
from services.gateway.routes import buffer as buffer_routes
from services.writer.disk_guard import MB, DiskGuard
from services.writer.writer_service import WriterService
from tests.integration.test_writer_faults import FakeTelemetry

PLC = "KRCWO12ELOA101"


def test_the_guard_looks_at_each_disk_at_most_once_a_second() -> None:
    free = {"/data": 900 * MB, "/backup": 5000 * MB}
    now = [0.0]
    looks: list[Path] = []

    def free_of(path: Path) -> int:
        looks.append(path)
        return free[str(path)]

    guard = DiskGuard([Path("/data"), Path("/backup"), Path("/data")], 1024, free_of, clock=lambda: now[0])
    assert guard.low() and looks == [Path("/data"), Path("/backup")]  # each disk once
    assert guard.status()["low"] == [{"path": "/data", "free_bytes": 900 * MB}]
    assert "HISTORIAN_MIN_FREE_MB (1,024 MB) at /data: 900 MB free" in str(guard.status()["reason"])
    free["/data"] = 2000 * MB
    now[0] = 0.5
    assert guard.low() and len(looks) == 2  # not looked at again yet
    now[0] = 1.0
    assert not guard.low() and guard.status() == {"ok": True, "min_free_bytes": 1024 * MB, "since_ms": None,
                                                  "low": [], "reason": None}
    assert not DiskGuard([Path("/data")], 0, lambda p: 0).low()  # 0: no guard


def test_below_the_threshold_the_writer_holds_its_batch_and_health_says_why(tmp_path: Path) -> None:
    settings = Settings(scada_data_dir=tmp_path / "data", historian_min_free_mb=100,
                        _env_file=None)
    writer = WriterService(settings, ctx=zmq.Context())
    free = {"bytes": 99 * MB}
    writer.guard.free = lambda path: free["bytes"]
    blocks = [Block.of_values(PLC, "G", 1, 1_800_000_000_000, [["D0", 1, "GOOD"], ["D1", 2, "GOOD"]], cycle=7)]
    assert writer.write_batch(blocks) == "kept"
    assert not settings.historian_db.exists() and not writer.backups.pending()  # nothing written anywhere
    figures = writer.figures()
    assert figures["disk_guard"]["ok"] is False
    reply = buffer_routes.health(FakeTelemetry(buffer={"alerting": False}, writer=figures))  # type: ignore[arg-type]
    body = json.loads(bytes(reply.body))
    assert reply.status_code == 503 and body["disk_ok"] is False
    assert any("HISTORIAN_MIN_FREE_MB (100 MB)" in r and "99 MB free" in r and "held" in r for r in body["reasons"])
    free["bytes"] = 101 * MB
    writer.guard._checked = -1.0  # the next look is due (once a second in the writer)
    assert writer.write_batch(blocks) == "committed"
    assert writer.sink.cycle_counts(1_800_000_000_000, 1_800_000_000_001) == {(PLC, "G", 7): 2}
    writer.sink.close()
