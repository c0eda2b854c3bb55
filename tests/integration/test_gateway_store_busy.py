"""A config store locked for seconds (BEGIN EXCLUSIVE from another connection) stops nothing:
the gateway answers from its copy of the plant or 503 with Retry-After, never 500, its status
stays as fast, and a poller started meanwhile waits for the store and comes up."""

from __future__ import annotations

import sqlite3
import statistics
import threading
import time
from pathlib import Path

import httpx
import pytest
from virtual_plc import Memory, Server

from services.poller.embedded import EmbeddedPoller
from tests.gateway_run import GatewayThread
from tests.helpers import short_tmp, wait_for
from tests.integration.poller_harness import PLC, Ingest, make_store

pytestmark = pytest.mark.timeout(120)

LOCK_S = 8.0


def hold_lock(path: Path, seconds: float, held: threading.Event) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    held.set()
    time.sleep(seconds)
    conn.execute("COMMIT")
    conn.close()


class StatusLoad:
    """GET /api/polling/status in a loop; the latency of each answer, by phase."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.phase = "before"
        self.latencies: dict[str, list[float]] = {}
        self.statuses: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self.stop.is_set():
                started = time.perf_counter()
                status = client.get("/api/polling/status").status_code
                self.latencies.setdefault(self.phase, []).append(1000 * (time.perf_counter() - started))
                self.statuses.append(status)
                time.sleep(0.01)

    def p99(self, phase: str) -> float:
        return statistics.quantiles(self.latencies[phase], n=100, method="inclusive")[98]


def test_locked_store_under_api_load() -> None:
    with Server(memory=Memory()) as plc_server:
        settings = make_store(short_tmp(), plc_server.address[1], f"FAST,{PLC},FIXED,200,,,1\n",
                              f"{PLC},FAST,T1,D0,UINT16,,,,\n")
        ingest = Ingest(settings)
        with GatewayThread(settings) as gateway:
            load = StatusLoad(gateway.url)
            commands: list[httpx.Response] = []
            poller: list[EmbeddedPoller] = []
            try:
                with httpx.Client(base_url=gateway.url, timeout=15) as client:
                    wait_for(lambda: client.get(f"/api/polling/groups/FAST/status?plc={PLC}").status_code == 503,
                             10, what="the gateway knows the group (its poller not running yet)")
                    time.sleep(3)
                    load.phase = "locked"
                    held = threading.Event()
                    locker = threading.Thread(target=hold_lock, args=(settings.config_db, LOCK_S, held))
                    locker.start()
                    held.wait(5)
                    time.sleep(2.5)  # past the gateway's refresh: it now wants to read the store
                    starter = threading.Thread(target=lambda: poller.append(EmbeddedPoller(settings, PLC).start()))
                    starter.start()
                    while locker.is_alive():
                        commands.append(client.post("/api/polling/groups/FAST/start", params={"plc": PLC}))
                        commands.append(client.post("/api/polling/start-all"))
                        commands.append(client.get("/api/polling/groups/FAST/status", params={"plc": PLC}))
                        time.sleep(0.3)
                    load.phase = "after"
                    starter.join(30)
                    assert poller, "the poller did not start"
                    wait_for(lambda: ingest.of("FAST"), 15, what="data from the poller started during the lock")
                    body = wait_for(lambda: client.get("/api/polling/status").json()["pollers"], 15,
                                    what="the poller in the status")
                    assert body[0]["plc_code"] == PLC and body[0]["alive"]
                    started = client.post("/api/polling/groups/FAST/start", params={"plc": PLC})
                    assert started.status_code == 200, started.text
            finally:
                load.stop.set()
                load.thread.join(10)
                for p in poller:
                    p.end()
                ingest.close()
        bad = [(r.request.method, r.request.url.path, r.status_code, r.text) for r in commands
               if r.status_code >= 500 and r.status_code != 503]
        assert not bad, bad
        for r in commands:
            if r.status_code == 503 and "config store" in r.text:
                assert r.headers.get("retry-after"), r.headers
        assert set(load.statuses) == {200}, set(load.statuses)
        before, locked = load.p99("before"), load.p99("locked")
        print(f"GET /api/polling/status p99: {before:.1f} ms before, {locked:.1f} ms while the store was locked "
              f"({len(load.latencies['locked'])} requests); commands: "
              f"{sorted({(r.request.url.path, r.status_code) for r in commands})}")
        assert locked <= 3 * before + 25, (before, locked)


def test_store_locked_before_the_first_read_answers_503_with_retry_after() -> None:
    with Server(memory=Memory()) as plc_server:
        settings = make_store(short_tmp(), plc_server.address[1], f"FAST,{PLC},FIXED,200,,,1\n",
                              f"{PLC},FAST,T1,D0,UINT16,,,,\n")
        held = threading.Event()
        locker = threading.Thread(target=hold_lock, args=(settings.config_db, 4.0, held))
        locker.start()
        held.wait(5)
        try:
            with GatewayThread(settings) as gateway, httpx.Client(base_url=gateway.url, timeout=15) as client:
                answer = client.post("/api/polling/groups/FAST/start", params={"plc": PLC})
                assert answer.status_code == 503, answer.text
                assert "config store" in answer.json()["detail"]
                assert int(answer.headers["retry-after"]) > 0
                locker.join()
                # the store answers again: the group is found (its poller is not running: 503 without the store)
                answer = wait_for(lambda: (r := client.get("/api/polling/groups/FAST/status",
                                                          params={"plc": PLC})) and "config store" not in r.text
                                  and r, 10, what="an answer from the store")
                assert answer.status_code == 503 and "not reporting" in answer.text, answer.text
        finally:
            locker.join()
