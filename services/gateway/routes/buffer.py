"""/api/buffer: the buffer and the writer as they report themselves."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from services.gateway.deps import TelemetryDep

router = APIRouter(prefix="/api/buffer", tags=["buffer"])

BUFFER_FIELDS = ("current_size", "max_size", "utilization_pct", "overflow_count", "overflow_rate_pct",
                 "received_values", "leased_batches", "leased_values", "acked_values", "expired_leases",
                 "bad_frames", "alerting", "alert_threshold_pct", "writers")


@router.get("/status", summary="Buffer size, utilisation and overflow")
def get_status(telemetry: TelemetryDep) -> dict[str, Any]:
    status = telemetry.stage("status.buffer")
    if status is None or not status.fresh:
        raise HTTPException(503, detail="the buffer stage is not reporting (down, or not started)")
    body = status.body
    return {**{k: body.get(k) for k in BUFFER_FIELDS}, "last_seen_ms": body.get("ts")}
