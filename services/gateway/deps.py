"""Dependencies of the routes, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from common.settings import Settings
from services.gateway.telemetry import TelemetryStore


def get_telemetry(request: Request) -> TelemetryStore:
    store: TelemetryStore = request.app.state.telemetry
    return store


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


TelemetryDep = Annotated[TelemetryStore, Depends(get_telemetry)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
