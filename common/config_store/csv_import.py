"""``scada db import``: CSV files into the config store, all or nothing.

Strategy: read every file, parse every cell, then check keys, uniqueness and
references against what the store will hold afterwards (the store overlaid
with the import) -- collecting every problem with its file, line and column
-- and only when there is none, apply the whole import in one transaction.
A row whose key exists updates that record; rows absent from the files are
left alone (import never deletes).
"""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.config_store.csv_rules import TABLES, TABLES_BY_NAME, FieldError, Table


@dataclass(frozen=True)
class ImportIssue:
    path: str
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class ImportFailed(Exception):
    def __init__(self, issues: list[ImportIssue]) -> None:
        self.issues = issues
        super().__init__(f"{len(issues)} problem(s); nothing was imported")


@dataclass
class TableCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    files: list[str] = field(default_factory=list)
    tables: dict[str, TableCounts] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [f"{name}: {c.inserted} new, {c.updated} changed, {c.unchanged} unchanged"
                 for name, c in self.tables.items()]
        return "; ".join(parts) if parts else "nothing to import"


@dataclass
class _Row:
    path: str
    line: int
    values: dict[str, Any]


def _table_for(path: Path) -> Table | None:
    stem = path.stem.lower()
    # "polling_groups" before "plcs"/"processes" would not matter, but the longest name wins anyway.
    for table in sorted(TABLES, key=lambda t: len(t.name), reverse=True):
        if stem == table.name or stem.startswith(table.name + "_") or stem.startswith(table.name + "-"):
            return table
    return None


def collect_files(paths: Iterable[Path]) -> tuple[list[tuple[Path, Table]], list[ImportIssue]]:
    found: list[tuple[Path, Table]] = []
    issues: list[ImportIssue] = []
    for given in paths:
        if given.is_dir():
            candidates = sorted(p for p in given.iterdir() if p.suffix.lower() == ".csv")
            if not candidates:
                issues.append(ImportIssue(str(given), 0, "-", "folder holds no .csv files"))
        elif given.is_file():
            candidates = [given]
        else:
            issues.append(ImportIssue(str(given), 0, "-", "no such file or folder"))
            continue
        for path in candidates:
            table = _table_for(path)
            if table is None:
                names = ", ".join(f"{t.name}.csv" for t in TABLES)
                issues.append(ImportIssue(str(path), 0, "-", f"unknown file; expected one of {names}"))
            else:
                found.append((path, table))
    order = {t.name: i for i, t in enumerate(TABLES)}
    found.sort(key=lambda item: (order[item[1].name], str(item[0])))
    return found, issues


