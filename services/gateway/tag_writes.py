"""A write from ``POST /api/tags/write`` to its answer: token, checks, audit record, the PLC's poller.

Strategy: refuse early and record everything. The token comes first --
writes need it always, so a gateway without SCADA_API_TOKEN refuses every
write (403, with the reason) whatever its bind address. Then the tags are
read from the config store (in a worker thread) and every value checked
(common/writes/values.py): an unknown tag is 404, a tag not marked writable
403, a value its type or limits refuse 422 naming the tag -- and a request
with any refused tag sends nothing at all. Each of those attempts is in the
audit trail. A write that passes is recorded ``pending`` before it is sent
(an audit file that cannot be written means nothing is sent: 503), goes to
the PLC's poller over the control socket, and its record is completed with
the old value, the value read back and the result. A PLC that is away
answers 504 (it timed out) or 502 (refused the connection, an error end
code); a poller that is not connected 503, one that does not answer 504 --
its write's record then says ``no_answer``, since the write may have
happened.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import sqlite3
import uuid
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from common.config_store import model
from common.config_store.schema import connect, migrate
from common.settings import Settings
from common.times import now_ms
from common.wire.control import WriteTags
from common.writes import WRITE_DEADLINE_S
from common.writes.audit import AuditEntry, AuditTrail
from common.writes.values import CheckedWrite, WriteRefused, check_write
from services.gateway.poller_link import PollerLink, PollerTimeout, PollerUnavailable

log = logging.getLogger("gateway.writes")

#: the poller ends a write by WRITE_DEADLINE_S; the answer has this long more to arrive
ANSWER_MARGIN_S = 2.0
STORE_BUSY_MS = 2000
#: result words of refusals, by the HTTP status they answer
REFUSED = {403: "refused_not_writable", 404: "refused_unknown_tag", 422: "refused_bad_value", 503: "not_sent"}
#: the poller's own refusals (its check of the store as it is now), by error code
POLLER_CODES = {"not_writable": 403, "unknown_tag": 404, "bad_value": 422, "busy": 503}


class Refusal(Exception):
    def __init__(self, status: int, result: str, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status, self.result, self.reason, self.headers = status, result, reason, headers


def authenticate(settings: Settings, authorization: str | None) -> str:
    """The name of the token the request carries; Refusal when it carries none or a wrong one."""
    token = settings.scada_api_token
    if token is None:
        raise Refusal(403, "refused_no_token", "writes to the PLC need the API token, and this gateway has none: "
                      "set SCADA_API_TOKEN and restart it")
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise Refusal(401, "refused_token", "a write needs Authorization: Bearer <token>",
                      {"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(credentials.strip().encode(), token.get_secret_value().encode()):
        raise Refusal(403, "refused_token", "wrong API token")
    return settings.scada_api_token_name


def read_tags(path: Path, plc_code: str, names: list[str]) -> dict[str, model.Tag] | None:
    """The named tags of the PLC (None: no such PLC); blocking, call it in a worker thread."""
    conn = connect(path)
    try:
        conn.execute(f"PRAGMA busy_timeout = {STORE_BUSY_MS}")
        migrate(conn)
        if model.load_plc(conn, plc_code) is None:
            return None
        return model.load_tags_named(conn, plc_code, names)
    finally:
        conn.close()


def read_writable(path: Path, plc_code: str | None, limit: int) -> list[dict[str, Any]]:
    """The tags marked writable (of one PLC), for a dashboard's write dialog; blocking."""
    conn = connect(path)
    try:
        conn.execute(f"PRAGMA busy_timeout = {STORE_BUSY_MS}")
        migrate(conn)
        sql, args = "SELECT * FROM tags WHERE writable = 1", list[object]()
        if plc_code is not None:
            sql += " AND plc_code = ?"
            args.append(plc_code)
        rows = conn.execute(sql + " ORDER BY plc_code, tag_name LIMIT ?", [*args, limit]).fetchall()
        return [{"plc_code": r["plc_code"], "group": r["group_name"], "tag": r["tag_name"], "address": r["address"],
                 "data_type": r["data_type"], "scale": r["scale"], "offset": r["offset"], "unit": r["unit"],
                 "description": r["description"], "min": r["min"], "max": r["max"]} for r in rows]
    finally:
        conn.close()


def check_all(plc_code: str, tags: dict[str, model.Tag], items: list[tuple[str, Any]]
              ) -> tuple[list[CheckedWrite], list[WriteRefused]]:
    """Every write checked; the refusals of all of them (not only the first)."""
    checked, refused = [], []
    seen: set[str] = set()
    for name, value in items:
        try:
            if name in seen:
                raise WriteRefused(422, name, "written twice in one request")
            seen.add(name)
            tag = tags.get(name)
            if tag is None:
                raise WriteRefused(404, name, f"no tag {name} on {plc_code}")
            checked.append(check_write(tag, value))
        except WriteRefused as refusal:
            refused.append(refusal)
    return checked, refused


