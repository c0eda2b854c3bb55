"""/api/polling: the polling engine as the pollers report it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.gateway.deps import TelemetryDep
from services.gateway.telemetry import TelemetryStore

router = APIRouter(prefix="/api/polling", tags=["polling"])


def polling_status(telemetry: TelemetryStore) -> dict[str, Any]:
    """The engine status: every poller, every group, the send queues."""
    pollers = []
    groups = []
    queue = {"size": 0, "capacity": 0, "dropped": 0}
    for status in telemetry.prefixed("status.poller."):
        body = status.body
        alive = status.fresh and not body.get("stopped", False)
        pollers.append({"plc_code": body.get("plc_code"), "alive": alive, "pid": body.get("pid"),
                        "last_seen_ms": body.get("ts"), "protocol": body.get("protocol"),
                        "connections": body.get("connections", []), "queue": body.get("queue", {})})
        for group in body.get("groups", []):
            groups.append({**group, "state": group.get("state") if alive else "DOWN"})
        for key in queue:
            queue[key] += int(body.get("queue", {}).get(key, 0))
    running = [g for g in groups if g.get("state") == "RUNNING"]
    return {
        "is_running": any(p["alive"] for p in pollers),
        "total_groups": len(groups),
        "running_groups": len(running),
        "pollers": pollers,
        "groups": groups,
        "queue": queue,
    }


@router.get("/status", summary="Polling engine status")
def get_status(telemetry: TelemetryDep) -> dict[str, Any]:
    return polling_status(telemetry)
