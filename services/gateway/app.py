"""The gateway's FastAPI application, made by a factory: nothing connects at import time.

Sockets (telemetry SUB, control ROUTER, live SUB) are made in the lifespan,
so a test can start the app against real sockets on temporary endpoints.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import zmq.asyncio
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse

from common import curve
from common.settings import Settings
from services.gateway.broadcast import Broadcaster
from services.gateway.latest_values import LatestValues
from services.gateway.plant import RETRY_AFTER_S, PlantIndex, StoreBusy
from services.gateway.poller_link import PollerLink
from services.gateway.routes import buffer, live, metrics, polling, stages
from services.gateway.supervisor_rpc import Supervisor
from services.gateway.telemetry import TelemetryStore
from services.gateway.trigger_limit import TriggerLimit

STATIC = Path(__file__).resolve().parent / "static"


def create_app(settings: Settings | None = None, security: curve.SocketSecurity | None = None) -> FastAPI:
    settings = settings or Settings.load()
    door = security or curve.for_stage(settings, "gateway")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = zmq.asyncio.Context()
        telemetry = TelemetryStore(ctx, settings.telemetry_endpoint, door, settings.api_poller_timeout_s)
        control = PollerLink(ctx, settings.control_endpoint, door, settings.api_poller_timeout_s)
        latest = LatestValues(ctx, settings.live_endpoint, door)

        def values_message(key: Any) -> dict[str, Any]:
            plc, group = key
            return {"t": "values", "values": latest.latest(plc, group)}

        def polling_message(_: Any) -> dict[str, Any]:
            return {"t": "polling", **polling.polling_status(telemetry), "pipeline": buffer.pipeline(telemetry)}

        ws_polling = Broadcaster("polling", polling_message)
        ws_values = Broadcaster("values", values_message)
        for part in (telemetry, control, latest, ws_polling, ws_values):
            part.start()
        app.state.plant.refresh()  # read before the first request needs it
        app.state.telemetry, app.state.control, app.state.live = telemetry, control, latest
        app.state.ws_polling, app.state.ws_values = ws_polling, ws_values
        try:
            yield
        finally:
            for part in (ws_polling, ws_values, telemetry, control, latest):
                await part.close()
            door.close()
            ctx.term()

    app = FastAPI(title="JSScada gateway", version="0.1.0", lifespan=lifespan,
                  description="Status, metrics and control of the JSScada collector.")
    app.state.settings = settings
    app.state.security = door
    app.state.plant = PlantIndex(settings.config_db)
    app.state.supervisor = Supervisor(settings.supervisor_socket)
    app.state.trigger_limit = TriggerLimit(settings.api_trigger_min_interval_ms)
    origins = [o.strip() for o in settings.scada_cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    for module in (polling, buffer, stages, live, metrics):
        app.include_router(module.router)

    @app.exception_handler(StoreBusy)
    @app.exception_handler(sqlite3.OperationalError)
    async def store_busy(request: Request, error: Exception) -> JSONResponse:
        # a locked or busy SQLite file is a moment's wait, not a server fault
        return JSONResponse({"detail": f"the config store is busy, try again: {error}"}, status_code=503,
                            headers={"Retry-After": str(RETRY_AFTER_S)})

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app
