"""The audit trail of writes to the PLC: every attempt, allowed or refused, one row per tag, in SQLite.

Strategy: its own file (``$SCADA_DATA_DIR/audit.db``), apart from the config
store an import rewrites and the historian that drops old days: nothing in
the project deletes a row of it, so it is never rotated away silently (an
operator who wants it smaller moves the file aside; the next write starts a
new one). A write that is sent is recorded ``pending`` *before* anything
goes to the PLC and completed afterwards: a write that cannot be recorded
is not sent, and one whose answer never came stays ``pending`` (or
``no_answer``) rather than vanishing. Values are stored as JSON text, so a
string, an integer and a float each read back as what they were.

Row (``GET /api/audit``, ``scada audit``)::

    {"id": 17, "request": "9f3c1d2ab4e0", "ts": "2026-12-03T08:12:44.120Z", "client": "127.0.0.1",
     "token": "api", "plc_code": "KRCWO12ELOA101", "tag_name": "SPEED_SP", "address": "D9018",
     "old_value": 1127.25, "requested": 1200.0, "read_back": 1200.0, "result": "written", "detail": ""}

``result``: written, failed, not_sent, no_answer, pending, or refused_<why>
(refused_no_token, refused_token, refused_unknown_plc, refused_unknown_tag,
refused_not_writable, refused_bad_value, refused_store_busy).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from common.times import iso_ms

SCHEMA = """
CREATE TABLE IF NOT EXISTS write_audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    request   TEXT NOT NULL,
    ts_ms     INTEGER NOT NULL,
    client    TEXT NOT NULL,
    token     TEXT NOT NULL,
    plc_code  TEXT NOT NULL,
    tag_name  TEXT NOT NULL,
    address   TEXT NOT NULL DEFAULT '',
    old_value TEXT,
    requested TEXT,
    read_back TEXT,
    result    TEXT NOT NULL,
    detail    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS write_audit_by_tag ON write_audit(plc_code, tag_name, id);
"""

MAX_DETAIL = 500
MAX_TEXT = 2000


@dataclass(frozen=True)
class AuditEntry:
    """One tag of one write attempt."""

    request: str
    ts_ms: int
    client: str
    token: str
    plc_code: str
    tag_name: str
    address: str = ""
    old_value: Any = None
    requested: Any = None
    read_back: Any = None
    result: str = "pending"
    detail: str = ""


def _json(value: Any) -> str | None:
    """JSON that reads back and answers in an API (no NaN, at most MAX_TEXT characters): else its text."""
    if value is None:
        return None
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=repr)
    except (ValueError, TypeError):  # NaN or infinity inside, keys that are not strings
        text = json.dumps(repr(value), ensure_ascii=False)
    if len(text) > MAX_TEXT:
        text = json.dumps(text[:MAX_TEXT] + "…", ensure_ascii=False)
    return text


def _value(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class AuditTrail:
    """The audit file; safe to use from worker threads (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = FULL")  # an audit record survives a power cut once written
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    def record(self, entries: Sequence[AuditEntry]) -> list[int]:
        """Append ``entries`` in one transaction; their ids. Raises sqlite3.Error when it cannot."""
        rows = [(e.request, e.ts_ms, e.client, e.token, e.plc_code, e.tag_name, e.address, _json(e.old_value),
                 _json(e.requested), _json(e.read_back), e.result, e.detail[:MAX_DETAIL]) for e in entries]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                ids = [int(self._conn.execute(
                    "INSERT INTO write_audit (request, ts_ms, client, token, plc_code, tag_name, address, old_value, "
                    "requested, read_back, result, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row,
                ).lastrowid or 0) for row in rows]
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return ids

    def complete(self, ids: Sequence[int], outcomes: Sequence[dict[str, Any]]) -> None:
        """Fill in what happened to each recorded write: old_value, read_back, result, detail."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for row_id, o in zip(ids, outcomes, strict=True):
                    self._conn.execute(
                        "UPDATE write_audit SET old_value = ?, read_back = ?, result = ?, detail = ? WHERE id = ?",
                        (_json(o.get("old_value")), _json(o.get("read_back")), o["result"],
                         str(o.get("detail", ""))[:MAX_DETAIL], row_id))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def last(self, limit: int = 100, plc_code: str | None = None, tag_name: str | None = None,
             before_id: int | None = None) -> list[dict[str, Any]]:
        """The newest entries first (``before_id``: older than that entry)."""
        sql, args = "SELECT * FROM write_audit WHERE 1=1", list[object]()
        for column, value in (("plc_code", plc_code), ("tag_name", tag_name)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        if before_id is not None:
            sql += " AND id < ?"
            args.append(before_id)
        with self._lock:
            cursor = self._conn.execute(sql + " ORDER BY id DESC LIMIT ?", [*args, limit])
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        return [_entry(r) for r in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM write_audit").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row[k] for k in ("id", "request")}
    out["ts"] = iso_ms(row["ts_ms"])
    for k in ("client", "token", "plc_code", "tag_name", "address"):
        out[k] = row[k]
    for k in ("old_value", "requested", "read_back"):
        out[k] = _value(row[k])
    out["result"], out["detail"] = row["result"], row["detail"]
    return out


def entry_dict(entry: AuditEntry) -> dict[str, Any]:
    return asdict(entry)
