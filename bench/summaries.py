"""Benchmark: what the per-minute summary of a large plant costs the writer's summaries thread.

    .venv/bin/python -m bench.summaries [--groups 16] [--tags 1000] [--interval-ms 160]

Writes one minute of ``--groups`` groups of ``--tags`` tags every ``--interval-ms`` through the writer's
sink (SqliteSink.write), one value in 97 BAD, then times common/historian/rollup.summarize on that
minute, three times: ms and µs a value. The default is bench.pipeline's plant at 100,000 values/s
(4 PLCs x 4 groups x 1,000 tags every 160 ms): 6 million values a minute.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from common.historian import rollup
from common.historian.layout import DAY_MS, MINUTE_MS
from common.historian.rows import Row
from common.historian.sqlite_sink import SqliteSink
from common.times import iso_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", type=int, default=16)
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--interval-ms", type=int, default=160)
    args = parser.parse_args()
    now = int(time.time() * 1000)
    start = (now - 3 * MINUTE_MS) // MINUTE_MS * MINUTE_MS
    with tempfile.TemporaryDirectory() as folder:
        sink = SqliteSink(Path(folder) / "tag_data.db", clock=lambda: now)
        values = 0
        for k in range(MINUTE_MS // args.interval_ms):
            rows = []
            for g in range(args.groups):
                ts = iso_ms(start + k * args.interval_ms + g)
                rows += [Row(ts, f"KRBENCH{g:03d}PIPE", f"D{i}", (k * 7 + i) % 30000 if (i + k) % 97 else None,
                             "GOOD" if (i + k) % 97 else "BAD_TIMEOUT", "G", k + 1) for i in range(args.tags)]
            sink.write(rows)
            values += len(rows)
        conn = sink._connection()
        day, minute = start // DAY_MS, start % DAY_MS // MINUTE_MS
        took = []
        for _ in range(3):
            t0 = time.perf_counter()
            summary = rollup.summarize(conn, day, minute)
            took.append(time.perf_counter() - t0)
        sink.close()
    ms = statistics.median(took) * 1000
    print(f"one minute of {args.groups} x {args.tags:,} tags every {args.interval_ms} ms: {values:,} values, "
          f"{len(summary):,} series")
    print(f"summarize: median {ms:,.0f} ms of 3 ({', '.join(f'{t * 1000:,.0f}' for t in took)}), "
          f"{ms * 1000 / values:.2f} µs a value")


if __name__ == "__main__":
    main()
