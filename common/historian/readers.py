"""The history reader of the configured historian: Oracle when configured, otherwise the SQLite file."""

from __future__ import annotations

from typing import Any

from common.settings import Settings


def make_reader(settings: Settings) -> Any:
    """A reader with most/raw/buckets/close (common/historian/history.py); it connects on first use."""
    if settings.oracle_configured:
        from common.historian.oracle_history import OracleHistory
        from common.historian.oracle_sink import make_pool

        return OracleHistory(lambda: make_pool(settings))
    from common.historian.sqlite_history import SqliteHistory

    return SqliteHistory(settings.historian_db)
