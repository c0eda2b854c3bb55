"""The gateway follows the config store: what it shows, and which pollers must reload.

Strategy: once a second a worker thread asks SQLite whether anyone committed
to the store since the last look (``PRAGMA data_version`` on one kept
connection: a few microseconds, no table read); only then is the plant read
again -- PLCs, groups, tags and each active PLC's digest (the same function
the pollers use, common/config_store/digest.py). Requests never touch
SQLite: the config API answers from this copy. From each copy:

- what the gateway shows: the latest values keep only the groups and tags a
  PLC has now (a removed or deactivated PLC or group disappears, and so does
  a tag taken out of a group); the status and metrics of a poller whose PLC
  was removed or deactivated are forgotten once it stops reporting (its last
  status says it stopped, or it is silent for STALE_S);
- reloads: an active PLC whose poller reports another digest than the store
  gives is sent ``reload`` over the control socket -- once per change of the
  store, so two hosts with different stores cannot make it loop.

Only what the store has known is hidden: values and status of a PLC the
store never held (a test's, or a host's whose store differs) are shown as
they arrive, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from common.config_store import model
from common.config_store.digest import config_digest
from common.config_store.watch import StoreWatch
from common.wire.control import ReloadPlant
from services.gateway.latest_values import LatestValues, Shown
from services.gateway.poller_link import PollerLink, PollerTimeout, PollerUnavailable
from services.gateway.telemetry import TelemetryStore

log = logging.getLogger("gateway.config")

WATCH_S = 1.0
RELOAD_TIMEOUT_S = 30.0  # a reload waits for each changed group's cycle under way to end
POLLER_TOPIC = "status.poller."


@dataclass(frozen=True)
class PlantConfig:
    """One consistent read of the store."""

    plcs: dict[str, model.Plc]
    groups: dict[tuple[str, str], model.PollingGroup]
    tags: list[model.Tag]
    digests: dict[str, str]  # active PLCs only
    addresses: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)

    @property
    def active_plcs(self) -> set[str]:
        return set(self.digests)


def read_config(conn: sqlite3.Connection) -> PlantConfig:
    conn.execute("BEGIN")
    try:
        plcs = {p.plc_code: p for p in model.load_plcs(conn)}
        groups = {(g.plc_code, g.group_name): g for g in model.load_groups(conn)}
        tags = model.load_tags(conn)
    finally:
        conn.execute("COMMIT")
    by_plc: dict[str, list[model.Tag]] = {}
    by_group: dict[tuple[str, str], set[str]] = {key: set() for key in groups}
    for tag in tags:
        by_plc.setdefault(tag.plc_code, []).append(tag)
        by_group.setdefault((tag.plc_code, tag.group_name), set()).add(tag.address)
    digests = {code: config_digest(plc, [g for (p, _), g in groups.items() if p == code], by_plc.get(code, []))
               for code, plc in plcs.items() if plc.is_active}
    return PlantConfig(plcs, groups, tags, digests, {k: frozenset(v) for k, v in by_group.items()})


class ConfigWatch:
    def __init__(self, path: Path, telemetry: TelemetryStore, latest: LatestValues, control: PollerLink) -> None:
        self.path = path
        self.telemetry = telemetry
        self.latest = latest
        self.control = control
        self.config: PlantConfig | None = None
        self.reads = 0
        self.reloads_sent = 0
        self.last_error: str | None = None
        self.store = StoreWatch(path)
        self._known_plcs: set[str] = set()  # every PLC the store has held while this gateway ran
        self._known_groups: set[tuple[str, str]] = set()
        self._asked: dict[str, str] = {}  # PLC -> the store digest it was last told to reload to
        self._reloading: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None

    # -- reading -------------------------------------------------------------
    def _look(self) -> PlantConfig | None:
        """The plant, read again if the store changed since the last look (blocking)."""
        if not self.store.changed() and self.config is not None:
            return None
        try:
            return read_config(self.store.conn)
        except BaseException:
            self.store.forget()
            raise

    async def look(self) -> None:
        """One turn: read the store if it changed, then apply it to what is shown and to the pollers."""
        try:
            config = await asyncio.to_thread(self._look)
        except (sqlite3.Error, OSError) as error:
            if str(error) != self.last_error:
                log.warning("config store not read (%s); showing the last copy", error)
            self.last_error = str(error)
            config = None
        if config is not None:
            self._take(config)
        if self.config is not None:
            self._forget_stopped_pollers(self.config)
            self._reconcile(self.config)

    def _take(self, config: PlantConfig) -> None:
        self.config = config
        self.reads += 1
        self.last_error = None
        self._known_plcs |= set(config.plcs)
        self._known_groups |= set(config.groups)
        self.latest.shown = self.shown
        self.latest.forget(lambda plc, group: not self.shown(plc, group)[0])

    def shown(self, plc: str, group: str) -> Shown:
        """Whether to show (plc, group)'s values, and which addresses (None: every one)."""
        config = self.config
        if config is None or plc not in self._known_plcs:
            return True, None
        if plc not in config.active_plcs:
            return False, None
        g = config.groups.get((plc, group))
        if g is None:
            return (plc, group) not in self._known_groups, None
        return g.is_active, config.addresses.get((plc, group), frozenset())

    def _forget_stopped_pollers(self, config: PlantConfig) -> None:
        for status in self.telemetry.prefixed(POLLER_TOPIC):
            plc = status.topic[len(POLLER_TOPIC):]
            if plc in self._known_plcs and plc not in config.active_plcs and (
                    not status.fresh or status.body.get("stopped")):
                self.telemetry.forget(status.topic)
                log.info("forgot the poller of %s: its PLC is %s", plc,
                         "inactive" if plc in config.plcs else "removed from the config store")

    # -- reloads -------------------------------------------------------------
    def _reconcile(self, config: PlantConfig) -> None:
        for code, digest in config.digests.items():
            status = self.telemetry.stage(POLLER_TOPIC + code)
            if status is None or not status.fresh or status.body.get("stopped"):
                continue
            running = status.body.get("config_digest")
            if running is None or running == digest or self._asked.get(code) == digest:
                continue
            self._asked[code] = digest
            task = asyncio.create_task(self._reload(code, digest))
            self._reloading.add(task)
            task.add_done_callback(self._reloading.discard)

    async def _reload(self, code: str, digest: str) -> None:
        self.reloads_sent += 1
        try:
            reply = await self.control.command(code, ReloadPlant(), timeout=RELOAD_TIMEOUT_S)
        except (PollerUnavailable, PollerTimeout) as error:
            log.warning("reload of %s not done (%s); trying again", code, error)
            self._asked.pop(code, None)
            return
        if reply.ok:
            result = reply.result or {}
            log.info("%s reloaded: changed %s, added %s, removed %s", code, result.get("changed"),
                     result.get("added"), result.get("removed"))
            if result.get("config_digest") != digest:
                log.warning("%s reloaded to digest %s, the gateway's store says %s: does its host read "
                            "another config store?", code, result.get("config_digest"), digest)
        else:
            log.warning("%s did not reload: %s", code, reply.error)

    # -- life ----------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="config watch")

    async def _run(self) -> None:
        while True:
            try:
                await self.look()
            except Exception:  # a bug here must not stop the gateway from following the store
                log.exception("config watch turn failed")
            await asyncio.sleep(WATCH_S)

    async def close(self) -> None:
        for task in [t for t in (self._task, *self._reloading) if t is not None]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.store.close()

