"""The gateway follows the config store: the real app (create_app) on temporary ipc endpoints, the test
playing the buffer's live PUB, two pollers' status and one poller's control socket.

A PLC removed by ``scada db import --prune`` leaves /api/values/latest, /api/polling/status and
/metrics once its poller stops; a tag taken out of a group, and a deactivated group, leave the latest
values; a poller whose digest differs from the store is told to reload, again after each change of the
store; the config API answers from the store as it is now.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from fastapi.testclient import TestClient

from common import bus
from common.config_store.csv_import import export_csv, import_csv
from common.config_store.schema import open_store
from common.settings import Settings
from common.times import now_ms
from common.wire.envelope import encode, pack, unpack
from common.wire.ingest import PollingData, TagValue
from services.gateway.app import create_app
from tests.gateway_run import gateway_settings
from tests.helpers import SAMPLE, short_tmp, wait_for

pytestmark = pytest.mark.timeout(60)

A, C = "KRCWO12ELOA101", "KRCWO12WELD201"


class Plant:
    """The other stages, as far as the gateway sees them: live values, poller status, A's control socket."""

    def __init__(self, settings: Settings) -> None:
        self.ctx = zmq.Context()
        self.live = self.ctx.socket(zmq.PUB)
        self.live.bind(settings.live_endpoint)
        self.status = {code: bus.Telemetry(self.ctx, settings.telemetry_endpoint, "poller", code) for code in (A, C)}
        self.control = self.ctx.socket(zmq.DEALER)
        self.control.setsockopt(zmq.IDENTITY, A.encode())
        self.control.connect(settings.control_endpoint)
        self.digest = {A: "not-the-store's", C: "whatever"}
        self.running = {A: True, C: True}
        self.commands: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seq = 0
        while not self._stop.is_set():
            seq += 1
            for code in (A, C):
                if self.running[code]:
                    self.status[code].publish(plc_code=code, config_digest=self.digest[code],
                                              groups=[{"name": "FAST_1S", "state": "RUNNING", "cycles": seq}])
                    values = [TagValue(f"D{i}", i, "GOOD") for i in range(3)]
                    for group in ("FAST_1S", "SLOW_10S"):
                        data = PollingData(code, group, seq, now_ms(), 1.0, values, None, (1 << 32) | seq)
                        self.live.send_multipart([bus.data_topic(code, group), encode(data)])
            self.control.send(pack({"v": 1, "t": "hello", "plc": A, "groups": ["FAST_1S"]}))
            while self.control.poll(100):
                command = unpack(self.control.recv(), "command")
                self.commands.append(command)
                self.control.send(pack({"v": 1, "t": "reply", "id": command["id"], "ok": True,
                                                 "result": {"config_digest": "reloaded"}}))

    def stop_poller(self, code: str) -> None:
        self.running[code] = False
        self.status[code].publish(plc_code=code, stopped=True, groups=[])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.ctx.destroy(linger=0)


@pytest.fixture
def settings() -> Settings:
    settings = gateway_settings(short_tmp())
    conn = open_store(settings.config_db)
    import_csv(conn, [SAMPLE])
    conn.close()
    return settings


@pytest.fixture
def plant(settings: Settings) -> Iterator[Plant]:
    plant = Plant(settings)
    yield plant
    plant.close()


def prune_import(settings: Settings, folder: Path, drop_plc: str, drop_address: tuple[str, str]) -> None:
    conn = open_store(settings.config_db)
    try:
        export_csv(conn, folder)
        for name in ("plcs", "polling_groups", "tags"):
            path = folder / f"{name}.csv"
            with path.open(encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                header, rows = list(reader.fieldnames or []), list(reader)
            rows = [{**r, "is_active": "0"} if (r["plc_code"], r.get("group_name")) == (A, "SLOW_10S")
                    and "mode" in r else r for r in rows if r["plc_code"] != drop_plc
                    and (r["plc_code"], r.get("address")) != drop_address]
            with path.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.DictWriter(handle, header, lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows)
        import_csv(conn, [folder], prune=True)
    finally:
        conn.close()


def test_a_removed_plc_and_tag_leave_what_the_gateway_shows(settings: Settings, plant: Plant) -> None:
    with TestClient(create_app(settings)) as client:
        def shown() -> tuple[set[tuple[str, str]], set[str], str]:
            # the status first: the watch forgets a stopped poller in the same turn as it takes the new
            # store, so once the status has lost it, any later read of the latest values must have too
            pollers = {p["plc_code"] for p in client.get("/api/polling/status").json()["pollers"]}
            latest = {(v["plc_code"], v["address"]) for v in client.get("/api/values/latest").json()["values"]}
            return latest, pollers, client.get("/metrics").text

        wait_for(lambda: (lambda s: {(A, "D1"), (C, "D1")} <= s[0] and s[1] == {A, C})(shown()), 10,
                 what="both PLCs shown")
        assert f'plc="{C}"' in shown()[2]
        first = wait_for(lambda: [c for c in plant.commands if c["op"] == "reload"], 10, what="A told to reload")
        assert len(first) == 1  # once per change of the store, though A goes on reporting another digest

        prune_import(settings, short_tmp() / "csv", C, (A, "D1"))
        plant.stop_poller(C)  # as supervisord stops it after the import
        latest, _pollers, metrics = wait_for(lambda: (lambda s: s if C not in s[1] else None)(shown()), 10,
                                            what=f"{C} gone from the status")
        assert {code for code, _ in latest} == {A} and (A, "D1") not in latest and (A, "D2") in latest
        groups_shown = {v["group"] for v in client.get("/api/values/latest", params={"plc": A}).json()["values"]}
        assert groups_shown == {"FAST_1S"}  # SLOW_10S deactivated
        assert f'plc="{C}"' not in metrics and f'plc="{A}"' in metrics
        wait_for(lambda: len([c for c in plant.commands if c["op"] == "reload"]) == 2, 10,
                 what="A told to reload again after the import")

        plcs = client.get("/api/config/plcs").json()
        assert plcs["count"] == 2 and C not in {p["plc_code"] for p in plcs["plcs"]}
        groups = client.get("/api/config/groups", params={"plc": A}).json()
        assert groups["count"] == 4 and {g["group_name"] for g in groups["groups"]} >= {"FAST_1S", "BATCH_HS"}
        tags = client.get("/api/config/tags", params={"plc": A, "group": "FAST_1S", "q": "cnt_00"}).json()
        assert [t["tag_name"] for t in tags["tags"]] == ["CNT_000", "CNT_002", "CNT_003", "CNT_004", "CNT_005",
                                                         "CNT_006", "CNT_007", "CNT_008", "CNT_009"]
        assert tags["tags"][0] == {"plc_code": A, "group_name": "FAST_1S", "tag_name": "CNT_000", "address": "D0",
                                   "data_type": "INT16", "scale": None, "offset": None, "unit": "count",
                                   "description": "생산 카운터"}
        page = client.get("/api/config/tags", params={"limit": 5, "offset": 5}).json()
        assert page["count"] == 5 and page["total"] > 900
        assert client.get("/api/config/tags", params={"plc": "bad"}).status_code == 422
        assert client.get("/api/config/tags", params={"limit": 0}).status_code == 422
        assert {"/api/config/plcs", "/api/config/groups", "/api/config/tags"} <= set(
            client.get("/openapi.json").json()["paths"])
