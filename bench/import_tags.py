"""Benchmark: `scada db import` of a plant with 20,000 tags into an empty config store.

    .venv/bin/python -m bench.import_tags [--tags 20000]   (from the project directory)

Prints the time to validate and apply the import, and to re-import the same
files (which must change nothing).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.plant import write_csv
from common.config_store import open_store
from common.config_store.csv_import import import_csv


def write_plant(folder: Path, tags: int) -> None:
    plcs = max(1, tags // 2000)
    groups_per_plc = 10
    per_group = tags // (plcs * groups_per_plc)
    codes = [f"KRBENCH{n:07d}" for n in range(plcs)]
    write_csv(folder, "lines", [["L1", "라인 1"]])
    write_csv(folder, "processes", [["P1", "L1", "공정 1"]])
    write_csv(folder, "plcs", [[c, "P1", f"10.0.{n // 250}.{n % 250 + 1}", 5000, "MC3E_BINARY", 5, "", 3000, 1, "",
                                "TCP", 1, ""] for n, c in enumerate(codes)])
    write_csv(folder, "polling_groups", [[f"G{g:02d}", c, "FIXED", 1000, "", "", 1]
                                         for c in codes for g in range(groups_per_plc)])
    rows = []
    kinds = [("D", "INT16"), ("W", "UINT16"), ("M", "BIT"), ("D", "FLOAT32"), ("ZR", "INT32")]
    for c in codes:
        for g in range(groups_per_plc):
            for i in range(per_group):
                device, dtype = kinds[i % len(kinds)]
                number = (g * per_group + i) * 2
                address = f"{device}{number:X}" if device in ("W", "ZR") else f"{device}{number}"
                rows.append([c, f"G{g:02d}", f"T{g:02d}_{i:05d}", address, dtype, "", "", "", "태그"])
    write_csv(folder, "tags", rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tags", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "plant"
        folder.mkdir()
        write_plant(folder, args.tags)
        conn = open_store(Path(tmp) / "scada.db")
        started = time.perf_counter()
        report = import_csv(conn, [folder])
        first = time.perf_counter() - started
        started = time.perf_counter()
        again = import_csv(conn, [folder])
        second = time.perf_counter() - started
        count = conn.execute("SELECT count(*) FROM tags").fetchone()[0]
        conn.close()
    assert count == report.tables["tags"].inserted
    assert again.tables["tags"].unchanged == count
    print(f"import of {count} tags into an empty store: {first:.2f} s ({count / first:,.0f} tags/s)")
    print(f"re-import of the same files (no change):     {second:.2f} s")


if __name__ == "__main__":
    main()
