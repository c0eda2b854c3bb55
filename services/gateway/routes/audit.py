"""/api/audit: the audit trail of writes to the PLC, newest first (common/writes/audit.py)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from services.gateway.routes.writes import writes_of

router = APIRouter(prefix="/api/audit", tags=["writes"])


@router.get("", summary="The last write attempts, allowed or refused, one entry per tag")
async def audit(request: Request,
                plc: Annotated[str | None, Query(pattern="^[A-Z0-9]{14}$")] = None,
                tag: Annotated[str | None, Query(max_length=64)] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                before: Annotated[int | None, Query(ge=1, le=2**63 - 1,
                                                    description="entries older than this id (paging)")] = None,
                ) -> dict[str, Any]:
    trail = writes_of(request).trail
    entries = await asyncio.to_thread(trail.last, limit, plc, tag, before)
    return {"entries": entries, "file": str(trail.path)}
