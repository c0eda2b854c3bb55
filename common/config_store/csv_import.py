"""``scada db import``: CSV files into the config store, all or nothing.

Strategy: stream every file row by row, parse every cell, and stage each
good row in a TEMP table (csv_stage.py); then check keys, uniqueness and
references against what the store will hold afterwards (the store overlaid
with the import) -- collecting every problem with its file, line and column
-- and only when there is none, apply the whole import in one transaction.
A row whose key exists updates that record; rows absent from the files are
left alone (import never deletes). Memory does not grow with the files: rows
wait in SQLite's temporary file, and of the problems only the first
MAX_ISSUES (by file, line, column) are kept, with the count of all.
"""

from __future__ import annotations

import contextlib
import csv
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.config_store.csv_fields import FieldError
from common.config_store.csv_rules import TABLES, Table
from common.config_store.csv_stage import Stage


@dataclass(frozen=True)
class ImportIssue:
    path: str
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


MAX_ISSUES = 100


class ImportFailed(Exception):
    """``issues``: the first MAX_ISSUES problems (by file, line, column); ``total``: how many there were."""

    def __init__(self, issues: list[ImportIssue], total: int | None = None) -> None:
        self.issues = issues
        self.total = len(issues) if total is None else total
        super().__init__(f"{self.total} problem(s); nothing was imported")

    @property
    def more(self) -> int:
        """Problems found beyond those in ``issues``."""
        return self.total - len(self.issues)


class Problems:
    """The first ``keep`` problems in (file, line, column) order, and the count of all of them."""

    def __init__(self, keep: int = MAX_ISSUES) -> None:
        self.keep = keep
        self.total = 0
        self._kept: list[ImportIssue] = []

    def add(self, issue: ImportIssue) -> None:
        self.total += 1
        self._kept.append(issue)
        if len(self._kept) >= 4 * self.keep:  # trimmed now and then: bounded, and no sort per problem
            self._trim()

    def extend(self, issues: Iterable[ImportIssue]) -> None:
        for issue in issues:
            self.add(issue)

    def _trim(self) -> None:
        self._kept.sort(key=lambda i: (i.path, i.line, i.column))
        del self._kept[self.keep:]

    def __bool__(self) -> bool:
        return self.total > 0

    def failure(self) -> ImportFailed:
        self._trim()
        return ImportFailed(list(self._kept), self.total)


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


def read_file(path: Path, table: Table, problems: Problems) -> Iterator[tuple[int, dict[str, Any]]]:
    """Parse one file as it is read: yields (line, values) of each good row; problems go to ``problems``."""
    name = str(path)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip() for h in next(reader)]
            missing = [ImportIssue(name, 1, wanted.name, "missing column") for wanted in table.columns
                       if wanted.name not in header and not wanted.may_be_absent]
            problems.extend(missing)
            bad_header = bool(missing)
            for position, column in enumerate(header):
                if column not in table.header:
                    problems.add(ImportIssue(name, 1, column or f"#{position + 1}",
                                             f"unknown column for {table.name}.csv"))
                    bad_header = True
                elif header.index(column) != position:
                    problems.add(ImportIssue(name, 1, column, "column appears twice"))
                    bad_header = True
            if bad_header:
                return
            for cells in reader:
                line = reader.line_num
                if not any(c.strip() for c in cells):
                    continue  # blank lines from spreadsheet exports
                if len(cells) != len(header):
                    column = header[len(cells)] if len(cells) < len(header) else f"#{len(cells)}"
                    problems.add(ImportIssue(name, line, column,
                                             f"row has {len(cells)} fields, the header has {len(header)}"))
                    continue
                row_issues, values = _parse_row(table, dict(zip(header, cells, strict=True)))
                problems.extend(ImportIssue(name, line, column, message) for column, message in row_issues)
                if not row_issues:
                    yield line, values
        except StopIteration:
            problems.add(ImportIssue(name, 1, "-", f"empty file; the header is {','.join(table.header)}"))
        except UnicodeDecodeError:
            problems.add(ImportIssue(name, reader.line_num + 1, "-",
                                     "not UTF-8 text; save the sheet as CSV UTF-8"))
        except csv.Error as error:
            problems.add(ImportIssue(name, reader.line_num, "-", f"unreadable CSV: {error}"))


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

    Raises ImportFailed with the first MAX_ISSUES problems and the count of all;
    the store is then untouched.
    """
    files, found = collect_files(paths)
    problems = Problems()
    problems.extend(found)
    report = ImportReport(files=[str(p) for p, _ in files])
    conn.execute("BEGIN IMMEDIATE")  # the store cannot change between the checks and the apply
    stage = Stage(conn)
    try:
        for path, table in files:
            try:
                for line, values in read_file(path, table, problems):
                    stage.add(table, str(path), line, values)
            except OSError as error:
                problems.add(ImportIssue(str(path), 0, "-", f"cannot read: {error.strerror or error}"))
        problems.extend(ImportIssue(*issue) for issue in stage.check())
        if problems:
            raise problems.failure()
        for table in TABLES:
            inserted, updated, unchanged = stage.counts(table)
            if inserted + updated + unchanged:
                report.tables[table.name] = TableCounts(inserted, updated, unchanged)
        if not dry_run:
            for table in TABLES:
                stage.apply(table)
        stage.close()
        conn.execute("ROLLBACK" if dry_run else "COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        with contextlib.suppress(sqlite3.Error):
            stage.close()
        raise
    return report


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
