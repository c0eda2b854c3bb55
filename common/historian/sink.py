"""What every historian sink promises.

``write(rows)`` stores the rows in one transaction and returns what happened
to them: inserted, skipped as duplicates (the unique key says they are there
already), or rejected for what they are (with the reason). It raises
:class:`SinkUnavailable` when the database cannot be reached or used right
now -- the batch is then retried, and backed up after the last retry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from common.historian.rows import Row


class SinkUnavailable(Exception):
    """The database cannot take the batch now; nothing of it was committed."""


@dataclass(frozen=True)
class WriteResult:
    inserted: int
    duplicates: int
    rejected: list[tuple[Row, str]] = field(default_factory=list)


CycleKey = tuple[str, str, int]  # (plc_code, group_name, cycle): one PollingData


class Sink(Protocol):
    name: str

    def write(self, rows: list[Row]) -> WriteResult: ...

    def cycle_counts(self, since_ms: int, until_ms: int) -> dict[CycleKey, int]:
        """Rows stored per cycle read in [since_ms, until_ms), for ``scada account``."""
        ...

    def addresses(self, key: CycleKey, ts_ms: int) -> set[str]:
        """The tag addresses stored of one cycle (read at ``ts_ms``)."""
        ...

    def close(self) -> None: ...
