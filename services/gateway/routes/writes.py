"""/api/tags/write: write tag values to a PLC, by PLC and tag name (services/gateway/tag_writes.py).

One tag::

    POST /api/tags/write  {"plc": "KRCWO12ELOA101", "tag": "SPEED_SP", "value": 1200.5}

or a list, written in the order given, in as few requests as the protocol allows::

    POST /api/tags/write  {"plc": "KRCWO12ELOA101", "writes": [{"tag": "RECIPE_NO", "value": 7},
                                                            {"tag": "RECIPE_LOAD", "value": 1}]}

Answer (200 when every tag was written)::

    {"plc_code": "KRCWO12ELOA101", "request": "9f3c1d2ab4e0",
     "results": [{"tag": "SPEED_SP", "address": "D9018", "old_value": 1127.25, "requested": 1200.5,
                  "read_back": 1200.5, "result": "written", "detail": ""}]}
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, Field, model_validator

from services.gateway.deps import ControlDep
from services.gateway.tag_writes import GatewayWrites, read_writable

router = APIRouter(prefix="/api/tags", tags=["writes"])

MAX_WRITES = 1000
TagName = Annotated[str, Field(min_length=1, max_length=64)]


class TagWrite(BaseModel):
    tag: TagName
    value: Annotated[Any, Field(description="in engineering units: a number (or its text), true/false or 0/1 for a "
                                            "BIT, text for a STRING")]


class WriteRequest(BaseModel):
    plc: str = Field(pattern="^[A-Z0-9]{14}$", description="the PLC's equipment code")
    tag: TagName | None = None
    value: Any = None
    writes: list[TagWrite] | None = Field(default=None, min_length=1, max_length=MAX_WRITES)

    @model_validator(mode="after")
    def _one_or_a_list(self) -> WriteRequest:
        if (self.tag is None) == (self.writes is None):
            raise ValueError("give either tag and value, or writes: a list of {tag, value}")
        if self.tag is not None and "value" not in self.model_fields_set:
            raise ValueError(f"tag {self.tag}: value is missing")
        return self

    def items(self) -> list[tuple[str, Any]]:
        if self.writes is not None:
            return [(w.tag, w.value) for w in self.writes]
        assert self.tag is not None
        return [(self.tag, self.value)]


def writes_of(request: Request) -> GatewayWrites:
    desk: GatewayWrites = request.app.state.writes
    return desk


@router.post("/write", summary="Write tag values to a PLC (writable tags only; the API token always; audited)",
             responses={401: {"description": "no token sent"},
                        403: {"description": "no token configured, a wrong token, or a tag not writable"},
                        404: {"description": "no such PLC or tag"},
                        422: {"description": "a value the tag's type or limits refuse; nothing was sent"},
                        502: {"description": "the PLC refused or broke the connection, or answered an error"},
                        503: {"description": "the PLC's poller is not connected, or the audit trail is unwritable"},
                        504: {"description": "the PLC (or its poller) did not answer in time"}})
async def write_tags(body: WriteRequest, request: Request, control: ControlDep,
                     authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    client = request.client.host if request.client else "-"
    return await writes_of(request).write(control, client, authorization, body.plc, body.items())


@router.get("/writable", summary="The tags marked writable, with their types, units and limits")
async def writable_tags(request: Request,
                        plc: Annotated[str | None, Query(pattern="^[A-Z0-9]{14}$")] = None,
                        limit: Annotated[int, Query(ge=1, le=10_000)] = 2000) -> dict[str, Any]:
    settings = writes_of(request).settings
    return {"tags": await asyncio.to_thread(read_writable, settings.config_db, plc, limit)}
