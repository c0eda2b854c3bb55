"""A real poller in a thread against virtual-plc, with the test as its buffer."""

from __future__ import annotations

import time
from pathlib import Path

import zmq

from common import messages
from common.config_store import open_store
from common.config_store.csv_import import import_csv
from common.messages import PollingData
from common.settings import Settings
from services.poller.embedded import EmbeddedPoller

PLC = "KRTEST00PLC001"


def make_store(base: Path, port: int, groups: str, tags: str, timeout_ms: int = 300, pool_size: int = 3) -> Settings:
    """A config store with one PLC (PLC) on 127.0.0.1:port; ``groups`` and ``tags`` are CSV rows."""
    csv_dir = base / "csv"
    csv_dir.mkdir(parents=True)
    (csv_dir / "lines.csv").write_text("line_code,line_name\nL1,test\n")
    (csv_dir / "processes.csv").write_text("process_code,line_code,process_name\nP1,L1,test\n")
    (csv_dir / "plcs.csv").write_text(
        "plc_code,process_code,host,port,protocol,pool_size,ports,timeout_ms,is_active,description\n"
        f"{PLC},P1,127.0.0.1,{port},MC3E_BINARY,{pool_size},,{timeout_ms},1,\n")
    (csv_dir / "polling_groups.csv").write_text(
        "group_name,plc_code,mode,interval_ms,trigger_device,ack_device,is_active\n" + groups)
    (csv_dir / "tags.csv").write_text(
        "plc_code,group_name,tag_name,address,data_type,scale,offset,unit,description\n" + tags)
    settings = Settings(scada_data_dir=base / "data", scada_run_dir=base / "run", scada_log_dir=base / "logs",
                        data_queue_size=10_000, _env_file=None)  # type: ignore[call-arg]
    settings.make_dirs()
    conn = open_store(settings.config_db)
    import_csv(conn, [csv_dir])
    conn.close()
    return settings


Poller = EmbeddedPoller


class Ingest:
    """The test plays the buffer: a PULL socket on the poller's ingest endpoint."""

    def __init__(self, settings: Settings) -> None:
        self.sock = zmq.Context.instance().socket(zmq.PULL)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(settings.ingest_endpoint)
        self.received: list[PollingData] = []

    def drain(self, seconds: float = 0.0) -> list[PollingData]:
        deadline = time.monotonic() + seconds
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            if not self.sock.poll(int(remaining * 1000)):
                break
            self.received.append(messages.decode_polling_data(self.sock.recv()))
        return self.received

    def of(self, group: str) -> list[PollingData]:
        return [d for d in self.received if d.group == group]

    def close(self) -> None:
        self.sock.close(linger=0)
