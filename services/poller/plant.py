"""The poller's plant: its PLC, that PLC's polling groups and their tags, read from the config store.

The poller is built from a Plant (poller_service.py) rather than opening the store
itself, so a test or a benchmark can hand it one, and the store is read in
one place, by a child process (plant_reader.py: a poller never loads SQLite).
While the store is busy (locked by an import) the read waits and tries again
with backoff: a poller that died on a locked store would be restarted by
supervisord a few times and then given up (FATAL); waiting here, it comes up
as soon as the store answers.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from common.config_store import model
from common.mc.client import Backoff
from common.settings import Settings
from services.poller.plant_reader import StoreBusy, read_plc_rows

log = logging.getLogger("poller")

STORE_RETRY_BASE_S = 0.5
STORE_RETRY_CAP_S = 10.0


@dataclass(frozen=True)
class Plant:
    plc: model.Plc
    groups: list[model.PollingGroup]
    #: each group's tags, by group name (a group without tags has an empty list)
    tags: dict[str, list[model.Tag]] = field(default_factory=dict)
    #: the plant's active PLCs, whose order gives each poller its phase within the second (group_schedule.py)
    plant_codes: list[str] = field(default_factory=list)

    def tags_of(self, group: model.PollingGroup) -> list[model.Tag]:
        return self.tags.get(group.group_name, [])


def load_plant(settings: Settings, plc_code: str) -> Plant:
    """The PLC, its groups and tags; SystemExit if the store has no such PLC."""
    backoff = Backoff(base=STORE_RETRY_BASE_S, cap=STORE_RETRY_CAP_S)
    while True:
        try:
            rows = read_plc_rows(settings.config_db, plc_code)
        except StoreBusy as error:
            delay = backoff.next_delay()
            log.warning("config store %s not readable (%s); trying again in %.1f s", settings.config_db, error,
                        delay)
            time.sleep(delay)
            continue
        if rows.plc is None:
            raise SystemExit(f"PLC {plc_code} is not in the config store {settings.config_db}")
        by_group: dict[str, list[model.Tag]] = {}
        for tag in rows.tags:
            by_group.setdefault(tag.group_name, []).append(tag)
        return Plant(rows.plc, rows.groups, by_group, rows.active_codes)
