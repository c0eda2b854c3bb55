"""Writing generated plants for the benchmarks, in the config store's CSV form."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from common.config_store.csv_rules import TABLES_BY_NAME


def write_csv(folder: Path, table: str, rows: Iterable[list[object]]) -> None:
    """``table``.csv with the config store's own header for that table, as far as the rows reach
    (columns added later, which a file may leave out, are left out when no row has them)."""
    header = TABLES_BY_NAME[table].header
    rows = iter(rows)  # a generator stays one: a benchmark's 50 MB file is never held in memory
    first = next(rows, None)
    with (folder / f"{table}.csv").open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(header if first is None else header[:len(first)])
        if first is not None:
            out.writerow(first)
        out.writerows(rows)
