"""The gateway's FastAPI application, made by a factory: nothing connects at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import zmq.asyncio
from fastapi import FastAPI

from common.settings import Settings
from services.gateway.control import ControlRouter
from services.gateway.routes import buffer, polling
from services.gateway.telemetry import TelemetryStore


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = zmq.asyncio.Context()
        telemetry = TelemetryStore(ctx, settings.telemetry_endpoint)
        control = ControlRouter(ctx, settings.control_endpoint)
        telemetry.start()
        control.start()
        app.state.telemetry = telemetry
        app.state.control = control
        try:
            yield
        finally:
            await telemetry.close()
            await control.close()
            ctx.term()

    app = FastAPI(title="JSScada gateway", version="0.1.0", lifespan=lifespan,
                  description="Status, metrics and control of the JSScada collector.")
    app.state.settings = settings
    app.include_router(polling.router)
    app.include_router(buffer.router)
    return app
