"""A small pusher for the CURVE tests: PollingData to the buffer's ingest, as a poller sends it.

Run in the edge host's place (its own network namespace) with the edge's
settings in the environment (SCADA_INGEST_ENDPOINT, SCADA_KEYS_DIR,
ZMQ_KEY_NAME); uses the project's own socket factory and security, so what
passes or is refused here is what a poller's PUSH would see::

    python -m tests.integration.curve_pusher PLC_CODE CYCLES
"""

from __future__ import annotations

import contextlib
import sys
import time

import zmq

from common import bus, curve
from common.settings import Settings
from common.times import now_ms
from common.wire.envelope import encode
from common.wire.ingest import PollingData, TagValue

VALUES_PER_CYCLE = 10


def main() -> int:
    plc, cycles = sys.argv[1], int(sys.argv[2])
    settings = Settings()
    security = curve.for_stage(settings, "poller")
    ctx = zmq.Context()
    sock = bus.make_socket(ctx, zmq.PUSH, connect=settings.ingest_endpoint, linger=3000, security=security,
                           name="ingest")
    t0 = now_ms() // 1000 * 1000 - 60_000
    for seq in range(1, cycles + 1):
        data = PollingData(plc, "FAST_1S", seq, t0 + seq * 100, 1.0,
                           [TagValue(f"D{i}", seq * 100 + i, "GOOD") for i in range(VALUES_PER_CYCLE)], cycle=seq)
        # Not connected (refused): nothing leaves, as for a poller whose queue holds it.
        with contextlib.suppress(zmq.Again):
            sock.send(encode(data), zmq.NOBLOCK)
        time.sleep(0.05)
    sock.close()  # linger: what is queued on an accepted connection goes out first
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
