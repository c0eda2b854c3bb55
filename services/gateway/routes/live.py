"""Live data: the latest values and the WebSockets (Prometheus /metrics is in metrics.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, WebSocket

from services.gateway.answers import LatestValuesAnswer
from services.gateway.broadcast import Broadcaster
from services.gateway.latest_values import LatestValues

router = APIRouter(tags=["live"])

PlcFilter = Annotated[str | None, Query(pattern="^[A-Z0-9]{14}$", description="only this PLC")]
GroupFilter = Annotated[str | None, Query(max_length=64, description="only this group")]


@router.get("/api/values/latest", summary="The last value, quality and time of each tag",
            response_model=LatestValuesAnswer)
def latest_values(request: Request, plc: PlcFilter = None, group: GroupFilter = None) -> dict[str, Any]:
    live: LatestValues = request.app.state.live
    values = live.latest(plc, group)
    return {"count": len(values), "values": values}


@router.websocket("/ws/polling")
async def ws_polling(websocket: WebSocket) -> None:
    """The engine status (as GET /api/polling/status) every second."""
    broadcaster: Broadcaster = websocket.app.state.ws_polling
    await broadcaster.serve(websocket)


@router.websocket("/ws/values")
async def ws_values(websocket: WebSocket, plc: str | None = None, group: str | None = None) -> None:
    """The latest values every second, filtered like GET /api/values/latest."""
    broadcaster: Broadcaster = websocket.app.state.ws_values
    await broadcaster.serve(websocket, (plc, group))
