"""python -m services.buffer"""

from common import stage_lock
from common.runtime import settle_memory, setup_logging, stop_event
from common.settings import Settings
from services.buffer.service import BufferService


def main() -> None:
    setup_logging("buffer")
    settings = Settings.load()
    settings.make_dirs()
    stage_lock.hold(settings.scada_run_dir, "buffer")
    service = BufferService(settings)
    service.load_state()
    settle_memory()
    service.run(stop_event())


if __name__ == "__main__":
    main()
