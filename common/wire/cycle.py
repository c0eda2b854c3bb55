"""Cycle numbers: the identity of one group cycle of one PLC, which no clock step or restart repeats.

A cycle number is ``epoch << CYCLE_SEQ_BITS | seq``: ``seq`` counts a
group's cycles from 1 at poller start, ``epoch`` counts the poller's starts
and is persisted in the data folder (services/poller/epoch.py). Everything
downstream (the poller's outbox, the buffer's confirmations and journal, the
ledger, the historian's unique key, ``scada account``) names a cycle by
(plc, group, cycle), never by its read time.

A frame, block or row of the release before cycle numbers has the cycle
``-ts`` (:func:`legacy_cycle`): that release named a cycle by (plc, group,
ts), so ``-ts`` is as unique as its old identity was and can never equal a
new cycle (those are positive).
"""

from __future__ import annotations

#: a cycle number is ``epoch << CYCLE_SEQ_BITS | seq``; both parts positive, the whole below 2**63
CYCLE_SEQ_BITS = 32


def make_cycle(epoch: int, seq: int) -> int:
    """A cycle number: the poller's epoch (its start count) above the group's sequence in this run."""
    if not (0 < epoch < 1 << (63 - CYCLE_SEQ_BITS) and 0 < seq < 1 << CYCLE_SEQ_BITS):
        raise ValueError(f"epoch {epoch} or sequence {seq} out of the cycle number's range")
    return epoch << CYCLE_SEQ_BITS | seq


def legacy_cycle(ts_ms: int) -> int:
    """The cycle number of a frame, block or row of the previous release, named by its read time."""
    return -ts_ms
