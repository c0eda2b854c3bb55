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
rows in file order. With ``--prune`` the stored rows of a given table that
no file holds go in ``temp.gone_<table>``; the checks then treat them as
absent (a row referring to one is refused, and so is a stored row left
behind by a removed parent whose table no file gave), and applying deletes
them, children first, after the upserts.
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
        self._given: dict[str, str] = {}  # table -> its first file, for tables pruned

    def prune(self, given: dict[str, str]) -> None:
        """Mark the stored rows of each table in ``given`` (table -> a file of it) that no file holds as gone.

        Call after every row is added; tables not in ``given`` lose nothing.
        """
        self._given = dict(given)
        self._index()
        for table in TABLES:
            key = ", ".join(_q(c) for c in table.key)
            s = f"stage_{table.name}"
            keep = "" if table.name in given else "0 AND "
            self.conn.execute(f"DROP TABLE IF EXISTS temp.gone_{table.name}")
            self.conn.execute(f"CREATE TEMP TABLE gone_{table.name} AS SELECT {key} FROM main.{table.name} t "
                              f"WHERE {keep}NOT EXISTS (SELECT 1 FROM {s} WHERE {_same(s, 't', table.key)})")
            self.conn.execute(f"CREATE INDEX temp.gone_{table.name}_key ON gone_{table.name} ({key})")

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
        self._index()
        for table in TABLES:
            yield from self._duplicates(table)
        for table in TABLES:
            yield from self._unique(table)
            yield from self._references(table)

    def _index(self) -> None:
        """Every pending row flushed, and the staged keys indexed (once)."""
        for table in TABLES:
            self._flush(table)
            key = ", ".join(_q(c) for c in table.key)
            self.conn.execute(f"CREATE INDEX IF NOT EXISTS temp.stage_{table.name}_key "
                              f"ON stage_{table.name} ({key}, _seq)")

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
            f"(SELECT 1 FROM {s} WHERE {_same(s, 't', table.key)}) AND NOT {self._is_gone(table, 't')} "
            f"UNION ALL SELECT {', '.join('s.' + _q(c) for c in keep)}, "
            f"coalesce((SELECT t.rowid FROM main.{table.name} t WHERE {_same('t', 's', table.key)}), "
            f"{NEW_RANK} + s._seq) FROM {s} s")
        self.conn.execute(f"CREATE INDEX temp.{name}_cols ON {name} ({', '.join(_q(c) for c in columns)}, _rank)")
        return name

    def _is_gone(self, table: Table, alias: str) -> str:
        """SQL: the stored row ``alias`` of ``table`` is removed by --prune."""
        if table.name not in self._given:
            return "0"
        return f"EXISTS (SELECT 1 FROM gone_{table.name} g WHERE {_same('g', alias, table.key)})"

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
        for columns, target_name in table.references:
            target = next(t for t in TABLES if t.name == target_name)
            pairs = list(zip(target.key, columns, strict=True))
            match = " AND ".join(f"r.{_q(k)} IS s.{_q(c)}" for k, c in pairs)
            rows = self.conn.execute(
                f"SELECT s._path, s._line, EXISTS (SELECT 1 FROM main.{target.name} r WHERE {match}), "
                f"{', '.join('s.' + _q(c) for c in columns)} FROM {s} s "
                f"WHERE NOT EXISTS (SELECT 1 FROM main.{target.name} r WHERE {match} "
                f"AND NOT {self._is_gone(target, 'r')}) "
                f"AND NOT EXISTS (SELECT 1 FROM stage_{target.name} r WHERE {match}) ORDER BY s._seq")
            noun = target.name[:-1].replace("_", " ")
            for path, line, stored, *ref in rows:
                removed = f", which --prune removes (no {target.name} file holds it)" if stored else ""
                yield path, line, columns[-1], f"unknown {noun} {'/'.join(map(str, ref))}{removed}"
            yield from self._orphans(table, columns, target)

    def _orphans(self, table: Table, columns: tuple[str, ...], target: Table) -> Iterator[Issue]:
        """Stored rows of ``table`` that no file changes, left referring to a row --prune removes."""
        if target.name not in self._given:
            return
        s = f"stage_{table.name}"
        picked = ", ".join(f"c.{_q(c)}" for c in columns)
        match = " AND ".join(f"g.{_q(k)} IS c.{_q(c)}" for k, c in zip(target.key, columns, strict=True))
        rows = self.conn.execute(
            f"SELECT {picked}, count(*) FROM main.{table.name} c "
            f"WHERE EXISTS (SELECT 1 FROM gone_{target.name} g WHERE {match}) AND NOT {self._is_gone(table, 'c')} "
            f"AND NOT EXISTS (SELECT 1 FROM {s} WHERE {_same(s, 'c', table.key)}) "
            f"GROUP BY {picked} ORDER BY {picked}").fetchall()
        noun = target.name[:-1].replace("_", " ")
        for *ref, count in rows:
            yield (self._given[target.name], 0, target.key[-1],
                   f"--prune would remove {noun} {'/'.join(map(str, ref))}, but {count} stored {table.name} row(s) "
                   f"refer to it: give {table.name}.csv too (without them), or keep the {noun}")

    def removed(self, table: Table) -> int:
        """Stored rows --prune removes."""
        if table.name not in self._given:
            return 0
        return int(self.conn.execute(f"SELECT count(*) FROM gone_{table.name}").fetchone()[0])

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

    def remove(self, table: Table) -> None:
        """Delete the rows --prune removes (the caller goes from children to parents, after every apply)."""
        if table.name in self._given:
            key = ", ".join(_q(c) for c in table.key)
            self.conn.execute(f"DELETE FROM main.{table.name} WHERE ({key}) IN (SELECT {key} FROM gone_{table.name})")

    def close(self) -> None:
        for table in TABLES:
            self.conn.execute(f"DROP TABLE IF EXISTS temp.stage_{table.name}")
            self.conn.execute(f"DROP TABLE IF EXISTS temp.gone_{table.name}")

