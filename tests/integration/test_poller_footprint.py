"""A poller process of the sample plant, measured by itself: what its status says it costs.

One real ``python -m services.poller`` against virtual-plc (in this process) with the sample plant's
PLC KRCWO12ELOA102 (470 tags in 4 groups); the test plays the buffer and reads the poller's status
(bench/poller_footprint.py runs the same, several times, and prints the figures).
"""

from __future__ import annotations

from bench.poller_footprint import MIB, PLC, polling
from tests.unit.services.poller.test_main import POLLER_RSS_LIMIT


def test_a_running_poller_reports_what_it_costs() -> None:
    running = polling(PLC, cycles=3)
    process = running.status["process"]
    print(f"poller {PLC}: {process['rss_bytes'] / MIB:.1f} MiB resident, polling "
          f"{process['polling_after_s']:.2f} s after its start")
    assert process["rss_bytes"] < POLLER_RSS_LIMIT, running.log
    assert process["polling_after_s"] > 0 and process["cpu_s"] > 0
    assert not [g for g in running.status["groups"] if g["errors"]], running.log
    # read from outside: it reads its plant through a child (services/poller/plant_reader.py) and speaks no TLS
    assert not {lib for lib in running.libraries if lib.startswith(("libsqlite3", "_sqlite3", "libssl", "_ssl"))}
    assert any(lib.startswith("libzmq") or lib.startswith("_zmq") for lib in running.libraries), running.libraries
