"""What every stage process does the same way: logging, a clean stop on SIGTERM/SIGINT, and
supervised tasks.

Every task that runs for the life of a process is started through
:func:`supervise`: a task that raises is logged with its traceback and
started again after a backoff (0.5 s doubling to 30 s, back to 0.5 s once it
ran a minute), or, when it cannot be restarted in place, the process is
stopped so that supervisord starts it again. Nothing dies silently while the
status says RUNNING.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from types import FrameType

log = logging.getLogger("runtime")

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
HEALTHY_AFTER_S = 60.0  # a task that ran this long before dying starts again at the first backoff


def setup_logging(stage: str, level: int = logging.INFO) -> logging.Logger:
    """Log lines to stderr (supervisord writes them under SCADA_LOG_DIR)."""
    logging.basicConfig(
        level=level, stream=sys.stderr,
        format=f"%(asctime)s %(levelname)s {stage}[%(process)d] %(name)s: %(message)s",
    )
    return logging.getLogger(stage)


def settle_memory() -> None:
    """Call once a process has loaded everything it keeps for its life.

    Moves every object alive now out of the garbage collector's sight
    (``gc.freeze``): a full collection then walks only what was made since,
    instead of every module, class and config row -- measured in a poller,
    full collections that freed nothing took 40-75 ms and made 100 ms groups
    overrun; frozen, they take a few ms.
    """
    gc.collect()
    gc.freeze()


def stop_event() -> threading.Event:
    """An event set by SIGTERM or SIGINT; loops check it and finish cleanly."""
    event = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("runtime").info("%s received, stopping", signal.Signals(signum).name)
        event.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return event


def supervise(run: Callable[[], Awaitable[None]], name: str, *, restart: bool = True,
              stop: Callable[[], None] | None = None, deaths: dict[str, int] | None = None,
              backoff_first: float = BACKOFF_FIRST_S) -> asyncio.Task[None]:
    """Start ``run()`` as a task for the life of the process; see the module's docstring.

    ``restart=False``: a death calls ``stop`` (which ends the process, e.g. sets its stop event
    with a non-zero exit) instead. ``deaths`` (name -> count) is kept up to date for a status.
    Cancelling the returned task stops it for good.
    """

    async def guard() -> None:
        loop = asyncio.get_running_loop()
        delay = backoff_first
        while True:
            started = loop.time()
            try:
                await run()
                raise RuntimeError("returned; it must run for the life of the process")
            except asyncio.CancelledError:
                raise
            except Exception:
                if deaths is not None:
                    deaths[name] = deaths.get(name, 0) + 1
                if not restart:
                    log.exception("task %s died; stopping the process (supervisord starts it again)", name)
                    if stop is not None:
                        stop()
                    return
                if loop.time() - started >= HEALTHY_AFTER_S:
                    delay = backoff_first
                log.exception("task %s died; starting it again in %.1f s", name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)

    return asyncio.create_task(guard(), name=name)


async def cancel_and_wait(tasks: list[asyncio.Task[None]], again_after: float = 0.5) -> None:
    """Cancel ``tasks`` and wait until each has ended.

    A task that goes on after its cancel (a cancel swallowed on the way: Python 3.11's wait_for does
    that when what it waits for ends at the same instant) is cancelled again every ``again_after``
    seconds, with a warning, so a stop never hangs on it."""
    pending = {task for task in tasks if not task.done()}
    for task in pending:
        task.cancel()
    while pending:
        _, pending = await asyncio.wait(pending, timeout=again_after)
        for task in pending:
            log.warning("task %s goes on after its cancel; cancelled again", task.get_name())
            task.cancel()
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s ended with an error while stopping", task.get_name(), exc_info=task.exception())


def survive(name: str, step: Callable[..., None], *args: object) -> bool:
    """Run one turn of a periodic job of a threaded loop (e.g. the buffer's once-a-second work): an
    exception is logged with its traceback and the loop goes on (its next turn tries again)."""
    try:
        step(*args)
    except Exception:
        log.exception("%s failed; tried again at its next turn", name)
        return False
    return True
