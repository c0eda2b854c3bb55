"""GET /api/history against the real app (create_app, TestClient) and a real SQLite historian."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from common.historian.rows import Row
from common.historian.sqlite_sink import SqliteSink
from common.times import iso_ms
from services.gateway.app import create_app
from tests.helpers import short_tmp
from tests.integration.poller_harness import PLC, make_store

pytestmark = pytest.mark.timeout(60)
T0 = 1_764_720_000_000  # 2025-12-03T00:00:00Z


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    settings = make_store(short_tmp(), 1, "FAST,KRTEST00PLC001,FIXED,1000,,,1\n",
                          f"{PLC},FAST,LINE_SPEED,D100,INT16,,,m/min,line speed\n"
                          f"{PLC},FAST,LOT_NO,D200,STRING[5],,,,lot\n")
    sink = SqliteSink(settings.historian_db)
    rows = []
    for c in range(3000):  # 50 minutes of a 1 s group; every 10th value BAD
        ts = iso_ms(T0 + 1000 * c)
        good = c % 10 != 5
        rows.append(Row(ts, PLC, "D100", c if good else None, "GOOD" if good else "BAD_TIMEOUT", "FAST", c + 1))
        rows.append(Row(ts, PLC, "D200", f"LOT{c // 600}", "GOOD", "FAST", c + 1))
    sink.write(rows)
    sink.close()
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def get(client: TestClient, **params: object) -> tuple[int, Any]:
    response = client.get("/api/history", params=params)
    return response.status_code, response.json()


def test_raw_by_name_with_bad_values_as_null(client: TestClient) -> None:
    status, body = get(client, tag=f"{PLC}/LINE_SPEED", **{"from": iso_ms(T0), "to": iso_ms(T0 + 12_000)})
    assert status == 200 and (body["from_ms"], body["to_ms"], body["points"]) == (T0, T0 + 12_000, 1000)
    (series,) = body["series"]
    assert {k: series[k] for k in ("plc_code", "tag_name", "address", "data_type", "unit", "description", "mode",
                                   "bucket_ms")} == {
        "plc_code": PLC, "tag_name": "LINE_SPEED", "address": "D100", "data_type": "INT16", "unit": "m/min",
        "description": "line speed", "mode": "raw", "bucket_ms": None}
    assert series["ts"] == [T0 + 1000 * c for c in range(12)]
    assert series["value"] == [0, 1, 2, 3, 4, None, 6, 7, 8, 9, 10, 11]
    assert series["quality"][5] == "BAD_TIMEOUT" and series["quality"][4] == "GOOD"
    assert "min" not in series


def test_buckets_count_bad_values_and_keep_gaps(client: TestClient) -> None:
    # one hour in 6 buckets of 10 minutes: the data end after 50 minutes, so the last bucket is an empty one
    status, body = get(client, tag=f"{PLC}/d100", points=6, **{"from": iso_ms(T0), "to": iso_ms(T0 + 3_600_000)})
    assert status == 200
    (s,) = body["series"]
    assert (s["mode"], s["bucket_ms"], len(s["ts"])) == ("buckets", 600_000, 6)
    assert s["count"] == [600, 600, 600, 600, 600, 0]
    assert s["good_share"][:5] == [0.9] * 5 and s["good_share"][5] is None
    assert (s["first"][0], s["last"][0], s["min"][0], s["max"][0]) == (0, 599, 0, 599)
    assert s["avg"][0] == sum(c for c in range(600) if c % 10 != 5) / 540
    assert (s["first"][5], s["min"][5], s["avg"][5]) == (None, None, None)
    assert "value" not in s


def test_strings_are_not_aggregated(client: TestClient) -> None:
    status, body = get(client, tag=f"{PLC}/LOT_NO", points=5, **{"from": iso_ms(T0), "to": iso_ms(T0 + 3_000_000)})
    (s,) = body["series"]
    assert status == 200 and s["mode"] == "buckets" and s["first"][:2] == ["LOT0", "LOT1"] and s["last"][0] == "LOT0"
    assert s["min"] == s["max"] == s["avg"] == [None] * 5


@pytest.mark.parametrize(("params", "status", "reason"), [
    ({"tag": f"{PLC}/NOPE", "from": "-1h"}, 404, "no tag 'NOPE'"),
    ({"tag": "KRNOSUCHPLC001/D0", "from": "-1h"}, 404, "KRNOSUCHPLC001"),
    ({"tag": f"{PLC}/D100", "from": "yesterday"}, 422, "neither ISO-8601"),
    ({"tag": f"{PLC}/D100", "from": "-1h", "to": "-2h"}, 422, "not before"),
    ({"tag": f"{PLC}/D100"}, 422, "from is required"),
    ({"tag": f"{PLC}/D100", "from": "-1h", "points": 0}, 422, "between 1 and 10000"),
    ({"tag": "D100", "from": "-1h"}, 422, "<plc_code>/<tag name or address>"),
    ({"tag": [f"{PLC}/D100"] * 21, "from": "-1h"}, 422, "at most 20"),
    ({"from": "-1h"}, 422, "at least one tag"),
])
def test_bad_requests_say_why(client: TestClient, params: dict[str, object], status: int, reason: str) -> None:
    got, body = get(client, **params)
    assert got == status and reason in body["detail"]


def test_relative_range_and_several_tags(client: TestClient) -> None:
    status, body = get(client, tag=[f"{PLC}/LINE_SPEED", f"{PLC}/D200"], **{"from": "-10m"})
    assert status == 200 and [s["address"] for s in body["series"]] == ["D100", "D200"]
    assert body["to_ms"] - body["from_ms"] == 600_000 and body["series"][0]["ts"] == []  # nothing stored lately
