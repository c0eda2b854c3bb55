"""Dependencies of the routes, as Annotated aliases."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from common.settings import Settings
from services.gateway.plant import PlantIndex
from services.gateway.poller_link import PollerLink
from services.gateway.telemetry import TelemetryStore


def get_telemetry(request: Request) -> TelemetryStore:
    store: TelemetryStore = request.app.state.telemetry
    return store


def get_control(request: Request) -> PollerLink:
    router: PollerLink = request.app.state.control
    return router


def get_plant(request: Request) -> PlantIndex:
    plant: PlantIndex = request.app.state.plant
    return plant


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def require_token(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    """Every request that changes something needs ``Authorization: Bearer <token>`` when a token is set."""
    token = get_settings(request).scada_api_token
    if token is None:
        return
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():  # RFC 7235: the scheme is case-insensitive
        raise HTTPException(401, detail="this request changes something: send Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(credentials.strip().encode(), token.get_secret_value().encode()):
        raise HTTPException(403, detail="wrong API token")


TelemetryDep = Annotated[TelemetryStore, Depends(get_telemetry)]
ControlDep = Annotated[PollerLink, Depends(get_control)]
PlantDep = Annotated[PlantIndex, Depends(get_plant)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TokenDep = Depends(require_token)
