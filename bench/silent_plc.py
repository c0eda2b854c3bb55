"""Benchmark: a PLC that goes silent (accepts connections, never answers) for 60 s.

    .venv/bin/python -m bench.silent_plc [--seconds 60]   (from the project directory)

The scenario of tests/integration/test_poller_silent_plc.py (which holds the
PLC silent for 20 s to keep the suite short), for as long as the issue asks:
a poller with a 1 s and a 5 s group against virtual-plc with every request
held unanswered (timeout_ms 3000, a pool of 3), the gateway in-process. It
checks the same things (a BAD row per deadline, missed deadlines counted in
status and /metrics, GOOD rows within one interval of recovery) and prints,
per group, the deadlines, the BAD rows, the largest gap between rows, the
counters and how soon GOOD rows came back.
"""

from __future__ import annotations

import argparse

from tests.helpers import remove_short_tmps
from tests.integration.test_poller_silent_plc import check, run_silent_plc


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.silent_plc")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the PLC stays silent")
    args = parser.parse_args()
    figures = check(run_silent_plc(args.seconds))
    print(f"PLC silent for {args.seconds:.0f} s")
    print(f"{'group':>8} {'deadlines':>9} {'BAD rows':>8} {'max gap ms':>10} {'missed':>6} {'overruns':>8} "
          f"{'late p99 ms':>11} {'GOOD after ms':>13}")
    for name, f in figures.items():
        print(f"{name:>8} {f['deadlines']:>9} {f['bad_rows']:>8} {f['max_gap_ms']:>10} {f['deadlines_missed']:>6} "
              f"{f['overruns']:>8} {f['lateness_p99_ms']:>11} {f['good_again_after_ms']:>13}")
    remove_short_tmps()


if __name__ == "__main__":
    main()