def read_file(path: Path, table: Table) -> tuple[list[_Row], list[ImportIssue]]:
    """Parse one file; returns its good rows and every problem found in it."""
    name = str(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return [], [ImportIssue(name, 0, "-", f"not UTF-8 text (byte {error.start}); save the sheet as CSV UTF-8")]
    reader = csv.reader(io.StringIO(text, newline=""))
    issues: list[ImportIssue] = []
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return [], [ImportIssue(name, 1, "-", f"empty file; the header is {','.join(table.header)}")]
    except csv.Error as error:
        return [], [ImportIssue(name, 1, "-", f"unreadable CSV: {error}")]
    expected = table.header
    for wanted in table.columns:
        if wanted.name not in header and not wanted.may_be_absent:
            issues.append(ImportIssue(name, 1, wanted.name, "missing column"))
    for position, column in enumerate(header):
        if column not in expected:
            issues.append(ImportIssue(name, 1, column or f"#{position + 1}", f"unknown column for {table.name}.csv"))
        elif header.index(column) != position:
            issues.append(ImportIssue(name, 1, column, "column appears twice"))
    if issues:
        return [], issues
    rows: list[_Row] = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # blank lines from spreadsheet exports
            if len(cells) != len(header):
                column = header[len(cells)] if len(cells) < len(header) else f"#{len(cells)}"
                issues.append(ImportIssue(name, line, column,
                                          f"row has {len(cells)} fields, the header has {len(header)}"))
                continue
            row_issues, values = _parse_row(table, dict(zip(header, cells, strict=True)))
            issues.extend(ImportIssue(name, line, column, message) for column, message in row_issues)
            if not row_issues:
                rows.append(_Row(name, line, values))
    except csv.Error as error:
        issues.append(ImportIssue(name, reader.line_num, "-", f"unreadable CSV: {error}"))
    return rows, issues


def _parse_row(table: Table, cells: dict[str, str]) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    problems: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    given: dict[str, bool] = {}
    for column in table.columns:
        text = cells.get(column.name, "").strip()
        given[column.name] = bool(text)
        if not text:
            if column.required:
                problems.append((column.name, "required, but empty"))
            values[column.name] = column.default
            continue
        try:
            values[column.name] = column.parse(text)
        except FieldError as error:
            problems.append((column.name, str(error)))
    if problems:
        return problems, values
    values["_given"] = given
    for rule in table.row_rules:
        problems.extend(rule(values))
    del values["_given"]
    return problems, values


def _store_rows(conn: sqlite3.Connection, table: Table) -> dict[tuple[Any, ...], dict[str, Any]]:
    columns = ", ".join(f'"{c}"' for c in table.header)
    return {tuple(r[k] for k in table.key): dict(r) for r in conn.execute(f"SELECT {columns} FROM {table.name}")}


def import_csv(conn: sqlite3.Connection, paths: Sequence[Path], *, dry_run: bool = False) -> ImportReport:
    """Validate ``paths`` completely, then apply them in one transaction (unless ``dry_run``).

    Raises ImportFailed with every problem found; the store is then untouched.
    """
    files, issues = collect_files(paths)
    report = ImportReport(files=[str(p) for p, _ in files])
    incoming: dict[str, dict[tuple[Any, ...], _Row]] = {t.name: {} for t in TABLES}
    for path, table in files:
        rows, file_issues = read_file(path, table)
        issues.extend(file_issues)
        seen = incoming[table.name]
        for row in rows:
            key = tuple(row.values[k] for k in table.key)
            first = seen.get(key)
            if first is not None:
                where = f"first at {first.path}:{first.line}"
                issues.append(ImportIssue(row.path, row.line, table.key[-1],
                                          f"duplicate key {'/'.join(map(str, key))}, {where}"))
                continue
            seen[key] = row

    stored = {t.name: _store_rows(conn, t) for t in TABLES}
    final: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
    for table in TABLES:
        merged = dict(stored[table.name])
        merged.update({key: row.values for key, row in incoming[table.name].items()})
        final[table.name] = merged
    for table in TABLES:
        issues.extend(_check_unique(table, incoming[table.name], final[table.name]))
        issues.extend(_check_references(table, incoming[table.name], final))
    if issues:
        raise ImportFailed(sorted(issues, key=lambda i: (i.path, i.line, i.column)))

    for table in TABLES:
        counts = TableCounts()
        for key, row in incoming[table.name].items():
            old = stored[table.name].get(key)
            if old is None:
                counts.inserted += 1
            elif any(old[c] != row.values[c] for c in table.header):
                counts.updated += 1
            else:
                counts.unchanged += 1
        if incoming[table.name]:
            report.tables[table.name] = counts
    if not dry_run:
        _apply(conn, incoming, stored)
    return report


def _check_unique(table: Table, rows: dict[tuple[Any, ...], _Row],
                  final: dict[tuple[Any, ...], dict[str, Any]]) -> list[ImportIssue]:
    issues = []
    for columns, reason in table.unique:
        owners: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        for key, values in final.items():
            owners.setdefault(tuple(values[c] for c in columns), key)
        for key, row in rows.items():
            owner = owners[tuple(row.values[c] for c in columns)]
            if owner != key:
                issues.append(ImportIssue(row.path, row.line, columns[-1],
                                          f"{reason} ({'/'.join(map(str, owner))})"))
    return issues


def _check_references(table: Table, rows: dict[tuple[Any, ...], _Row],
                      final: dict[str, dict[tuple[Any, ...], dict[str, Any]]]) -> list[ImportIssue]:
    issues = []
    for columns, target in table.references:
        known = final[target]
        for row in rows.values():
            ref = tuple(row.values[c] for c in columns)
            if ref not in known:
                what = "/".join(map(str, ref))
                issues.append(ImportIssue(row.path, row.line, columns[-1],
                                          f"unknown {TABLES_BY_NAME[target].name[:-1].replace('_', ' ')} {what}"))
    return issues


def _apply(conn: sqlite3.Connection, incoming: dict[str, dict[tuple[Any, ...], _Row]],
           stored: dict[str, dict[tuple[Any, ...], dict[str, Any]]]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table in TABLES:
            changed = [row.values for key, row in incoming[table.name].items()
                       if stored[table.name].get(key) != row.values]
            if not changed:
                continue
            columns = ", ".join(f'"{c}"' for c in table.header)
            marks = ", ".join("?" for _ in table.header)
            updates = ", ".join(f'"{c}" = excluded."{c}"' for c in table.header if c not in table.key)
            sql = (f"INSERT INTO {table.name} ({columns}) VALUES ({marks}) "
                   f"ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {updates}")
            conn.executemany(sql, [[v[c] for c in table.header] for v in changed])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def export_csv(conn: sqlite3.Connection, folder: Path) -> list[Path]:
    """Write the five files; importing them into an empty store gives the same store."""
    from common.config_store.csv_rules import format_cell

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for table in TABLES:
        path = folder / f"{table.name}.csv"
        rows = sorted(_store_rows(conn, table).items())
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(table.header)
            for _, values in rows:
                writer.writerow([format_cell(values[c]) for c in table.header])
        written.append(path)
    return written
