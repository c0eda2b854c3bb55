"""CSV backups of batches the database would not take, and their replay.

A batch that failed its last retry is written to
``BACKUP_FILE_PATH/backup_YYYYMMDD_HHMMSS[_N].csv`` (UTC) -- written to a
temporary name, synced, then renamed, so a file that exists is whole::

    timestamp,plc_code,tag_address,tag_value,quality,group_name,cycle
    2026-11-23T03:36:00.123Z,KRCWO12ELOA101,D100,1234,GOOD,FAST_1S,30064771114

The first five columns are the seeds'; ``group_name`` and ``cycle`` say which
PollingData a value came from (a file of the previous release, whose last
column is ``seq``, or a file of the seeds' five columns, reads back with the
cycle ``-ts``, ``legacy_cycle``). ``tag_value`` is JSON: numbers as they are,
strings in quotes, empty for no value. Once the database answers again the
files are replayed oldest first and moved to ``replayed/``; rows the database
refuses for what they are go to ``rejected/rejected_*.csv`` with the reason.
No file is deleted.
"""

from __future__ import annotations

import csv
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from common.historian.rows import Row
from common.times import ms_of_iso
from common.wire.cycle import legacy_cycle

HEADER = ["timestamp", "plc_code", "tag_address", "tag_value", "quality", "group_name", "cycle"]


class BackupError(ValueError):
    """A backup file that cannot be read back."""


def _value_text(value: object) -> str:
    if value is None:
        return ""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # bytes, maps with bytes keys: kept as their repr, readable by a person
        return json.dumps(repr(value), ensure_ascii=False)


def _value_of(text: str) -> object:
    return None if text == "" else json.loads(text)


class BackupStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.replayed = folder / "replayed"
        self.rejected = folder / "rejected"
        for path in (self.folder, self.replayed, self.rejected):
            path.mkdir(parents=True, exist_ok=True)
        self.files_written = 0
        self.rows_written = 0

    def _new_path(self, prefix: str, folder: Path) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
        path = folder / f"{prefix}_{stamp}.csv"
        n = 1
        while path.exists():
            path = folder / f"{prefix}_{stamp}_{n}.csv"
            n += 1
        return path

    def _write(self, path: Path, header: list[str], lines: list[list[object]]) -> None:
        tmp = path.with_suffix(".tmp")
        try:
            with tmp.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(header)
                writer.writerows(lines)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a disk full mid-file leaves nothing behind, not a torn .tmp
            raise

    def write(self, rows: list[Row]) -> Path:
        """Back up a batch; returns the file."""
        path = self._new_path("backup", self.folder)
        self._write(path, HEADER, [[r.ts, r.plc_code, r.tag_address, _value_text(r.tag_value), r.quality,
                                    r.group_name, r.cycle] for r in rows])
        self.files_written += 1
        self.rows_written += len(rows)
        return path

    def reject(self, rejected: list[tuple[Row, str]]) -> Path:
        path = self._new_path("rejected", self.rejected)
        self._write(path, [*HEADER, "reason"],
                    [[r.ts, r.plc_code, r.tag_address, _value_text(r.tag_value), r.quality, r.group_name, r.cycle,
                      reason] for r, reason in rejected])
        return path

    def pending(self) -> list[Path]:
        """Backup files not replayed yet, oldest first (the names sort by time)."""
        return sorted(self.folder.glob("backup_*.csv"), key=lambda p: (p.stat().st_mtime, p.name))

    @staticmethod
    def read(path: Path) -> list[Row]:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or header[:5] != HEADER[:5]:
                raise BackupError(f"{path}: not a backup file (header {header})")
            has_cycle = len(header) >= 7 and header[6] == "cycle"
            rows = []
            for number, cells in enumerate(reader, start=2):
                try:
                    group = cells[5] if len(cells) >= 6 else ""
                    cycle = int(cells[6]) if has_cycle else legacy_cycle(ms_of_iso(cells[0]))
                    rows.append(Row(cells[0], cells[1], cells[2], _value_of(cells[3]), cells[4], group, cycle))
                except (IndexError, ValueError) as error:
                    raise BackupError(f"{path}:{number}: {error}") from None
        return rows

    def done(self, path: Path) -> Path:
        target = self.replayed / path.name
        path.replace(target)
        return target

    def set_aside(self, path: Path) -> Path:
        """A file that cannot be read: moved to rejected/, never deleted."""
        target = self.rejected / f"unreadable_{path.name}"
        path.replace(target)
        return target
