"""``scada history``: what GET /api/history answers, printed for a terminal or exported as CSV.

    scada history KRCWO12ELOA101/LINE_SPEED --from 1h
    scada history KRCWO12ELOA101/D100 KRCWO12ELOA101/D101 --from 2026-12-03T06:00:00Z --to 2026-12-03T14:00:00Z \
        --points 500 --csv shift.csv

The CSV (UTF-8 with a BOM, so a spreadsheet opens Korean names as they are)
has one row per value or bucket: ``plc_code, tag_name, address, unit, mode,
time`` (ISO-8601 UTC) and ``ts_ms``, then ``value, quality`` for raw series
or ``first, last, min, max, avg, count, good_share`` for buckets.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from common.historian import tag_lookup
from common.historian.history import RELATIVE, HistoryError, UnknownTag, parse_query
from common.historian.readers import make_reader
from common.settings import Settings
from common.times import iso_ms, now_ms

BUCKET_COLUMNS = ("first", "last", "min", "max", "avg", "count", "good_share")
CSV_COLUMNS = ("plc_code", "tag_name", "address", "unit", "mode", "time", "ts_ms", "value", "quality",
               *BUCKET_COLUMNS)


def add_parser(sub: Any, func: Any) -> None:
    p = sub.add_parser("history", help="stored values of tags over a time range, raw or in buckets (CSV with --csv)")
    p.add_argument("tags", nargs="+", metavar="PLC/TAG", help="<plc_code>/<tag name or address>, up to 20")
    p.add_argument("--from", dest="since", default="-1h", help="ISO-8601, or how long ago: 10m, 1h, 8h, 24h, 7d "
                   "(--from=-1h works too; default 1h)")
    p.add_argument("--to", dest="until", default="now", help="ISO-8601 or now (default)")
    p.add_argument("--points", type=int, default=1000, help="at most this many values or buckets per tag "
                   "(1..10000, default 1000)")
    p.add_argument("--csv", metavar="FILE", help="write CSV to FILE ('-' for standard output) instead of the table")
    p.set_defaults(func=func)


def _ago(text: str) -> str:
    """``1h`` as ``-1h``: argparse takes ``--from -1h`` for two options, so the minus may be left out."""
    return f"-{text}" if RELATIVE.match(f"-{text}") else text


def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        q = parse_query(args.tags, _ago(args.since), _ago(args.until), args.points, now_ms())
    except HistoryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    reader = make_reader(settings)
    try:
        answer = tag_lookup.history(settings.config_db, reader, q)
    except UnknownTag as error:
        print(f"error: {error.args[0]}", file=sys.stderr)
        return 2
    finally:
        reader.close()
    if args.csv is None:
        for line in table(answer):
            print(line)
    elif args.csv == "-":
        write_csv(answer, sys.stdout)
    else:
        with open(args.csv, "w", encoding="utf-8-sig", newline="") as out:
            write_csv(answer, out)
        print(f"{sum(len(s['ts']) for s in answer['series']):,} rows written to {args.csv}")
    return 0


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def table(answer: dict[str, Any]) -> Iterator[str]:
    yield f"{iso_ms(answer['from_ms'])} .. {iso_ms(answer['to_ms'])}"
    for s in answer["series"]:
        unit = f", {s['unit']}" if s["unit"] else ""
        what = (f"{len(s['ts']):,} values" if s["mode"] == "raw" else
                f"{len(s['ts']):,} buckets of {s['bucket_ms'] / 1000:g} s, {sum(s['count']):,} values")
        yield f"{s['plc_code']}/{s['tag_name']} ({s['address']}, {s['data_type']}{unit}): {what}"
        if s["mode"] == "raw":
            for i, ts in enumerate(s["ts"]):
                yield f"  {iso_ms(ts)}  {_cell(s['value'][i]):>14}  {s['quality'][i]}"
        else:
            yield "  " + " " * 24 + "".join(f"{c:>12}" for c in BUCKET_COLUMNS)
            for i, ts in enumerate(s["ts"]):
                yield f"  {iso_ms(ts)}" + "".join(f"{_cell(s[c][i]):>12}" for c in BUCKET_COLUMNS)


def write_csv(answer: dict[str, Any], out: TextIO) -> None:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for s in answer["series"]:
        head = [s["plc_code"], s["tag_name"], s["address"], s["unit"], s["mode"]]
        for i, ts in enumerate(s["ts"]):
            if s["mode"] == "raw":
                tail = [_raw(s["value"][i]), s["quality"][i]] + [""] * len(BUCKET_COLUMNS)
            else:
                tail = ["", ""] + [_raw(s[c][i]) for c in BUCKET_COLUMNS]
            writer.writerow([*head, iso_ms(ts), ts, *tail])


def _raw(value: Any) -> Any:
    return "" if value is None else value
