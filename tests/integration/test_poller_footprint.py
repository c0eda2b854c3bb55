"""A poller process of the sample plant, measured by itself: what its status says it costs.

One real ``python -m services.poller`` against virtual-plc (in this process) with the sample plant's
PLC KRCWO12ELOA102 (470 tags in 4 groups); the test plays the buffer and reads the poller's status.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from typing import Any

import zmq
from virtual_plc import Memory, Server

from common import bus
from common.config_store import open_store
from common.config_store.csv_import import import_csv
from common.settings import Settings
from common.wire.envelope import unpack
from tests.helpers import ROOT, sample_on_free_ports, scada_env, short_tmp, wait_for
from tests.integration.poller_harness import Ingest
from tests.unit.services.poller.test_main import POLLER_RSS_LIMIT

PLC = "KRCWO12ELOA102"


def test_a_running_poller_reports_what_it_costs() -> None:
    base = short_tmp("footprint-")
    env = scada_env(base)
    ports = sample_on_free_ports(base / "csv")
    settings = Settings(scada_data_dir=base / "data", scada_run_dir=base / "run", scada_log_dir=base / "logs",
                        _env_file=None)
    settings.make_dirs()
    conn = open_store(settings.config_db)
    import_csv(conn, [base / "csv"])
    conn.close()
    telemetry: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
    telemetry.setsockopt(zmq.LINGER, 0)
    telemetry.setsockopt(zmq.SUBSCRIBE, bus.status_topic("poller", PLC))
    telemetry.bind(settings.telemetry_endpoint)
    ingest = Ingest(settings)
    latest: dict[str, Any] = {}

    def polled_a_while() -> bool:
        while telemetry.poll(100):
            latest.update(unpack(telemetry.recv_multipart()[1]))
        fast = [g for g in latest.get("groups", []) if g["interval_ms"] == 1000]
        return bool(fast) and all(g["cycles"] >= 3 for g in fast)

    with Server("127.0.0.1", ports[PLC], memory=Memory()):
        poller = subprocess.Popen([sys.executable, "-m", "services.poller", "--plc", PLC], cwd=ROOT,
                                  env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(polled_a_while, 30, what="three cycles of every 1 s group in the poller's status")
        finally:
            poller.terminate()
            _, log = poller.communicate(timeout=15)
            ingest.close()
            telemetry.close()
            shutil.rmtree(base, ignore_errors=True)
    process = latest["process"]
    print(f"poller {PLC}: {process['rss_bytes'] / 2**20:.1f} MiB resident, polling "
          f"{process['polling_after_s']:.2f} s after its start")
    assert process["rss_bytes"] < POLLER_RSS_LIMIT, log
    assert process["polling_after_s"] > 0 and process["cpu_s"] > 0
    assert ingest.received, "the poller's cycles reached the test's ingest"
    assert not [g for g in latest["groups"] if g["errors"]], log
