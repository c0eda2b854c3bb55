"""A prototype for the scale benchmark, not the product: several PLCs' pollers in one process.

    python -m bench.poller_group --plc CODE [--plc CODE ...]

Each PLC gets the product's own ``PollerService`` (its pool, groups, send queue, outbox, epoch, status and
control link, exactly as ``python -m services.poller`` runs it), all on one asyncio loop and one ZeroMQ
context. ``bench.many_plcs --per-process K`` runs the plant with K PLCs per such process, to measure what
one process per PLC costs (memory, start, lateness) against the alternative the issue asks us to weigh.
"""

from common.footprint import leave_out_tls

leave_out_tls()  # as services/poller/__main__.py

import asyncio  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from common import curve, stage_lock  # noqa: E402
from common.runtime import setup_logging  # noqa: E402
from common.settings import Settings  # noqa: E402
from services.poller.poller_service import PollerService  # noqa: E402


async def run_all(settings: Settings, codes: list[str]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    security = curve.for_stage_or_exit(settings, "poller")
    services = [PollerService.from_store(settings, code, security) for code in codes]
    await asyncio.gather(*(service.run(stop) for service in services))


def main() -> None:
    args = sys.argv[1:]
    codes = [args[i + 1] for i in range(0, len(args) - 1, 2) if args[i] == "--plc"]
    if not codes or len(codes) * 2 != len(args):
        raise SystemExit("usage: python -m bench.poller_group --plc CODE [--plc CODE ...]")
    setup_logging(f"poller.{codes[0]}+{len(codes) - 1}")
    settings = Settings.load()
    settings.make_dirs()
    for code in codes:
        stage_lock.hold(settings.scada_run_dir, f"poller_{code}")
    asyncio.run(run_all(settings, codes))


if __name__ == "__main__":
    main()
