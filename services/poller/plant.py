"""The poller's plant: its PLC, that PLC's polling groups and their tags, read from the config store.

The poller is built from a Plant (poller_service.py) rather than opening the store
itself, so a test or a benchmark can hand it one, and the store is read in
one place. While the store is busy (locked by an import) the read waits and
tries again with backoff: a poller that died on a locked store would be
restarted by supervisord a few times and then given up (FATAL); waiting
here, it comes up as soon as the store answers.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass, field

from common.config_store import model, open_store
from common.mc.client import Backoff
from common.settings import Settings

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
            conn = open_store(settings.config_db)
            try:
                plc = model.load_plc(conn, plc_code)
                if plc is None:
                    raise SystemExit(f"PLC {plc_code} is not in the config store {settings.config_db}")
                groups, tags = model.load_groups(conn, plc_code), model.load_tags(conn, plc_code)
                codes = [p.plc_code for p in model.load_plcs(conn, active_only=True)]
            finally:
                conn.close()
        except sqlite3.OperationalError as error:
            delay = backoff.next_delay()
            log.warning("config store %s not readable (%s); trying again in %.1f s", settings.config_db, error,
                        delay)
            time.sleep(delay)
            continue
        by_group: dict[str, list[model.Tag]] = {}
        for tag in tags:
            by_group.setdefault(tag.group_name, []).append(tag)
        return Plant(plc, groups, by_group, codes)
