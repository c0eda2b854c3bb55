"""The audit trail: every entry kept with its values' types, completed in place, newest first, never deleted."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from common.writes.audit import AuditEntry, AuditTrail


def entry(tag: str, requested: object, result: str = "pending", **more: object) -> AuditEntry:
    return AuditEntry("req1", 1764748800123, "127.0.0.1", "api", "KRCWO12ELOA101", tag, "D100",
                      requested=requested, result=result, **more)  # type: ignore[arg-type]


def test_recorded_then_completed_with_values_of_every_type(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.db")
    ids = trail.record([entry("A", 12), entry("B", 1.5), entry("C", "KRCW")])
    trail.complete(ids, [{"old_value": 11, "read_back": 12, "result": "written"},
                         {"old_value": 0.25, "read_back": 1.5, "result": "written"},
                         {"result": "failed", "detail": "end code C056H"}])
    rows = trail.last()
    assert [(r["tag_name"], r["old_value"], r["requested"], r["read_back"], r["result"]) for r in rows] == [
        ("C", None, "KRCW", None, "failed"), ("B", 0.25, 1.5, 1.5, "written"), ("A", 11, 12, 12, "written")]
    assert type(rows[2]["requested"]) is int and type(rows[1]["requested"]) is float
    assert rows[0]["ts"] == "2025-12-03T08:00:00.123Z" and rows[0]["detail"] == "end code C056H"


def test_filters_paging_and_a_reopened_file_keeps_everything(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.db")
    for i in range(30):
        trail.record([entry(f"T{i % 3}", i, "refused_not_writable")])
    trail.close()
    again = AuditTrail(tmp_path / "audit.db")
    assert again.count() == 30
    page = again.last(limit=5, tag_name="T1")
    assert [r["requested"] for r in page] == [28, 25, 22, 19, 16]
    assert [r["requested"] for r in again.last(limit=2, tag_name="T1", before_id=page[-1]["id"])] == [13, 10]
    assert again.last(plc_code="KRCWO12ELOA102") == []


def test_a_trail_that_cannot_be_written_raises_and_records_nothing(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.db")
    blocker = sqlite3.connect(tmp_path / "audit.db", timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    trail._conn.execute("PRAGMA busy_timeout = 50")
    with pytest.raises(sqlite3.OperationalError):
        trail.record([entry("A", 1)])
    blocker.execute("ROLLBACK")
    assert trail.count() == 0


def test_whatever_a_client_sent_is_kept_as_json_an_api_can_answer(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.db")
    odd = [float("nan"), float("-inf"), "x" * 5000, {1: "a"}, [1.5, float("nan")], 10**400]
    trail.record([entry(f"T{i}", value, "refused_bad_value") for i, value in enumerate(odd)])
    rows = {r["tag_name"]: r["requested"] for r in trail.last()}
    json.dumps(rows, allow_nan=False)  # what the API answers must be strict JSON
    assert rows["T0"] == "nan" and rows["T1"] == "-inf" and rows["T3"] == {"1": "a"} and rows["T5"] == 10**400
    assert rows["T2"].startswith('"xxx') and rows["T2"].endswith("…") and len(rows["T2"]) <= 2002
