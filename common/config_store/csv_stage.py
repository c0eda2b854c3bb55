"""The import's staging area: parsed rows wait in TEMP tables, checked there with SQL, then applied.

Strategy: an import of a million tags must not hold a million rows in
Python (measured: 850 MB for a 36 MB file held as dicts). Each parsed row
goes straight into ``temp.stage_<table>`` (with its file and line); the
checks that need every row -- duplicate keys, unique column sets and
references against the store overlaid with the import -- are queries over
the staged rows and the store, and applying is ``INSERT ... SELECT``. TEMP
tables live in SQLite's temporary file, so memory stays at SQLite's page
cache whatever the size of the import. The checks keep the rules of the
in-memory version: a later duplicate key is refused naming the first; a
unique column set belongs to the store's row first, then to the import's
rows in file order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from common.config_store.csv_rules import TABLES, Table

BATCH = 5000
NEW_RANK = 1 << 62  # rows new to the store rank after every stored row, in file order

Issue = tuple[str, int, str, str]  # path, line, column, message


def _q(name: str) -> str:
    return f'"{name}"'


def _same(left: str, right: str, columns: tuple[str, ...] | list[str]) -> str:
    return " AND ".join(f"{left}.{_q(c)} IS {right}.{_q(c)}" for c in columns)


class Stage:
    """TEMP tables stage_<table> on ``conn``: created at start, dropped by ``close``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._pending: dict[str, list[list[Any]]] = {t.name: [] for t in TABLES}
        for table in TABLES:
            columns = ", ".join(_q(c) for c in table.header)
            conn.execute(f"DROP TABLE IF EXISTS temp.stage_{table.name}")
            conn.execute(f"CREATE TEMP TABLE stage_{table.name} (_seq INTEGER PRIMARY KEY, _path TEXT, _line INTEGER, "
                         f"{columns})")

    def add(self, table: Table, path: str, line: int, values: dict[str, Any]) -> None:
        pending = self._pending[table.name]
        pending.append([path, line, *(values[c] for c in table.header)])
        if len(pending) >= BATCH:
            self._flush(table)

    def _flush(self, table: Table) -> None:
        pending = self._pending[table.name]
        if pending:
            marks = ", ".join("?" for _ in range(len(table.header) + 2))
            columns = ", ".join(["_path", "_line", *(_q(c) for c in table.header)])
            self.conn.executemany(f"INSERT INTO stage_{table.name} ({columns}) VALUES ({marks})", pending)
            pending.clear()

    def check(self) -> Iterator[Issue]:
        """Every problem that needs all rows; later duplicates are removed from the stage as they are found."""
        for table in TABLES:
            self._flush(table)
            key = ", ".join(_q(c) for c in table.key)
            self.conn.execute(f"CREATE INDEX temp.stage_{table.name}_key ON stage_{table.name} ({key}, _seq)")
        for table in TABLES:
            yield from self._duplicates(table)
        for table in TABLES:
            yield from self._unique(table)
            yield from self._references(table)

    def _duplicates(self, table: Table) -> Iterator[Issue]:
        s = f"stage_{table.name}"
        rows = self.conn.execute(
            f"SELECT later._seq, later._path, later._line, first._path, first._line, "
            f"{', '.join('later.' + _q(c) for c in table.key)} FROM {s} later JOIN {s} first "
            f"ON {_same('later', 'first', table.key)} AND first._seq = "
            f"(SELECT min(_seq) FROM {s} f WHERE {_same('f', 'later', table.key)}) "
            f"WHERE later._seq != first._seq").fetchall()
        for _, path, line, first_path, first_line, *key in rows:
            yield (path, line, table.key[-1],
                   f"duplicate key {'/'.join(map(str, key))}, first at {first_path}:{first_line}")
        self.conn.executemany(f"DELETE FROM {s} WHERE _seq = ?", [(r[0],) for r in rows])

    def _final(self, table: Table, columns: tuple[str, ...]) -> str:
        """A TEMP table of the store overlaid with the import: key, ``columns`` and the owning order."""
        name = f"final_{table.name}_{'_'.join(columns)}"
        keep = list(dict.fromkeys([*table.key, *columns]))
        picked = ", ".join(_q(c) for c in keep)
        s = f"stage_{table.name}"
        self.conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
        # store rows first (in their order), then rows new to the store in file order
        self.conn.execute(
            f"CREATE TEMP TABLE {name} AS "
            f"SELECT {picked}, rowid AS _rank FROM main.{table.name} t WHERE NOT EXISTS "
            f"(SELECT 1 FROM {s} WHERE {_same(s, 't', table.key)}) "
            f"UNION ALL SELECT {', '.join('s.' + _q(c) for c in keep)}, "
            f"coalesce((SELECT t.rowid FROM main.{table.name} t WHERE {_same('t', 's', table.key)}), "
            f"{NEW_RANK} + s._seq) FROM {s} s")
        self.conn.execute(f"CREATE INDEX temp.{name}_cols ON {name} ({', '.join(_q(c) for c in columns)}, _rank)")
        return name

    def _unique(self, table: Table) -> Iterator[Issue]:
        s = f"stage_{table.name}"
        for columns, reason in table.unique:
            final = self._final(table, columns)
            key = ", ".join(f"o.{_q(c)}" for c in table.key)
            rows = self.conn.execute(
                f"SELECT s._path, s._line, {key} FROM {s} s JOIN {final} o ON o.rowid = "
                f"(SELECT x.rowid FROM {final} x WHERE {_same('x', 's', columns)} ORDER BY x._rank LIMIT 1) "
                f"WHERE o._rank != coalesce((SELECT t.rowid FROM main.{table.name} t "
                f"WHERE {_same('t', 's', table.key)}), {NEW_RANK} + s._seq) ORDER BY s._seq").fetchall()
            for path, line, *owner in rows:
                yield path, line, columns[-1], f"{reason} ({'/'.join(map(str, owner))})"
            self.conn.execute(f"DROP TABLE temp.{final}")

    def _references(self, table: Table) -> Iterator[Issue]:
        s = f"stage_{table.name}"
        for columns, target in table.references:
            target_key = next(t for t in TABLES if t.name == target).key
            pairs = list(zip(target_key, columns, strict=True))
            match = " AND ".join(f"r.{_q(k)} IS s.{_q(c)}" for k, c in pairs)
            rows = self.conn.execute(
                f"SELECT s._path, s._line, {', '.join('s.' + _q(c) for c in columns)} FROM {s} s "
                f"WHERE NOT EXISTS (SELECT 1 FROM main.{target} r WHERE {match}) "
                f"AND NOT EXISTS (SELECT 1 FROM stage_{target} r WHERE {match}) ORDER BY s._seq")
            noun = target[:-1].replace("_", " ")
            for path, line, *ref in rows:
                yield path, line, columns[-1], f"unknown {noun} {'/'.join(map(str, ref))}"

    def counts(self, table: Table) -> tuple[int, int, int]:
        """(inserted, updated, unchanged) if the stage were applied."""
        s = f"stage_{table.name}"
        others = [c for c in table.header if c not in table.key]
        differs = " OR ".join(f"t.{_q(c)} IS NOT s.{_q(c)}" for c in others) or "0"
        row = self.conn.execute(
            f"SELECT count(*), coalesce(sum(t.rowid IS NULL), 0), "
            f"coalesce(sum(t.rowid IS NOT NULL AND ({differs})), 0) "
            f"FROM {s} s LEFT JOIN main.{table.name} t ON {_same('t', 's', table.key)}").fetchone()
        total, inserted, updated = int(row[0]), int(row[1]), int(row[2])
        return inserted, updated, total - inserted - updated

    def apply(self, table: Table) -> None:
        """Insert new rows and update changed ones (the caller holds the transaction)."""
        s = f"stage_{table.name}"
        columns = ", ".join(_q(c) for c in table.header)
        updates = ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in table.header if c not in table.key)
        differs = " OR ".join(f"{_q(c)} IS NOT excluded.{_q(c)}" for c in table.header if c not in table.key)
        conflict = f"DO UPDATE SET {updates} WHERE {differs}" if updates else "DO NOTHING"
        self.conn.execute(f"INSERT INTO main.{table.name} ({columns}) SELECT {columns} FROM {s} WHERE 1 "
                          f"ORDER BY _seq ON CONFLICT ({', '.join(table.key)}) {conflict}")

    def close(self) -> None:
        for table in TABLES:
            self.conn.execute(f"DROP TABLE IF EXISTS temp.stage_{table.name}")

