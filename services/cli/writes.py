"""``scada write PLC TAG VALUE`` (through the gateway, so the token and the audit trail apply) and
``scada audit`` (the audit trail, read from its file)."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any

from common.settings import Settings
from common.writes.audit import AuditTrail

WRITE_TIMEOUT_S = 15.0


def gateway_url(settings: Settings) -> str:
    host = settings.scada_api_host
    host = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    return f"http://{host}:{settings.scada_api_port}"


def post_write(url: str, token: str | None, body: dict[str, Any]) -> tuple[int, Any]:
    """POST /api/tags/write; (status, JSON answer). Raises OSError when the gateway cannot be reached."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{url.rstrip('/')}/api/tags/write", json.dumps(body).encode(), headers,
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=WRITE_TIMEOUT_S) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read())
        except ValueError:
            return error.code, {"detail": error.reason}


def _shown(value: Any) -> str:
    return "-" if value is None else json.dumps(value, ensure_ascii=False)


def write_command(settings: Settings, args: argparse.Namespace) -> int:
    token = settings.scada_api_token.get_secret_value() if settings.scada_api_token else None
    url = args.url or gateway_url(settings)
    try:
        status, answer = post_write(url, token, {"plc": args.plc, "tag": args.tag, "value": args.value})
    except OSError as error:
        print(f"error: the gateway at {url} cannot be reached: {getattr(error, 'reason', error)} "
              "(is it running? --url)", file=sys.stderr)
        return 1
    detail = answer.get("detail", answer) if isinstance(answer, dict) else answer
    results = answer.get("results") if status == 200 else (detail.get("results") if isinstance(detail, dict)
                                                           else None)
    for r in results or []:
        print(f"{args.plc} {r['tag']} ({r['address']}): {_shown(r['old_value'])} -> {_shown(r['requested'])}, "
              f"read back {_shown(r['read_back'])}: {r['result']}{'  ' + r['detail'] if r['detail'] else ''}")
    if status == 200:
        return 0
    message = detail.get("message", detail) if isinstance(detail, dict) else detail
    print(f"error: {status}: {message}", file=sys.stderr)
    if isinstance(detail, dict):
        for refused in detail.get("refused", []):
            print(f"  {refused['tag']}: {refused['reason']}", file=sys.stderr)
    return 1


def audit_command(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.audit_db.exists():
        print(f"no write has been attempted yet ({settings.audit_db} does not exist)")
        return 0
    trail = AuditTrail(settings.audit_db)
    try:
        entries = trail.last(args.limit, args.plc, args.tag)
    finally:
        trail.close()
    if args.json:
        print(json.dumps(entries, ensure_ascii=False, indent=2))
        return 0
    for e in reversed(entries):  # oldest first, as a log reads
        print(f"{e['ts']} #{e['id']} {e['client']} {e['token']} {e['plc_code']} {e['tag_name']} "
              f"{_shown(e['old_value'])} -> {_shown(e['requested'])} read back {_shown(e['read_back'])}: "
              f"{e['result']}{'  ' + e['detail'] if e['detail'] else ''}")
    return 0


def add_parsers(sub: Any, plc: Any, positive: Any) -> None:
    p = sub.add_parser("write", help="write a value to a PLC tag through the gateway (writable tags; needs "
                       "SCADA_API_TOKEN; audited)")
    p.add_argument("plc", type=plc, help="the PLC's equipment code")
    p.add_argument("tag", help="the tag's name")
    p.add_argument("value", help="in engineering units; 0/1 or true/false for a BIT, text for a STRING")
    p.add_argument("--url", help="the gateway (default http://SCADA_API_HOST:SCADA_API_PORT)")
    p.set_defaults(func=write_command)
    p = sub.add_parser("audit", help="the audit trail of writes to the PLCs, allowed and refused")
    p.add_argument("--plc", type=plc, help="only this PLC")
    p.add_argument("--tag", help="only this tag")
    p.add_argument("--limit", type=positive, default=50, help="the last N entries (default 50)")
    p.add_argument("--json", action="store_true", help="JSON, newest first")
    p.set_defaults(func=audit_command)