class GatewayWrites:
    """The gateway's writes and their audit trail (opened at the first write or look)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._trail: AuditTrail | None = None

    @property
    def trail(self) -> AuditTrail:
        if self._trail is None:
            self._trail = AuditTrail(self.settings.audit_db)
        return self._trail

    def close(self) -> None:
        if self._trail is not None:
            self._trail.close()

    async def _record(self, entries: list[AuditEntry]) -> list[int]:
        return await asyncio.to_thread(self.trail.record, entries)

    async def _complete(self, ids: list[int], outcomes: list[dict[str, Any]]) -> None:
        try:
            await asyncio.to_thread(self.trail.complete, ids, outcomes)
        except (sqlite3.Error, OSError) as error:  # the records stay "pending": the attempt is not lost, its end is
            log.error("audit records %s not completed (%s): %s", ids, error, outcomes)

    async def _refuse(self, entries: list[AuditEntry], refusal: Refusal, detail: Any = None) -> HTTPException:
        try:
            await self._record(entries)
        except (sqlite3.Error, OSError) as error:
            log.error("audit trail %s not written (%s); refused anyway: %s", self.settings.audit_db, error,
                      refusal.reason)
        return HTTPException(refusal.status, detail=detail or refusal.reason, headers=refusal.headers)

    async def write(self, control: PollerLink, client: str, authorization: str | None, plc_code: str,
                    items: list[tuple[str, Any]]) -> dict[str, Any]:
        """Write ``items`` (tag name, value) to the PLC; its answer, or HTTPException (audited either way)."""
        request = uuid.uuid4().hex[:12]
        entry = partial(AuditEntry, request, now_ms(), client)
        try:
            token = authenticate(self.settings, authorization)
        except Refusal as no_entry:
            raise await self._refuse([entry("-", plc_code, name, requested=value, result=no_entry.result,
                                            detail=no_entry.reason) for name, value in items], no_entry) from None
        entry = partial(entry, token, plc_code)

        async def refuse_all(refusal: Refusal) -> HTTPException:
            return await self._refuse([entry(name, requested=value, result=refusal.result, detail=refusal.reason)
                                       for name, value in items], refusal)

        try:
            tags = await asyncio.to_thread(read_tags, self.settings.config_db, plc_code, [n for n, _ in items])
        except sqlite3.Error as error:
            raise await refuse_all(Refusal(503, "refused_store_busy", "nothing was written: the config store is "
                                           f"busy ({error})", {"Retry-After": "2"})) from None
        if tags is None:
            raise await refuse_all(Refusal(404, "refused_unknown_plc", f"no PLC {plc_code}"))
        checked, refused = check_all(plc_code, tags, items)
        if refused:
            status = next(s for s in (404, 403, 422) if any(r.status == s for r in refused))
            why = {r.tag: r for r in refused}
            entries = [entry(name, tags[name].address if name in tags else "", requested=value,
                             result=REFUSED[why[name].status] if name in why else "not_sent",
                             detail=why[name].reason if name in why else "another tag of this request was refused")
                       for name, value in items]
            detail = {"message": f"nothing was written: {refused[0]}" + (
                f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""),
                "refused": [{"tag": r.tag, "status": r.status, "reason": r.reason} for r in refused]}
            raise await self._refuse(entries, Refusal(status, "", str(refused[0])), detail)
        try:
            ids = await self._record([entry(w.tag.tag_name, w.tag.address, requested=w.requested) for w in checked])
        except (sqlite3.Error, OSError) as error:
            raise HTTPException(503, detail=f"nothing was written: the audit trail cannot be written ({error})",
                                headers={"Retry-After": "2"}) from None
        return await self._send(control, request, plc_code, checked, ids)

    async def _send(self, control: PollerLink, request: str, plc_code: str, checked: list[CheckedWrite],
                    ids: list[int]) -> dict[str, Any]:
        def everyone(result: str, detail: str) -> list[dict[str, Any]]:
            return [{"tag": w.tag.tag_name, "address": w.tag.address, "requested": w.requested, "result": result,
                     "detail": detail} for w in checked]

        try:
            reply = await control.command(plc_code, WriteTags(tuple((w.tag.tag_name, w.requested) for w in checked)),
                                          timeout=WRITE_DEADLINE_S + ANSWER_MARGIN_S)
        except PollerUnavailable as error:
            await self._complete(ids, everyone("not_sent", str(error)))
            raise HTTPException(503, detail=f"nothing was written: {error}") from None
        except PollerTimeout as error:
            await self._complete(ids, everyone("no_answer", f"{error}; the write may have happened"))
            raise HTTPException(504, detail=f"{error}; the write may have happened: see GET /api/audit") from None
        if not reply.ok:
            status = POLLER_CODES.get(str(reply.code), 502)
            reason = reply.error or "the poller refused the write"
            await self._complete(ids, everyone(REFUSED.get(status, "failed"), reason))
            raise HTTPException(status, detail=f"nothing was written: {reason}")
        outcomes: list[dict[str, Any]] = (reply.result or {}).get("outcomes", [])
        if len(outcomes) != len(ids):
            await self._complete(ids, everyone("no_answer", f"the poller answered {len(outcomes)} outcomes for "
                                                            f"{len(ids)} writes"))
            raise HTTPException(502, detail=f"the poller of {plc_code} answered the write in a shape this gateway "
                                            "does not read; see GET /api/audit")
        await self._complete(ids, outcomes)
        results = [{k: o.get(k) for k in ("tag", "address", "old_value", "requested", "read_back", "result",
                                          "detail")} for o in outcomes]
        answer = {"plc_code": plc_code, "request": request, "results": results}
        failed = [o for o in outcomes if o.get("result") != "written"]
        if not failed:
            return answer
        status = 504 if any(o.get("failure") == "timeout" for o in failed) else 502
        written = len(outcomes) - len(failed)
        raise HTTPException(status, detail={"message": f"{plc_code}: {written} of {len(outcomes)} written; "
                                                       f"{failed[0]['tag']}: {failed[0].get('detail')}", **answer})
