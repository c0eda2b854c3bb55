"""The poller's epoch: how many times this PLC's poller has started, kept in the data folder.

Strategy: a cycle's identity must survive what a clock does (NTP steps it
back, an operator sets it) and what a restart does (the groups' sequences
start again at 1). A counter that no clock feeds does both: the epoch is read
from ``poller_<PLC>.epoch`` at start, incremented, and written back before
the first cycle -- temporary file, fsync, rename, fsync of the folder -- so a
poller killed at any instant finds either the old number or the new one,
never a torn one, and the next start takes a number no run had. Cycle
numbers are then ``epoch << 32 | seq`` (``common/wire/cycle.py``): one
small write per start rather than a write per cycle, and strictly increasing
within a group, whatever the wall clock says.

The epoch is also kept above every epoch the outbox journal still holds, so
a lost or restored-from-backup epoch file cannot hand out a number whose
cycles are still waiting to be sent. A file that does not hold a number
stops the poller: guessing could repeat identities, and a repeated identity
is a value the historian would silently take for a duplicate.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from common.wire.cycle import CYCLE_SEQ_BITS

log = logging.getLogger("poller.epoch")


class EpochError(RuntimeError):
    """The epoch file exists and does not hold an epoch."""


def read_epoch(path: Path) -> int:
    """The last epoch taken (0 when no poller of this PLC ever started here)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return 0
    except (OSError, UnicodeDecodeError) as error:
        raise EpochError(f"{path}: cannot read the poller's epoch: {error}") from None
    if not text.isdigit():
        raise EpochError(f"{path}: {text[:40]!r} is not an epoch; restore the number (or a larger one) "
                         "to start this poller")
    return int(text)


def write_epoch(path: Path, epoch: int) -> None:
    """Replace the file with ``epoch``, all or nothing, durably."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="ascii") as handle:
        handle.write(f"{epoch}\n")
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a power cut
    finally:
        os.close(folder)


def next_epoch(path: Path, cycles_waiting: Iterable[int] = ()) -> int:
    """Take this start's epoch: one above the last taken and above any epoch still waiting in the outbox."""
    last = read_epoch(path)
    waiting = max((c >> CYCLE_SEQ_BITS for c in cycles_waiting if c > 0), default=0)
    if waiting > last:
        log.warning("%s says epoch %d but the outbox holds cycles of epoch %d; going on from there",
                    path, last, waiting)
    epoch = max(last, waiting) + 1
    if epoch >= 1 << (63 - CYCLE_SEQ_BITS):
        raise EpochError(f"{path}: epoch {epoch} is past the cycle number's range")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_epoch(path, epoch)
    return epoch
