"""The config store's tags as the history knows them: name, address, type, unit, description per PLC."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from common.historian.history import HistoryQuery, Reader, TagInfo, answer, resolve

BUSY_TIMEOUT_S = 2.0


def tags_of_plcs(config_db: Path, plc_codes: set[str]) -> dict[str, list[TagInfo]]:
    """Each PLC's tags (an unknown PLC has none); blocking, read-only."""
    if not config_db.exists():
        return {}
    conn = sqlite3.connect(f"file:{config_db}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    try:
        out: dict[str, list[TagInfo]] = {plc: [] for plc in plc_codes}
        marks = ", ".join("?" for _ in plc_codes)
        for plc, name, address, data_type, unit, description in conn.execute(
                "SELECT plc_code, tag_name, address, data_type, unit, description FROM tags "
                f"WHERE plc_code IN ({marks}) ORDER BY plc_code, rowid", sorted(plc_codes)):
            out[plc].append(TagInfo(plc, name, address, data_type, unit or "", description or ""))
        return out
    finally:
        conn.close()


def lookup(config_db: Path, specs: list[str]) -> list[TagInfo]:
    """``plc/name`` or ``plc/address`` -> the tag; UnknownTag naming the first that is not there."""
    known = tags_of_plcs(config_db, {spec.split("/", 1)[0] for spec in specs})
    return [resolve(spec, known.get(spec.split("/", 1)[0], [])) for spec in specs]


def history(config_db: Path, reader: Reader, q: HistoryQuery) -> dict[str, Any]:
    """The whole answer of GET /api/history (blocking: call it in a worker thread)."""
    return answer(reader, lookup(config_db, q.tags), q)
