"""GET /api/history: stored values of tags over a time range, raw or in buckets (common/historian/history.py)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from common.historian import tag_lookup
from common.historian.history import HistoryError, UnknownTag, parse_query
from common.times import now_ms

router = APIRouter(prefix="/api", tags=["history"])


@router.get("/history", summary="Stored values of tags over a time range, raw or in buckets")
async def history(
    request: Request,
    tag: Annotated[list[str], Query(description="<plc_code>/<tag name or address>, up to 20")] = [],  # noqa: B006
    from_: Annotated[str | None, Query(alias="from", description="ISO-8601, or -10m, -1h, -8h, -24h")] = None,
    to: Annotated[str | None, Query(description="ISO-8601 or now (the default)")] = None,
    points: Annotated[int | None, Query(description="at most this many values or buckets per tag: 1..10000, "
                                        "default 1000")] = None,
) -> dict[str, Any]:
    """Raw values when the range holds at most ``points`` of them, otherwise one entry per time bucket with
    first, last, min, max, avg, count and good_share. Times are Unix milliseconds (UTC)."""
    try:
        q = parse_query(tag, from_, to, points, now_ms())
    except HistoryError as error:
        raise HTTPException(422, str(error)) from None
    settings = request.app.state.settings
    try:
        # the historian and the config store are read in a worker thread, never on the event loop
        return await asyncio.to_thread(tag_lookup.history, settings.config_db, request.app.state.history, q)
    except UnknownTag as error:
        raise HTTPException(404, str(error)) from None
