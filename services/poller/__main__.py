"""python -m services.poller --plc CODE"""

import argparse
import asyncio

from common import curve, stage_lock
from common.runtime import setup_logging
from common.settings import Settings
from services.poller.service import PollerService


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.poller")
    parser.add_argument("--plc", required=True, help="the PLC's 14-character equipment code")
    args = parser.parse_args()
    setup_logging(f"poller.{args.plc}")
    settings = Settings.load()
    settings.make_dirs()
    stage_lock.hold(settings.scada_run_dir, f"poller_{args.plc}")
    security = curve.for_stage_or_exit(settings, "poller")
    asyncio.run(PollerService.from_store(settings, args.plc, security).run())


if __name__ == "__main__":
    main()
