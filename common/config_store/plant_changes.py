"""What an import changes for the running plant: which pollers start, stop, restart or reload.

Strategy: read from the import's stage (csv_stage.py: ``temp.stage_<table>``
holds the rows of the files, ``temp.gone_<table>`` the stored rows --prune
removes) before it is applied, so ``--dry-run`` says the same as the import.
A PLC's poller runs while the PLC is active: one that becomes active starts,
one that stops being active (or is removed) stops. An active PLC whose
connection settings change restarts (its pool is built from them); one whose
groups or tags change reloads them between cycles, keeping its send queue.
Only the plcs rows are read whole (a plant has hundreds, not millions); of
groups and tags, only the distinct PLC codes of the changed rows.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from common.config_store.csv_rules import TABLES, Table
from common.config_store.digest import NOT_CONNECTION


@dataclass
class PollerChanges:
    start: list[str] = field(default_factory=list)
    stop: list[str] = field(default_factory=list)
    restart: list[str] = field(default_factory=list)
    reload: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.start or self.stop or self.restart or self.reload)

    def lines(self, verb_prefix: str = "") -> list[str]:
        out = []
        for what, codes in (("start", self.start), ("stop", self.stop), ("restart", self.restart),
                            ("reload", self.reload)):
            if codes:
                out.append(f"pollers {verb_prefix}{what}: {' '.join(codes)}")
        return out

    def as_dict(self) -> dict[str, list[str]]:
        return {"start": self.start, "stop": self.stop, "restart": self.restart, "reload": self.reload}


def _table(name: str) -> Table:
    return next(t for t in TABLES if t.name == name)


def _same(left: str, right: str, columns: tuple[str, ...]) -> str:
    return " AND ".join(f'{left}."{c}" IS {right}."{c}"' for c in columns)


def _changed_plcs(conn: sqlite3.Connection, table: Table) -> set[str]:
    """PLC codes with a row of ``table`` new, changed or removed."""
    s = f"stage_{table.name}"
    others = [c for c in table.header if c not in table.key]
    differs = " OR ".join(f't."{c}" IS NOT s."{c}"' for c in others) or "0"
    rows = conn.execute(
        f"SELECT DISTINCT s.plc_code FROM {s} s LEFT JOIN main.{table.name} t ON {_same('t', 's', table.key)} "
        f"WHERE t.rowid IS NULL OR {differs} UNION SELECT plc_code FROM gone_{table.name}").fetchall()
    return {r[0] for r in rows}


SHOWN_KEYS = 20  # rows named per table and kind in the report; the rest are counted


def _keys(conn: sqlite3.Connection, table: Table, kind: str) -> tuple[list[str], int]:
    """The first SHOWN_KEYS keys of ``kind``, and how many there are (memory does not grow with the import)."""
    s = f"stage_{table.name}"
    key = ", ".join(f's."{c}"' for c in table.key)
    others = [c for c in table.header if c not in table.key]
    differs = " OR ".join(f't."{c}" IS NOT s."{c}"' for c in others) or "0"
    sql = {
        "added": f"SELECT {key} FROM {s} s LEFT JOIN main.{table.name} t ON {_same('t', 's', table.key)} "
                 f"WHERE t.rowid IS NULL ORDER BY s._seq",
        "changed": f"SELECT {key} FROM {s} s JOIN main.{table.name} t ON {_same('t', 's', table.key)} "
                   f"WHERE {differs} ORDER BY s._seq",
        "removed": f"SELECT {key} FROM gone_{table.name} s",
    }[kind]
    total = int(conn.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0])
    return ["/".join(map(str, row)) for row in conn.execute(f"{sql} LIMIT {SHOWN_KEYS}")], total


def row_changes(conn: sqlite3.Connection) -> list[str]:
    """One line per table and kind (added, changed, removed) naming the rows, at most SHOWN_KEYS each."""
    out = []
    for table in TABLES:
        for kind in ("added", "changed", "removed"):
            keys, total = _keys(conn, table, kind)
            if keys:
                more = f" ... and {total - len(keys):,} more" if total > len(keys) else ""
                out.append(f"{table.name} {kind}: {' '.join(keys)}{more}")
    return out


def poller_changes(conn: sqlite3.Connection) -> PollerChanges:
    """The pollers the staged import changes (call after the stage's checks, before it is applied)."""
    plcs = _table("plcs")
    columns = ", ".join(f'"{c}"' for c in plcs.header)
    before: dict[str, dict[str, Any]] = {
        r[0]: dict(zip(plcs.header, r, strict=True)) for r in conn.execute(f"SELECT {columns} FROM main.plcs")}
    after = dict(before)
    for (code,) in conn.execute("SELECT plc_code FROM gone_plcs"):
        after.pop(code, None)
    for r in conn.execute(f"SELECT {columns} FROM stage_plcs ORDER BY _seq"):
        after[r[0]] = dict(zip(plcs.header, r, strict=True))
    was = {c for c, row in before.items() if row["is_active"]}
    now = {c for c, row in after.items() if row["is_active"]}
    changes = PollerChanges(start=sorted(now - was), stop=sorted(was - now))
    both = was & now
    restart = {c for c in both
               if any(before[c][k] != after[c][k] for k in plcs.header if k not in NOT_CONNECTION)}
    reload = {c for c in both - restart if before[c] != after[c]}
    reload |= (_changed_plcs(conn, _table("polling_groups")) | _changed_plcs(conn, _table("tags"))) & both - restart
    changes.restart, changes.reload = sorted(restart), sorted(reload)
    return changes
