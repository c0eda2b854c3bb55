"""Dependencies of the routes, as Annotated aliases."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from common.settings import Settings
from services.gateway.control import ControlRouter
from services.gateway.telemetry import TelemetryStore


def get_telemetry(request: Request) -> TelemetryStore:
    store: TelemetryStore = request.app.state.telemetry
    return store


def get_control(request: Request) -> ControlRouter:
    router: ControlRouter = request.app.state.control
    return router


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def require_token(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    """Every request that changes something needs ``Authorization: Bearer <token>`` when a token is set."""
    token = get_settings(request).scada_api_token
    if token is None:
        return
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(401, detail="this request changes something: send Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(authorization[len("Bearer "):].encode(), token.get_secret_value().encode()):
        raise HTTPException(403, detail="wrong API token")


TelemetryDep = Annotated[TelemetryStore, Depends(get_telemetry)]
ControlDep = Annotated[ControlRouter, Depends(get_control)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TokenDep = Depends(require_token)
