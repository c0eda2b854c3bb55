"""What every stage process does the same way: logging and a clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType


def setup_logging(stage: str, level: int = logging.INFO) -> logging.Logger:
    """Log lines to stderr (supervisord writes them under SCADA_LOG_DIR)."""
    logging.basicConfig(
        level=level, stream=sys.stderr,
        format=f"%(asctime)s %(levelname)s {stage}[%(process)d] %(name)s: %(message)s",
    )
    return logging.getLogger(stage)


def stop_event() -> threading.Event:
    """An event set by SIGTERM or SIGINT; loops check it and finish cleanly."""
    event = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("runtime").info("%s received, stopping", signal.Signals(signum).name)
        event.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return event
