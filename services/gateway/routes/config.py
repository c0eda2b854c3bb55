"""/api/config: the plant as configured, read-only -- the names, units and addresses the other answers use.

Answered from the gateway's copy of the config store (config_watch.py), read
again within a second of any change; never from SQLite inside a request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from common.config_store import model
from services.gateway.config_watch import ConfigWatch, PlantConfig
from services.gateway.plant import StoreBusy

router = APIRouter(prefix="/api/config", tags=["config"])

PlcFilter = Annotated[str | None, Query(pattern="^[A-Z0-9]{14}$", description="only this PLC")]
GroupFilter = Annotated[str | None, Query(max_length=64, description="only this polling group")]
MAX_TAGS = 10_000


class PlcConfig(BaseModel):
    plc_code: str = Field(examples=["KRCWO12ELOA101"])
    process_code: str
    description: str
    host: str
    port: int
    ports: list[int] = Field(description="one port per pooled connection, when not all use `port`")
    protocol: str = Field(examples=["MC3E_BINARY"])
    transport: str = Field(examples=["TCP"])
    pool_size: int
    timeout_ms: int
    multi_block_read: bool
    deviations: list[str]
    is_active: bool
    group_count: int
    tag_count: int


class PlcList(BaseModel):
    count: int
    plcs: list[PlcConfig]


class GroupConfig(BaseModel):
    plc_code: str
    group_name: str = Field(examples=["FAST_1S"])
    mode: str = Field(examples=["FIXED", "HANDSHAKE"])
    interval_ms: int
    trigger_device: str
    ack_device: str
    is_active: bool
    tag_count: int


class GroupList(BaseModel):
    count: int
    groups: list[GroupConfig]


class TagConfig(BaseModel):
    plc_code: str
    group_name: str
    tag_name: str = Field(examples=["TEMP_001"])
    address: str = Field(examples=["D100"])
    data_type: str = Field(examples=["INT16"])
    scale: float | None
    offset: float | None
    unit: str
    description: str


class TagList(BaseModel):
    total: int = Field(description="tags that match, of which `tags` holds at most `limit` from `offset`")
    count: int
    tags: list[TagConfig]


def _config(request: Request) -> PlantConfig:
    watch: ConfigWatch = request.app.state.config_watch
    if watch.config is None:
        raise StoreBusy(f"the config store has not been read yet: {watch.last_error or 'starting'}")
    return watch.config


def _plc(plc: model.Plc, config: PlantConfig) -> PlcConfig:
    return PlcConfig(plc_code=plc.plc_code, process_code=plc.process_code, description=plc.description,
                     host=plc.host, port=plc.port, ports=list(plc.ports), protocol=plc.protocol,
                     transport=plc.transport, pool_size=plc.pool_size, timeout_ms=plc.timeout_ms,
                     multi_block_read=plc.multi_block_read, deviations=sorted(plc.deviations),
                     is_active=plc.is_active,
                     group_count=sum(1 for p, _ in config.groups if p == plc.plc_code),
                     tag_count=sum(len(a) for (p, _), a in config.addresses.items() if p == plc.plc_code))


@router.get("/plcs", summary="Every PLC: connection, state, how many groups and tags")
def plcs(request: Request, active: Annotated[bool | None, Query(description="only active (or inactive) PLCs")] = None
         ) -> PlcList:
    config = _config(request)
    out = [_plc(p, config) for p in config.plcs.values() if active in (None, p.is_active)]
    return PlcList(count=len(out), plcs=out)


@router.get("/groups", summary="Polling groups: mode, interval, handshake devices, how many tags")
def groups(request: Request, plc: PlcFilter = None) -> GroupList:
    config = _config(request)
    out = [GroupConfig(plc_code=g.plc_code, group_name=g.group_name, mode=g.mode, interval_ms=g.interval_ms,
                       trigger_device=g.trigger_device, ack_device=g.ack_device, is_active=g.is_active,
                       tag_count=len(config.addresses.get(key, ())))
           for key, g in config.groups.items() if plc in (None, g.plc_code)]
    return GroupList(count=len(out), groups=out)


@router.get("/tags", summary="Tags: name, address, type, scale, unit, description; filtered and searched")
def tags(request: Request, plc: PlcFilter = None, group: GroupFilter = None,
         q: Annotated[str | None, Query(max_length=64, description="words in the name, address, unit or "
                                                                    "description (case-insensitive)")] = None,
         limit: Annotated[int, Query(ge=1, le=MAX_TAGS)] = 1000, offset: Annotated[int, Query(ge=0)] = 0) -> TagList:
    config = _config(request)
    words = (q or "").casefold().split()
    found = [t for t in config.tags if plc in (None, t.plc_code) and group in (None, t.group_name)
             and all(w in f"{t.tag_name} {t.address} {t.unit} {t.description}".casefold() for w in words)]
    page = found[offset:offset + limit]
    return TagList(total=len(found), count=len(page), tags=[
        TagConfig(plc_code=t.plc_code, group_name=t.group_name, tag_name=t.tag_name, address=t.address,
                  data_type=t.data_type, scale=t.scale, offset=t.offset, unit=t.unit, description=t.description)
        for t in page])
