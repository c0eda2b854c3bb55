"""A real poller in a thread against virtual-plc, with the test as its buffer."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import zmq

from common import bus
from common.config_store.csv_import import import_csv
from common.config_store.schema import open_store
from common.settings import Settings
from common.wire.envelope import decode, encode
from common.wire.ingest import Ingested, PollingData
from services.poller.embedded import EmbeddedPoller

PLC = "KRTEST00PLC001"


def make_store(base: Path, port: int, groups: str, tags: str, timeout_ms: int = 300, pool_size: int = 3,
               protocol: str = "MC3E_BINARY", deviations: str = "", transport: str = "TCP",
               multi_block_read: int = 0) -> Settings:
    """A config store with one PLC (PLC) on 127.0.0.1:port; ``groups`` and ``tags`` are CSV rows.

    ``multi_block_read`` is off by default: virtual-plc, the usual peer here, serves no 0406."""
    csv_dir = base / "csv"
    csv_dir.mkdir(parents=True)
    (csv_dir / "lines.csv").write_text("line_code,line_name\nL1,test\n")
    (csv_dir / "processes.csv").write_text("process_code,line_code,process_name\nP1,L1,test\n")
    (csv_dir / "plcs.csv").write_text(
        "plc_code,process_code,host,port,protocol,pool_size,ports,timeout_ms,is_active,description,deviations,"
        "transport,multi_block_read\n"
        f"{PLC},P1,127.0.0.1,{port},{protocol},{pool_size},,{timeout_ms},1,,{deviations},{transport},"
        f"{multi_block_read}\n")
    (csv_dir / "polling_groups.csv").write_text(
        "group_name,plc_code,mode,interval_ms,trigger_device,ack_device,is_active\n" + groups)
    (csv_dir / "tags.csv").write_text(
        "plc_code,group_name,tag_name,address,data_type,scale,offset,unit,description\n" + tags)
    settings = Settings(scada_data_dir=base / "data", scada_run_dir=base / "run", scada_log_dir=base / "logs",
                        data_queue_size=10_000, _env_file=None)
    settings.make_dirs()
    conn = open_store(settings.config_db)
    import_csv(conn, [csv_dir])
    conn.close()
    return settings


Poller = EmbeddedPoller


class Ingest:
    """The test plays the buffer: a thread with a PULL socket on the poller's ingest endpoint,
    and a PUB on the live endpoint confirming what it received (unless ``confirm`` is False)."""

    def __init__(self, settings: Settings, confirm: bool = True) -> None:
        self.settings = settings
        self.confirm = confirm
        self.received: list[PollingData] = []
        self._stop = threading.Event()
        self._bound = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="ingest")
        self._thread.start()
        self._bound.wait(5)

    def _run(self) -> None:
        ctx: zmq.Context[Any] = zmq.Context.instance()
        pull = ctx.socket(zmq.PULL)
        pull.setsockopt(zmq.LINGER, 0)
        pull.bind(self.settings.ingest_endpoint)
        live = ctx.socket(zmq.PUB)
        live.setsockopt(zmq.LINGER, 0)
        live.bind(self.settings.live_endpoint)
        self._bound.set()
        again = time.monotonic()
        try:
            while not self._stop.is_set():
                if time.monotonic() >= again and self.confirm and self.received:
                    again = time.monotonic() + 0.5  # as the buffer does, for a poller that missed them
                    self._confirm(live, self.received[-50:])
                if not pull.poll(50):
                    continue
                data = decode(pull.recv(), PollingData)
                self.received.append(data)
                if self.confirm:
                    self._confirm(live, [data])
        finally:
            pull.close(linger=0)
            live.close(linger=0)

    @staticmethod
    def _confirm(live: zmq.Socket[bytes], cycles: list[PollingData]) -> None:
        plc = cycles[0].plc_code
        live.send_multipart([bus.ack_topic(plc), encode(Ingested(plc, [(d.group, d.identity) for d in cycles]))])

    def drain(self, seconds: float = 0.0) -> list[PollingData]:
        """Everything received so far, after waiting ``seconds``."""
        time.sleep(seconds)
        return self.received

    def of(self, group: str) -> list[PollingData]:
        return [d for d in self.received if d.group == group]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
