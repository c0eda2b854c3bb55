"""scada db: the config store, from the operator's side.

    scada db init                      create or upgrade the config store
    scada db import PATH... [--dry-run] [--prune]
    scada db export DIR                write the five CSV files
    scada db show [--plc CODE]         summary of the plant

Each handler takes the settings and the parsed arguments and returns the exit
status; the parser that calls them is in :mod:`services.cli.main`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.config_store import model
from common.config_store.csv_import import ImportFailed, export_csv, import_csv
from common.config_store.schema import open_store
from common.settings import Settings


def init_store(settings: Settings, args: argparse.Namespace) -> int:
    settings.make_dirs()
    conn = open_store(settings.config_db)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.close()
    print(f"config store {settings.config_db} at schema version {version}")
    return 0


def import_plant(settings: Settings, args: argparse.Namespace) -> int:
    settings.make_dirs()
    conn = open_store(settings.config_db)
    try:
        report = import_csv(conn, [Path(p) for p in args.paths], dry_run=args.dry_run, prune=args.prune)
    except ImportFailed as failure:
        for issue in failure.issues:
            print(issue, file=sys.stderr)
        if failure.more:
            print(f"... and {failure.more:,} more problem(s) not shown", file=sys.stderr)
        print(f"import failed: {failure}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    verb = "would import" if args.dry_run else "imported"
    print(f"{verb} {len(report.files)} file(s) into {settings.config_db}: {report.summary()}")
    for line in [*report.rows, *report.pollers.lines("would " if args.dry_run else "")]:
        print(line)
    if not args.dry_run:
        from services.cli.pollers import apply_changes

        for line in apply_changes(settings, report.pollers):
            print(line)
    return 0


def export_plant(settings: Settings, args: argparse.Namespace) -> int:
    conn = open_store(settings.config_db)
    try:
        for path in export_csv(conn, Path(args.folder)):
            print(path)
    finally:
        conn.close()
    return 0


def show_plant(settings: Settings, args: argparse.Namespace) -> int:
    conn = open_store(settings.config_db)
    try:
        lines = {r["line_code"]: r["line_name"] for r in conn.execute("SELECT * FROM lines ORDER BY line_code")}
        processes = conn.execute("SELECT * FROM processes ORDER BY process_code").fetchall()
        plcs = [p for p in model.load_plcs(conn) if args.plc in (None, p.plc_code)]
        if args.plc and not plcs:
            print(f"no PLC {args.plc} in {settings.config_db}", file=sys.stderr)
            return 1
        counts = {(r[0], r[1]): r[2] for r in conn.execute(
            "SELECT plc_code, group_name, count(*) FROM tags GROUP BY plc_code, group_name")}
        print(f"config store {settings.config_db}")
        for code, name in lines.items():
            print(f"line {code}  {name}")
            for process in (p for p in processes if p["line_code"] == code):
                print(f"  process {process['process_code']}  {process['process_name']}")
                for plc in (p for p in plcs if p.process_code == process["process_code"]):
                    state = "active" if plc.is_active else "inactive"
                    ports = (f"ports {';'.join(map(str, plc.ports))}" if plc.ports
                             else f"port {plc.port} x{plc.pool_size}")
                    wire = f"{plc.protocol}/{plc.transport}{'' if plc.multi_block_read else ' no-0406'}"
                    deviations = f"  deviations {';'.join(sorted(plc.deviations))}" if plc.deviations else ""
                    print(f"    PLC {plc.plc_code}  {plc.host} {ports}  {wire}  {state}"
                          f"  {plc.description}{deviations}")
                    for g in model.load_groups(conn, plc.plc_code):
                        extra = ""
                        if g.mode == "HANDSHAKE":
                            extra = f" trigger {g.trigger_device} ack {g.ack_device or '-'}"
                        print(f"      group {g.group_name:<20} {g.mode:<9} {g.interval_ms:>6} ms"
                              f"  {counts.get((plc.plc_code, g.group_name), 0):>5} tags"
                              f"{'' if g.is_active else '  (inactive)'}{extra}")
    finally:
        conn.close()
    return 0
