"""python -m services.buffer"""

from common.footprint import leave_out_tls

leave_out_tls()  # before asyncio is imported, below: the buffer speaks no TLS (see common/footprint.py)

import sys  # noqa: E402

from common import curve, stage_lock  # noqa: E402
from common.runtime import settle_memory, setup_logging, stop_event  # noqa: E402
from common.settings import Settings  # noqa: E402
from services.buffer.buffer_service import BufferService  # noqa: E402


def main() -> None:
    log = setup_logging("buffer")
    settings = Settings.load()
    settings.make_dirs()
    stage_lock.hold(settings.scada_run_dir, "buffer")
    service = BufferService(settings, security=curve.for_stage_or_exit(settings, "buffer"))
    try:
        service.load_state()
        settle_memory()
        service.run(stop_event())
    except Exception:
        # The loop is the buffer's one long-lived task: it cannot be restarted in place (its sockets and
        # ring are in an unknown state), so the process stops and supervisord starts it again.
        log.exception("the buffer's loop died; exiting for supervisord to start it again")
        sys.exit(1)


if __name__ == "__main__":
    main()
