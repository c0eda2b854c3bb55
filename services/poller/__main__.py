"""python -m services.poller --plc CODE"""

from common.footprint import leave_out_tls

leave_out_tls()  # before asyncio is imported, below: a poller speaks no TLS (see common/footprint.py)

import asyncio  # noqa: E402
import sys  # noqa: E402

from common import curve, stage_lock  # noqa: E402
from common.runtime import setup_logging  # noqa: E402
from common.settings import Settings  # noqa: E402
from services.poller.poller_service import PollerService  # noqa: E402

USAGE = "usage: python -m services.poller --plc CODE   (CODE: the PLC's 14-character equipment code)"


def plc_argument(argv: list[str]) -> str:
    """CODE of ``--plc CODE`` or ``--plc=CODE``; anything else exits 2 with the usage.

    Not argparse: it and its help formatter bring gettext, locale, shutil, bz2 and lzma, ~1 MB in each
    of a plant's pollers, for one option.
    """
    if len(argv) == 2 and argv[0] == "--plc" and argv[1] and not argv[1].startswith("-"):
        return argv[1]
    if len(argv) == 1 and argv[0].startswith("--plc=") and len(argv[0]) > len("--plc="):
        return argv[0].removeprefix("--plc=")
    if argv in (["-h"], ["--help"]):
        print(USAGE)
        raise SystemExit(0)
    print(f"{USAGE}\npython -m services.poller: error: expected --plc CODE, got {' '.join(argv) or 'nothing'}",
          file=sys.stderr)
    raise SystemExit(2)


def main() -> None:
    plc = plc_argument(sys.argv[1:])
    setup_logging(f"poller.{plc}")
    settings = Settings.load()
    settings.make_dirs()
    stage_lock.hold(settings.scada_run_dir, f"poller_{plc}")
    security = curve.for_stage_or_exit(settings, "poller")
    asyncio.run(PollerService.from_store(settings, plc, security).run())


if __name__ == "__main__":
    main()
