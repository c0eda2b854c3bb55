"""/api/polling: the polling engine -- status from the pollers' telemetry, commands over the control socket.

Groups and PLCs come from the gateway's copy of the config store
(services/gateway/plant.py), never from SQLite inside a request.
Group names may repeat across PLCs: ``?plc=CODE`` picks one; an ambiguous
name answers 409 with the candidates, an unknown one 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from common.config_store import model
from common.wire.control import (
    Command,
    ErrorCode,
    StartAll,
    StartGroup,
    StopAll,
    StopGroup,
    TriggerGroup,
)
from common.wire.figures import GroupFigures, PollerSummary, QueueTotals
from services.gateway.answers import (
    AllAnswer,
    GroupStateAnswer,
    PollingStatusAnswer,
    QueueStatusAnswer,
    TriggerAnswer,
)
from services.gateway.deps import ControlDep, PlantDep, TelemetryDep, TokenDep
from services.gateway.plant import PlantIndex
from services.gateway.poller_link import PollerLink, PollerTimeout, PollerUnavailable
from services.gateway.telemetry import TelemetryStore
from services.gateway.trigger_limit import TriggerLimit

router = APIRouter(prefix="/api/polling", tags=["polling"])

PlcQuery = Annotated[str | None, Query(description="the PLC's equipment code, when the group name is not unique",
                                       pattern="^[A-Z0-9]{14}$")]


#: what each poller's entry shows of its status (its groups are listed on their own)
SUMMARY_KEYS = list(PollerSummary.__annotations__)


def polling_status(telemetry: TelemetryStore) -> dict[str, Any]:
    """The engine status: every poller, every group, the send queues."""
    pollers = []
    groups = []
    queue = dict.fromkeys(QueueTotals.__annotations__, 0)
    for status in telemetry.prefixed("status.poller."):
        body = status.body
        alive = status.fresh and not body.get("stopped", False)
        pollers.append({**{k: body.get(k) for k in SUMMARY_KEYS}, "alive": alive, "pid": body.get("pid"),
                        "last_seen_ms": body.get("ts")})
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


async def resolve(plant: PlantIndex, name: str, plc: str | None) -> model.PollingGroup:
    groups = (await plant.current()).groups
    candidates = [g for g in groups if g.group_name == name and plc in (None, g.plc_code)]
    if not candidates:
        where = f" on {plc}" if plc else ""
        raise HTTPException(404, detail=f"no polling group {name}{where}")
    if len(candidates) > 1:
        raise HTTPException(409, detail={"message": f"group {name} exists on several PLCs; add ?plc=CODE",
                                         "candidates": [g.plc_code for g in candidates]})
    return candidates[0]


#: the HTTP status of each refusal a poller can answer; any other is a 400
REFUSAL_STATUS: dict[str, int] = {ErrorCode.UNKNOWN_GROUP: 404, ErrorCode.NOT_HANDSHAKE: 409,
                                  ErrorCode.READ_FAILED: 502}


async def send(control: PollerLink, plc_code: str, command: Command) -> dict[str, Any]:
    try:
        reply = await control.command(plc_code, command)
    except PollerUnavailable as error:
        raise HTTPException(503, detail=str(error)) from None
    except PollerTimeout as error:
        raise HTTPException(504, detail=str(error)) from None
    if reply.ok:
        return reply.result or {}
    status = REFUSAL_STATUS.get(reply.code or "", 400)
    raise HTTPException(status, detail=reply.error or "the poller refused the command")


@router.get("/status", summary="Polling engine status: pollers, groups, queues",
            response_class=JSONResponse, responses={200: {"model": PollingStatusAnswer}})
async def get_status(telemetry: TelemetryDep) -> Response:
    body = telemetry.cached_json("polling_status", lambda: polling_status(telemetry))
    return Response(body, media_type="application/json")


@router.get("/queue/status", summary="The pollers' send queues", response_model=QueueStatusAnswer)
def queue_status(telemetry: TelemetryDep) -> dict[str, Any]:
    status = polling_status(telemetry)
    return {**status["queue"], "pollers": [{"plc_code": p["plc_code"], "alive": p["alive"], **p["queue"]}
                                           for p in status["pollers"]]}


@router.get("/groups/{name}/status", summary="One group's live figures", response_model=GroupFigures)
async def group_status(name: str, telemetry: TelemetryDep, plant: PlantDep, plc: PlcQuery = None) -> dict[str, Any]:
    group = await resolve(plant, name, plc)
    status = telemetry.stage(f"status.poller.{group.plc_code}")
    if status is None or not status.fresh or status.body.get("stopped"):
        raise HTTPException(503, detail=f"the poller of {group.plc_code} is not reporting")
    for figures in status.body.get("groups", []):
        if figures.get("name") == name:
            return {**figures, "plc_code": group.plc_code}
    raise HTTPException(503, detail=f"the poller of {group.plc_code} does not run {name}; restart it to load it")


@router.post("/groups/{name}/start", summary="Start a group", dependencies=[TokenDep],
             response_model=GroupStateAnswer)
async def start_group(name: str, control: ControlDep, plant: PlantDep, plc: PlcQuery = None) -> dict[str, Any]:
    group = await resolve(plant, name, plc)
    return {"plc_code": group.plc_code, **await send(control, group.plc_code, StartGroup(name))}


@router.post("/groups/{name}/stop", summary="Stop a group", dependencies=[TokenDep],
             response_model=GroupStateAnswer)
async def stop_group(name: str, control: ControlDep, plant: PlantDep, plc: PlcQuery = None) -> dict[str, Any]:
    group = await resolve(plant, name, plc)
    return {"plc_code": group.plc_code, **await send(control, group.plc_code, StopGroup(name))}


@router.post("/groups/{name}/trigger", summary="Read a HANDSHAKE group now", dependencies=[TokenDep],
             response_model=TriggerAnswer,
             responses={429: {"description": "triggered again sooner than API_TRIGGER_MIN_INTERVAL_MS; "
                                             "see Retry-After"}})
async def trigger_group(name: str, request: Request, control: ControlDep, plant: PlantDep,
                        plc: PlcQuery = None) -> dict[str, Any]:
    group = await resolve(plant, name, plc)
    if group.mode != "HANDSHAKE":
        raise HTTPException(409, detail=f"{name} on {group.plc_code} is a FIXED group; only HANDSHAKE groups "
                                        "are triggered")
    limit: TriggerLimit = request.app.state.trigger_limit
    limit.check(group.plc_code, name)
    return await send(control, group.plc_code, TriggerGroup(name))


async def _all(command: Command, control: PollerLink, plant: PlantIndex, plc: str | None) -> dict[str, Any]:
    codes = [code for code in (await plant.current()).active_plcs if plc in (None, code)]
    if not codes:
        raise HTTPException(404, detail=f"no active PLC {plc}" if plc else "no active PLC")
    results = []
    for code in codes:
        try:
            results.append({"plc_code": code, "ok": True, **await send(control, code, command)})
        except HTTPException as error:
            if len(codes) == 1:
                raise
            results.append({"plc_code": code, "ok": False, "status": error.status_code, "error": error.detail})
    return {"results": results}


@router.post("/start-all", summary="Start every group (of one PLC with ?plc=)", dependencies=[TokenDep],
             response_model=AllAnswer)
async def start_all(control: ControlDep, plant: PlantDep, plc: PlcQuery = None) -> dict[str, Any]:
    return await _all(StartAll(), control, plant, plc)


@router.post("/stop-all", summary="Stop every group (of one PLC with ?plc=)", dependencies=[TokenDep],
             response_model=AllAnswer)
async def stop_all(control: ControlDep, plant: PlantDep, plc: PlcQuery = None) -> dict[str, Any]:
    return await _all(StopAll(), control, plant, plc)
