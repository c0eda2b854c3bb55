"""python -m services.writer"""

from common import curve, stage_lock
from common.runtime import settle_memory, setup_logging, stop_event
from common.settings import Settings
from services.writer.writer_service import WriterService


def main() -> None:
    setup_logging("writer")
    settings = Settings.load()
    settings.make_dirs()
    stage_lock.hold(settings.scada_run_dir, "writer")
    service = WriterService(settings, security=curve.for_stage_or_exit(settings, "writer"))
    settle_memory()
    service.run(stop_event())


if __name__ == "__main__":
    main()
