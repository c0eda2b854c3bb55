"""Benchmark: `scada db import` of a generated plant into an empty config store.

    .venv/bin/python -m bench.import_tags [--tags 20000]   (from the project directory)
    .venv/bin/python -m bench.import_tags --megabytes 50   (a tags.csv of ~50 MB, ~960,000 tags)

Prints the time to validate and apply the import, and to re-import the same
files (which must change nothing), the peak memory (RSS) of the importing
process against the size of the store it made, and -- with --megabytes -- the
same for a file of that size whose every row is bad (the problems printed
and the time to refuse it). Each import runs as ``scada db import`` in its
own process, so the peak RSS is the command's own.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.plant import write_csv

ROOT = Path(__file__).resolve().parent.parent
BYTES_PER_TAG = 52  # a generated tags.csv row, measured


def write_plant(folder: Path, tags: int, bad: bool = False) -> None:
    """A plant of ``tags`` tags; ``bad``: every tag row refers to a group that does not exist."""
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
    kinds = [("D", "INT16"), ("W", "UINT16"), ("M", "BIT"), ("D", "FLOAT32"), ("ZR", "INT32")]

    def rows() -> Iterator[list[object]]:  # streamed: the benchmark's own memory stays small
        for c in codes:
            for g in range(groups_per_plc):
                for i in range(per_group):
                    device, dtype = kinds[i % len(kinds)]
                    number = (g * per_group + i) * 2
                    address = f"{device}{number:X}" if device in ("W", "ZR") else f"{device}{number}"
                    group = f"X{g:02d}" if bad else f"G{g:02d}"
                    yield [c, group, f"T{g:02d}_{i:05d}", address, dtype, "", "", "", "태그"]

    write_csv(folder, "tags", rows())


def scada_import(data: Path, folder: Path) -> tuple[float, int, int, str]:
    """``scada db import folder`` in a child process: seconds, exit status, its peak RSS in kB, its stderr."""
    env = {**os.environ, "SCADA_DATA_DIR": str(data), "SCADA_RUN_DIR": str(data / "run"),
           "SCADA_LOG_DIR": str(data / "logs")}
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([sys.executable, "-m", "services.cli.main", "db", "import", str(folder)],
                                 cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True)
        # this child's own rusage; its peak RSS counts the benchmark's pages it had before exec, so the
        # plant is generated as a stream and the benchmark stays small
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        err.seek(0)
        return seconds, child.returncode, usage.ru_maxrss, err.read()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.import_tags")
    parser.add_argument("--tags", type=int, default=20_000)
    parser.add_argument("--megabytes", type=float, help="size tags.csv to about this many MB instead")
    args = parser.parse_args()
    tags = int(args.megabytes * 1e6 / BYTES_PER_TAG) if args.megabytes else args.tags
    with tempfile.TemporaryDirectory() as tmp:
        folder, data = Path(tmp) / "plant", Path(tmp) / "data"
        folder.mkdir()
        write_plant(folder, tags)
        size_mb = (folder / "tags.csv").stat().st_size / 1e6
        first, status, peak, err = scada_import(data, folder)
        assert status == 0, err
        again, status, _, err = scada_import(data, folder)
        assert status == 0, err
        store_mb = (data / "scada.db").stat().st_size / 1e6
        print(f"import of {tags:,} tags (tags.csv {size_mb:.1f} MB) into an empty store: {first:.1f} s "
              f"({tags / first:,.0f} tags/s), peak RSS {peak / 1000:.0f} MB; store {store_mb:.0f} MB")
        print(f"re-import of the same files (no change): {again:.1f} s")
        if args.megabytes:
            bad = Path(tmp) / "bad"
            bad.mkdir()
            write_plant(bad, tags, bad=True)
            seconds, status, peak_bad, err = scada_import(Path(tmp) / "data_bad", bad)
            print(f"the same size with every tag row bad: refused (exit {status}) in {seconds:.1f} s, "
                  f"{len(err.splitlines())} lines on stderr ({len(err) / 1000:.0f} kB), peak RSS "
                  f"{peak_bad / 1000:.0f} MB")


if __name__ == "__main__":
    main()
