"""``reload``: a poller takes its PLC's changed groups and tags from the store between cycles.

Strategy: the store is read again (by a child, plant_reader.py, waited for in a
thread: an import may hold the store for a moment) and compared group by group with what runs. An unchanged group is
left alone, its schedule untouched. A changed group gets a new runner, which
takes the old one's sequence, statistics and cycle lock under that lock, so
no cycle number is ever used twice; the old schedule parks at its next idle
moment (never inside a cycle or between a handshake's read and its ack), and
the new one starts at once on its own grid -- a changed interval applies
within one old interval. A removed group's schedule parks the same way and
its last sequence is kept, so a group of that name added again later goes on
from there. The send queue is not touched: cycles already queued are
neither lost nor sent again. A PLC whose connection settings changed cannot
be reloaded (its pool is built from them): the reply says restart_needed,
and ``scada db import`` restarts that poller.

Reply (common/wire/control.py)::

    {"op": "reload"} -> {"config_digest": "5d0c...", "kept": ["MID_5S"], "changed": ["FAST_1S"],
                         "added": [], "removed": ["SLOW_10S"]}
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from common.config_store import model
from common.config_store.digest import config_digest, connection_changed
from common.wire.control import CommandError, ErrorCode
from services.poller.group import GroupReader
from services.poller.plant_reader import StoreBusy, StoreReadFailed, read_plc_rows

if TYPE_CHECKING:
    from services.poller.poller_service import PollerService

log = logging.getLogger("poller.reload")

PARK_MARGIN_S = 2.0  # beyond a group's interval and the PLC's timeout, before its schedule is cancelled anyway

class PlantReload:
    def __init__(self, service: PollerService) -> None:
        self.service = service
        self.last_seq: dict[str, int] = {}  # groups removed by a reload: the sequence they reached
        self.reloads = 0
        self._lock = asyncio.Lock()  # one reload at a time

    async def reload(self) -> dict[str, Any]:
        async with self._lock:
            return await self._reload()

    async def _reload(self) -> dict[str, Any]:
        svc = self.service
        code = svc.plc.plc_code
        try:
            rows = await asyncio.to_thread(read_plc_rows, svc.settings.config_db, code)
        except (StoreBusy, StoreReadFailed) as error:
            raise CommandError(ErrorCode.STORE_BUSY, f"the config store could not be read: {error}") from None
        plc, groups, tags = rows.plc, rows.groups, rows.tags
        if plc is None or not plc.is_active:
            raise CommandError(ErrorCode.PLC_REMOVED, f"{code} is {'inactive' if plc else 'gone'} in the config store; "
                                              "its poller is stopped by scada db import")
        if connection_changed(svc.plc, plc):
            raise CommandError(ErrorCode.RESTART_NEEDED,
                               f"the connection settings of {code} changed; restart its poller")
        by_group: dict[str, list[model.Tag]] = {}
        for tag in tags:
            by_group.setdefault(tag.group_name, []).append(tag)
        wanted = {g.group_name: g for g in groups}
        kept, changed, added = [], [], []
        retiring: list[GroupReader] = []
        removed = [svc.groups.pop(n) for n in [n for n in svc.groups if n not in wanted]]
        retiring += removed
        for group in groups:
            name, group_tags = group.group_name, by_group.get(group.group_name, [])
            old_runner = svc.groups.get(name)
            if old_runner is not None and old_runner.group == group and old_runner.tags == group_tags:
                kept.append(name)
                continue
            runner = GroupReader(group, group_tags, plc.multi_block_read)
            runner.epoch = svc.epoch
            if old_runner is None:
                runner.seq = self.last_seq.pop(name, 0)
                added.append(name)
            else:
                async with old_runner.lock:  # no cycle of the old runner is under way
                    runner.seq, runner.stats, runner.lock = old_runner.seq, old_runner.stats, old_runner.lock
                    if old_runner.group.is_active == group.is_active:
                        runner.state = old_runner.state  # an operator's start or stop stands
                    old_runner.successor = runner
                retiring.append(old_runner)
                changed.append(name)
            svc.groups[name] = runner
        await asyncio.gather(*(self._park(old) for old in retiring))
        for old in removed:
            async with old.lock:
                self.last_seq[old.name] = old.seq
        for name in [*changed, *added]:
            svc.start_group(svc.groups[name])
        svc.plc = plc
        svc.config_digest = config_digest(plc, groups, tags)
        if svc.control is not None:
            svc.control.groups = list(svc.groups)
        self.reloads += 1
        gone = sorted(r.name for r in removed)
        log.info("%s reloaded: %d group(s) kept, changed %s, added %s, removed %s", code, len(kept),
                 changed or "none", added or "none", gone or "none")
        return {"config_digest": svc.config_digest, "kept": kept, "changed": changed, "added": added,
                "removed": gone}

    async def _park(self, old: GroupReader) -> None:
        """Let the old schedule finish its cycle and park, then end it."""
        task = self.service.group_tasks.get(old.name)
        old.retire.set()
        wait = old.group.interval_ms / 1000 + self.service.timeout + PARK_MARGIN_S
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await old.parked.wait()
        if task is not None and self.service.group_tasks.get(old.name) is task:
            del self.service.group_tasks[old.name]
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
