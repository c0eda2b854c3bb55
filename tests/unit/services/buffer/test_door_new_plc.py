"""The buffer's door lets in the first cycle of a PLC registered while it runs (issue 17, live import)."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.config_store.csv_import import import_csv
from common.config_store.schema import open_store
from common.settings import Settings
from common.value_checks import CycleRefused
from common.wire.envelope import pack
from services.buffer.door import UNKNOWN_PLC_EVERY_S, IngestDoor
from tests.helpers import SAMPLE

NEW = "KRCWO12ELOA109"
NOW = 1_800_000_000_000


def frame(plc: str) -> bytes:
    return pack({"v": 1, "t": "polling_data", "plc": plc, "group": "G", "seq": 1, "ts": NOW, "dur": 1.0,
                 "err": None, "values": [["D0", 1, "GOOD"]]})


def test_a_plc_registered_after_the_last_read_is_let_in_at_its_first_cycle(tmp_path: Path) -> None:
    settings = Settings(scada_data_dir=tmp_path, buffer_max_size=100)
    conn = open_store(settings.config_db)
    import_csv(conn, [SAMPLE])
    now = [0.0]
    door = IngestDoor(settings, clock=lambda: now[0], wall_ms=lambda: NOW)
    assert NEW not in (door.plc_codes() or ())
    now[0] = UNKNOWN_PLC_EVERY_S / 2
    with pytest.raises(CycleRefused, match="not in the config store"):  # an unknown code does not read at will
        door.take(frame(NEW))
    conn.execute("INSERT INTO plcs (plc_code, process_code, host, port, protocol, pool_size, timeout_ms, is_active)"
                 f" VALUES ('{NEW}', 'ELOA', '127.0.0.1', 1, 'MC3E_BINARY', 1, 1000, 1)")
    conn.close()
    now[0] = UNKNOWN_PLC_EVERY_S  # well within the 30 s between regular reads
    block, _ = door.take(frame(NEW))
    assert block.plc_code == NEW and door.figures()["ingest_refused_cycles"] == {"unknown_plc": 1}
    with pytest.raises(CycleRefused):
        door.take(frame("KRZZZZ99ZZZZ99"))  # a code still unknown stays refused
