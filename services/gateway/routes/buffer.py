"""/api/buffer: the buffer and the writer as they report themselves."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse

from common.times import iso_ms
from services.gateway.answers import (
    BufferStatusAnswer,
    HealthAnswer,
    PipelineAnswer,
    WriterMetricsAnswer,
)
from services.gateway.deps import TelemetryDep
from services.gateway.telemetry import TelemetryStore

router = APIRouter(prefix="/api/buffer", tags=["buffer"])

def _fresh(telemetry: TelemetryStore, stage: str) -> dict[str, Any] | None:
    status = telemetry.stage(f"status.{stage}")
    if status is None or not status.fresh or status.body.get("is_running") is False:
        return None
    return status.body


def buffer_figures(telemetry: TelemetryStore) -> dict[str, Any]:
    body = _fresh(telemetry, "buffer")
    if body is None:
        raise HTTPException(503, detail="the buffer stage is not reporting (down, or not started)")
    return {**body, "last_seen_ms": body["ts"]}


def writer_figures(telemetry: TelemetryStore) -> dict[str, Any]:
    body = _fresh(telemetry, "writer")
    if body is None:
        raise HTTPException(503, detail="the writer stage is not reporting (down, or not started)")
    return {**body, "is_running": True, "last_seen_ms": body["ts"]}


def disk_problems(telemetry: TelemetryStore) -> list[dict[str, Any]]:
    """Every file a reporting stage (buffer, pollers) cannot write, as it published it (common/disk.py)."""
    problems = []
    for status in [*telemetry.prefixed("status.buffer"), *telemetry.prefixed("status.poller.")]:
        if not status.fresh:
            continue
        stage = status.topic.removeprefix("status.")
        for problem in (status.body.get("disk") or {}).get("problems", []):
            problems.append({"stage": stage, **problem})
    return problems


def disk_reason(problem: dict[str, Any]) -> str:
    free = problem.get("free_bytes")
    since = problem.get("since_ms")
    return (f"disk: {problem['stage']} cannot write {problem.get('path')} since "
            f"{iso_ms(int(since)) if since is not None else '?'} ({problem.get('error')}; "
            f"{'unknown' if free is None else f'{int(free):,}'} bytes free); "
            "what it cannot write is kept in memory until the disk takes it")


@router.get("/status", summary="Buffer size, utilisation and overflow", response_model=BufferStatusAnswer)
def get_status(telemetry: TelemetryDep) -> dict[str, Any]:
    return buffer_figures(telemetry)


@router.get("/writer/metrics", summary="Writer figures over the last 5 minutes",
            response_model=WriterMetricsAnswer)
def writer_metrics(telemetry: TelemetryDep) -> dict[str, Any]:
    return writer_figures(telemetry)


@router.get("/health", summary="Healthy (200) or not (503), with the reasons",
            responses={200: {"model": HealthAnswer},
                       503: {"model": HealthAnswer, "description": "not healthy; `reasons` says why"}})
def health(telemetry: TelemetryDep) -> JSONResponse:
    buffer = _fresh(telemetry, "buffer")
    writer = _fresh(telemetry, "writer")
    reasons = []
    if buffer is None:
        reasons.append("the buffer is not reporting")
    elif buffer.get("alerting"):
        reasons.append(f"buffer utilisation {buffer.get('utilization_pct')}% is above the alert threshold")
    if buffer is not None and buffer.get("overflow_last_minute"):
        reasons.append(f"buffer overflow: {buffer['overflow_last_minute']:,} values dropped in the last minute "
                       "(counted in the ledger)")
    reasons.extend(disk_reasons({"buffer": buffer, "writer": writer}))
    if writer is None:
        reasons.append("the writer is not reporting")
    elif writer.get("database_ok") is False:
        reasons.append(f"the database is not taking writes: {writer.get('last_error')}")
    pending = int((writer or {}).get("backup_files_pending") or 0)
    if pending:
        reasons.append(f"{pending} backup file(s) waiting to be replayed")
    disks = disk_problems(telemetry)
    reasons += [disk_reason(p) for p in disks]
    body = {
        "status": "healthy" if not reasons else "unhealthy",
        "buffer_ok": buffer is not None and not buffer.get("alerting"),
        "writer_ok": writer is not None,
        "oracle_connection_ok": bool(writer and writer.get("database_ok") is not False),
        "database": (writer or {}).get("sink"),
        "reasons": reasons,
        "disk_ok": not disks,
        "details": {"buffer_utilization_pct": (buffer or {}).get("utilization_pct"),
                    "backup_file_count": pending, "disk_problems": disks},
    }
    return JSONResponse(body, status_code=200 if not reasons else 503)


def disk_reasons(bodies: dict[str, dict[str, Any] | None]) -> list[str]:
    """A stage's ``disk`` status object ({"path", "mount", "free_bytes", "error", "since_ms"}) as health reasons."""
    reasons = []
    for stage, body in bodies.items():
        disk = (body or {}).get("disk")
        if isinstance(disk, dict) and disk.get("error"):
            where = f"{disk.get('path')}" + (f" (disk {disk['mount']})" if disk.get("mount") else "")
            free = disk.get("free_bytes")
            reasons.append(f"{stage}: disk at {where} refuses writes: {disk['error']}"
                           + (f"; {free:,} bytes free" if isinstance(free, int) else ""))
    return reasons


@router.get("/metrics", summary="Buffer, writer and backups together", response_model=PipelineAnswer)
def metrics(telemetry: TelemetryDep) -> dict[str, Any]:
    return pipeline(telemetry)


def pipeline(telemetry: TelemetryStore) -> dict[str, Any]:
    buffer = _fresh(telemetry, "buffer")
    writer = _fresh(telemetry, "writer")
    return {
        "buffer": {**(buffer or {}), "is_running": buffer is not None},
        "writer": {**(writer or {}), "is_running": writer is not None},
        "backup": {"file_count": (writer or {}).get("backup_files_pending"),
                   "files_written": (writer or {}).get("backup_files_written"),
                   "rows_replayed": (writer or {}).get("rows_replayed")},
    }
