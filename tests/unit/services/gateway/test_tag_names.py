"""Names, not just addresses: the latest values, /ws/values and /api/tags carry each tag's name, unit and
description from the config store; the names follow a change of the store without a restart."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from common import bus
from common.config_store.schema import open_store
from common.times import now_ms
from common.wire.cycle import make_cycle
from common.wire.envelope import encode
from common.wire.ingest import GOOD, PollingData, TagValue
from services.gateway import tag_names
from services.gateway.app import create_app
from services.gateway.tag_names import TagNames
from tests.helpers import short_tmp
from tests.integration.poller_harness import PLC, make_store

pytestmark = pytest.mark.timeout(60)

GROUPS = "FAST,KRTEST00PLC001,FIXED,1000,,,1\n"
TAGS = (f"{PLC},FAST,OVEN_TEMP,D100,INT16,0.1,,°C,오븐 온도 (oven temperature)\n"
        f"{PLC},FAST,LINE_SPEED,D101,UINT16,,,m/min,line speed\n"
        f"{PLC},FAST,DOOR_OPEN,M5,BIT,,,,door open\n")


def _cycle(values: list[TagValue]) -> list[bytes]:
    data = PollingData(PLC, "FAST", 1, now_ms(), 1.0, values, None, make_cycle(1, 1))
    return [bus.data_topic(PLC, "FAST"), encode(data)]


def test_latest_values_websocket_and_search_carry_names_units_and_descriptions() -> None:
    settings = make_store(short_tmp(), 1, GROUPS, TAGS)
    app = create_app(settings)
    with TestClient(app) as client:
        app.state.live.on_frames(_cycle([TagValue("D100", 21.5, GOOD), TagValue("D101", 12, GOOD),
                                                TagValue("M5", None, "BAD_TIMEOUT"), TagValue("D999", 1, GOOD)]))
        body = client.get("/api/values/latest").json()
        by_address = {v["address"]: v for v in body["values"]}
        assert by_address["D100"] | {"ts": None} == {
            "plc_code": PLC, "group": "FAST", "address": "D100", "value": 21.5, "quality": GOOD, "ts": None,
            "seq": 1, "tag_name": "OVEN_TEMP", "unit": "°C", "description": "오븐 온도 (oven temperature)"}
        assert (by_address["M5"]["tag_name"], by_address["M5"]["unit"]) == ("DOOR_OPEN", "")
        # an address its group no longer has in the store (removed since) is not shown (config_watch.py)
        assert "D999" not in by_address

        with client.websocket_connect(f"/ws/values?plc={PLC}") as ws:
            message = ws.receive_json()
        assert {v["address"]: v["tag_name"] for v in message["values"]} == {
            "D100": "OVEN_TEMP", "D101": "LINE_SPEED", "M5": "DOOR_OPEN"}

        found = client.get("/api/tags", params={"search": "speed"}).json()
        assert [t["tag_name"] for t in found["tags"]] == ["LINE_SPEED"]
        assert found["tags"][0] == {"plc_code": PLC, "group": "FAST", "tag_name": "LINE_SPEED", "address": "D101",
                                    "data_type": "UINT16", "unit": "m/min", "description": "line speed",
                                    "deadband": None, "expected_every_ms": 1000}
        # a name that starts with the text comes first, then the others containing it (here: in an address)
        found = client.get("/api/tags", params={"search": "d"}).json()
        assert [t["tag_name"] for t in found["tags"]] == ["DOOR_OPEN", "OVEN_TEMP", "LINE_SPEED"]
        assert client.get("/api/tags", params={"search": "오븐"}).json()["tags"][0]["tag_name"] == "OVEN_TEMP"
        limited = client.get("/api/tags", params={"search": "", "limit": 2}).json()
        assert (limited["count"], limited["matched"]) == (2, 3)
        assert client.get("/api/tags", params={"plc": "bad"}).status_code == 422
        assert client.get("/api/tags", params={"limit": 0}).status_code == 422


def test_how_often_a_row_is_expected_follows_the_group_and_the_deadband() -> None:
    """The trend draws a silence longer than this as a gap: the interval, the maximum interval with a
    deadband (60 s unless the group says), nothing for a HANDSHAKE group (read when the PLC asks)."""
    settings = make_store(short_tmp(), 1, GROUPS + "HS,KRTEST00PLC001,HANDSHAKE,500,M900,M901,1\n",
                          TAGS + f"{PLC},HS,LOT,D200,UINT16,,,,\n")
    conn = open_store(settings.config_db)
    conn.execute("UPDATE tags SET deadband = 0.5 WHERE address = 'D101'")
    conn.close()
    app = create_app(settings)
    with TestClient(app) as client:
        found = {t["tag_name"]: t for t in client.get("/api/tags").json()["tags"]}
        assert {n: (t["deadband"], t["expected_every_ms"]) for n, t in found.items()} == {
            "OVEN_TEMP": (None, 1000), "LINE_SPEED": (0.5, 60_000), "DOOR_OPEN": (None, 1000), "LOT": (None, None)}
        conn = open_store(settings.config_db)
        conn.execute("UPDATE polling_groups SET max_interval_ms = 5000 WHERE group_name = 'FAST'")
        conn.close()
        client.portal.call(app.state.tag_names.refresh)  # type: ignore[union-attr]  # as if REFRESH_S passed
        found = {t["tag_name"]: t for t in client.get("/api/tags").json()["tags"]}
        assert found["LINE_SPEED"]["expected_every_ms"] == 5000


def test_names_follow_a_change_of_the_store_and_survive_its_absence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tag_names, "REFRESH_S", 0.0)
    settings = make_store(short_tmp(), 1, GROUPS, TAGS)

    async def scenario() -> None:
        names = TagNames(settings.config_db)
        assert names.lookup(PLC, "FAST", "D100") is None  # nothing read yet: no wait, no name
        await names.refresh()
        tag = names.lookup(PLC, "FAST", "D100")
        assert tag is not None and (tag.tag_name, tag.unit) == ("OVEN_TEMP", "°C")
        reads = names.reads
        await names.refresh()
        assert names.reads == reads  # nothing changed: not read again
        conn = open_store(settings.config_db)
        conn.execute("UPDATE tags SET unit = 'K' WHERE address = 'D100'")
        conn.close()
        await names.refresh()
        assert names.lookup(PLC, "FAST", "D100").unit == "K"  # type: ignore[union-attr]
        assert names.reads == reads + 1
        settings.config_db.rename(settings.config_db.with_suffix(".moved"))
        await names.refresh()
        assert names.failed_reads >= 1 and names.last_error
        assert names.lookup(PLC, "FAST", "D100").unit == "K"  # type: ignore[union-attr]  # the last copy
        names.close()

    asyncio.run(scenario())
