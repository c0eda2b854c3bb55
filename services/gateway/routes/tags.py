"""The plant's tags by name, for the dashboard's trend picker: ``GET /api/tags``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.gateway.answers import TagsAnswer
from services.gateway.tag_names import TagName, TagNames

router = APIRouter(tags=["tags"])


@router.get("/api/tags", summary="Tags whose name, description, address or PLC contains the search text",
            response_model=TagsAnswer)
async def find_tags(request: Request,
                    search: Annotated[str, Query(max_length=64, description="text to look for, any case")] = "",
                    plc: Annotated[str | None, Query(pattern="^[A-Z0-9]{14}$", description="only this PLC")] = None,
                    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many")] = 50,
                    ) -> TagsAnswer:
    """Names first: tags whose name starts with the text, then those containing it anywhere.

    ``matched`` counts every match; ``tags`` holds the first ``limit`` of them.
    """
    names: TagNames = request.app.state.tag_names
    await names.ready()
    text = search.strip().casefold()
    starts: list[TagName] = []
    contains: list[TagName] = []
    for tag in names.all():
        if plc is not None and tag.plc_code != plc:
            continue
        name = tag.tag_name.casefold()
        if name.startswith(text):
            starts.append(tag)
        elif any(text in field.casefold() for field in (name, tag.description, tag.address, tag.plc_code)):
            contains.append(tag)
    found = starts + contains
    return {"count": min(len(found), limit), "matched": len(found), "tags": found[:limit]}
