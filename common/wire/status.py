"""Status: what every stage publishes once a second to the gateway (PUB -> the gateway's SUB).

The topic is ``status.<stage>`` or ``status.poller.<plc_code>``, a prefix a
subscriber can filter on. The figures are the stage's own, flat beside the
envelope::

    {"v": 1, "t": "status", "stage": "buffer", "ts": 1763868000123, "pid": 4242,
     "current_size": 1200, "max_size": 100000, "utilization_pct": 1.2, ...}

A status is a snapshot: the next one replaces it, so nobody queues them. What
each stage's figures hold is typed in ``common/wire/figures.py``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, ClassVar

from common.times import now_ms
from common.wire.envelope import envelope, field_error

ENVELOPE_FIELDS = ("v", "t", "stage", "ts", "pid")


@dataclass(frozen=True, slots=True)
class Status:
    KIND: ClassVar[str] = "status"

    stage: str
    ts_ms: int
    pid: int
    figures: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def now(cls, stage: str, figures: dict[str, Any]) -> Status:
        """This process's status, stamped now."""
        return cls(stage, now_ms(), os.getpid(), figures)

    def to_wire(self) -> dict[str, Any]:
        return envelope(self.KIND, stage=self.stage, ts=self.ts_ms, pid=self.pid, **self.figures)

    @classmethod
    def from_wire(cls, m: dict[str, Any]) -> Status:
        try:
            figures = {k: v for k, v in m.items() if k not in ENVELOPE_FIELDS}
            return cls(str(m["stage"]), int(m["ts"]), int(m["pid"]), figures)
        except (KeyError, TypeError, ValueError) as error:
            raise field_error(cls.KIND, error) from None

    def body(self) -> dict[str, Any]:
        """The figures with the stage, time and pid beside them, as the gateway's answers read them."""
        return {"stage": self.stage, "ts": self.ts_ms, "pid": self.pid, **self.figures}
