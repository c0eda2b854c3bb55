"""The historian as the writer sees it: which one the settings name, and the rows of a batch.

Strategy: the writer never imports a sink's driver itself; :func:`open_sink`
imports python-oracledb only when Oracle is configured. :func:`rows_of` turns
the blocks of a leased batch into the historian's rows, one a value, and sets
apart with the reason those whose cycle time no calendar holds (they go to
``rejected/``, never to the database).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from common.historian.rows import Row
from common.historian.sink import Sink
from common.settings import Settings
from common.times import iso_ms
from common.wire.block import Block

if TYPE_CHECKING:
    from common.historian.summarizer import Summarizer


def open_sink(settings: Settings) -> Sink:
    """The historian the settings name; python-oracledb (~15 MB with its cryptography) is imported only for
    Oracle, so a writer into SQLite does not carry it."""
    if settings.oracle_configured:
        from common.historian.oracle_sink import make_sink

        return make_sink(settings)
    from common.historian.sqlite_sink import SqliteSink

    return SqliteSink(settings.historian_db, keep_days=settings.historian_keep_days)


def start_summaries(sink: Sink, paused: Callable[[], bool]) -> Summarizer | None:
    """For the SQLite historian, the thread that makes its per-minute summaries beside the batches
    (common/historian/summarizer.py); the sink's upkeep then leaves them out. None for Oracle."""
    from common.historian.sqlite_sink import SqliteSink
    from common.historian.summarizer import Summarizer

    if not isinstance(sink, SqliteSink):
        return None
    sink.rollups = False
    return Summarizer(sink.path, paused=paused, clock=sink.clock, timeout=sink.timeout).start()


def rows_of(blocks: list[Block]) -> tuple[list[Row], list[tuple[Row, str]]]:
    """The rows of a batch, and the rows refused with the reason (a cycle time no calendar holds: its raw ms
    stand for the time)."""
    rows: list[Row] = []
    refused: list[tuple[Row, str]] = []
    for b in blocks:
        try:
            ts = iso_ms(b.ts_ms)
        except (ValueError, OverflowError, OSError) as error:  # a time no calendar holds
            refused.extend((Row(str(b.ts_ms), b.plc_code, a, v, q, b.group, b.identity), f"ts: {error}")
                           for a, v, q in b.values())
            continue
        rows.extend(Row(ts, b.plc_code, a, v, q, b.group, b.identity) for a, v, q in b.values())
    return rows, refused
