"""The trigger endpoint's rate limit per group: 429 with Retry-After, against the real app and sockets.

No poller runs: a trigger the limit lets through reaches the control socket and answers 503 (the poller
is not connected); one the limit refuses never gets that far.
"""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from common.settings import Settings
from services.gateway.app import create_app
from services.gateway.trigger_limit import TriggerLimit
from tests.helpers import short_tmp
from tests.integration.poller_harness import PLC, make_store

pytestmark = pytest.mark.timeout(60)


def test_a_group_triggered_too_fast_answers_429_with_retry_after() -> None:
    settings = make_store(short_tmp(), 1, "HS,KRTEST00PLC001,HANDSHAKE,100,M900,M901,1\n"
                          "HS2,KRTEST00PLC001,HANDSHAKE,100,M910,M911,1\n",
                          f"{PLC},HS,HS_D0,D0,UINT16,,,,\n{PLC},HS2,HS2_D1,D1,UINT16,,,,\n")
    settings = Settings(**{**settings.model_dump(), "api_trigger_min_interval_ms": 1500})
    with TestClient(create_app(settings)) as client:
        first = client.post(f"/api/polling/groups/HS/trigger?plc={PLC}")
        assert first.status_code == 503  # through the limit, to the (absent) poller
        again = client.post(f"/api/polling/groups/HS/trigger?plc={PLC}")
        assert again.status_code == 429 and again.headers["Retry-After"] == "2"  # 1.5 s, rounded up
        assert "API_TRIGGER_MIN_INTERVAL_MS" in again.json()["detail"]
        assert client.post(f"/api/polling/groups/HS2/trigger?plc={PLC}").status_code == 503  # its own limit
        time.sleep(1.6)
        assert client.post(f"/api/polling/groups/HS/trigger?plc={PLC}").status_code == 503


def test_the_limit_counts_from_the_last_trigger_let_through() -> None:
    now = [0.0]
    limit = TriggerLimit(200, clock=lambda: now[0])
    limit.check(PLC, "HS")
    for at, allowed in ((0.1, False), (0.19, False), (0.2, True), (0.3, False), (0.45, True)):
        now[0] = at
        try:
            limit.check(PLC, "HS")
            assert allowed, at
        except Exception as error:  # HTTPException 429
            assert not allowed and getattr(error, "status_code", None) == 429, at
    assert limit.refused == 3
    TriggerLimit(0).check(PLC, "HS")  # 0: no limit
    TriggerLimit(0).check(PLC, "HS")
