"""Writing generated plants for the benchmarks, in the config store's CSV form."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from common.config_store.csv_rules import TABLES_BY_NAME


def write_csv(folder: Path, table: str, rows: Iterable[list[object]]) -> None:
    """``table``.csv with the config store's own header for that table, as export writes it for a plant
    that uses none of the optional features (deadband): the columns written only when used are left out."""
    with (folder / f"{table}.csv").open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow([c.name for c in TABLES_BY_NAME[table].columns if not c.export_if_used])
        out.writerows(rows)
