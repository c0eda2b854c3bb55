"""/api/stages: the processes under supervisord, and starting, stopping and restarting them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request

from services.gateway.answers import StagesAnswer, StageStateAnswer
from services.gateway.deps import TokenDep
from services.gateway.supervisor_rpc import StageError, Supervisor, SupervisorUnavailable

router = APIRouter(prefix="/api/stages", tags=["stages"])

StageName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_:.-]{1,64}$", description="e.g. writer, poller-KRCWO12ELOA101")]


def _supervisor(request: Request) -> Supervisor:
    supervisor: Supervisor = request.app.state.supervisor
    return supervisor


@router.get("", summary="Every stage and its state; the gateway's CURVE refusals", response_model=StagesAnswer)
async def list_stages(request: Request) -> dict[str, Any]:
    try:
        stages = await _supervisor(request).stages()
    except SupervisorUnavailable as error:
        raise HTTPException(503, detail=str(error)) from None
    # The buffer's refusals are in GET /api/buffer/status; the gateway binds telemetry and control.
    security = getattr(request.app.state, "security", None)
    door = {"refused_connections": security.refused(), "refused_handshakes": security.refused_handshakes()} \
        if security is not None else {}
    return {"stages": stages, "gateway": door}


@router.post("/{name}/{action}", summary="Start, stop or restart a stage", dependencies=[TokenDep],
             response_model=StageStateAnswer)
async def control_stage(name: StageName, action: Literal["start", "stop", "restart"],
                        request: Request) -> dict[str, Any]:
    if name == "gateway" and action != "start":
        raise HTTPException(409, detail="the gateway does not stop itself; use supervisorctl")
    try:
        return await _supervisor(request).control(name, action)
    except SupervisorUnavailable as error:
        raise HTTPException(503, detail=str(error)) from None
    except StageError as error:
        raise HTTPException(error.status, detail=str(error)) from None
