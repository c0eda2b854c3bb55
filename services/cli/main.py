"""scada: the operator's commands.

    scada db init                      create or upgrade the config store
    scada db import PATH... [--dry-run] [--prune]
                                       register a plant from CSV files or folders; on a running
                                       plant the pollers follow (start, stop, restart, reload)
    scada db export DIR                write the five CSV files
    scada db show [--plc CODE]         summary of the plant
    scada supervisor-conf              write the pollers' supervisor include
    scada pollers start|stop|restart|status [PLC...]
                                       every poller (or those named) under supervisord
    scada tap [ENDPOINT] [--topic P]   print live messages as JSON lines
    scada account [--last 10m | --since T --until T] [--json]
                                       where every value polled in a window went
    scada strays [--stop]              stages of this run directory running without a supervisord
    scada keys create NAME | list | allow FILE [--name N]
                                       CURVE keys for tcp:// endpoints
    scada write PLC TAG VALUE [--url U] write a tag through the gateway (needs SCADA_API_TOKEN)
    scada audit [--plc CODE] [--tag T] [--limit N] [--json]
                                       the audit trail of writes
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sqlite3
import sys
import time
from datetime import UTC, datetime
from typing import NoReturn

from common.config_store.schema import StoreVersionError
from common.settings import Settings
from services.cli.db import export_plant, import_plant, init_store, show_plant


def _supervisor_conf(settings: Settings, args: argparse.Namespace) -> int:
    from services.cli.supervisor_conf import write_pollers_conf

    path, codes = write_pollers_conf(settings)
    print(f"wrote {path}: {len(codes)} poller(s) {' '.join(codes)}")
    print("apply with: supervisorctl -c supervisord.conf update")
    return 0


def _pollers(settings: Settings, args: argparse.Namespace) -> int:
    from services.cli.pollers import pollers_command

    return pollers_command(settings, args.action, args.plcs)


def _tap(settings: Settings, args: argparse.Namespace) -> int:
    from common import curve
    from common.zmq_keys import KeyFolderError
    from services.cli.tap import tap

    endpoint = args.endpoint or settings.live_endpoint
    try:
        security = curve.for_stage(settings, "tap", extra_connects={"live": endpoint})
    except KeyFolderError as error:
        print(f"error: {endpoint} needs CURVE keys: {error}", file=sys.stderr)
        return 2
    print(f"tapping {endpoint} (Ctrl-C to stop)", file=sys.stderr)
    tap(endpoint, args.topic, args.count, args.timeout, security)
    return 0


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    from services.cli.keys import keys_command

    return keys_command(settings, args)


MAX_DURATION_S = 3650 * 86400  # ten years: anything longer is a typo, and overflows a time in ms


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad argument reported on one line (and exit status 2) instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _when(text: str) -> int:
    """An ISO-8601 time (UTC unless it says otherwise) as Unix ms."""
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return int((at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp() * 1000)
    except (ValueError, OverflowError, OSError):
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from None


def _duration(text: str) -> float:
    """90s, 10m, 2h, 7d or plain seconds: finite, above 0, at most ten years."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        seconds = float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"not a duration like 90s, 10m, 2h: {text!r}") from None
    if not math.isfinite(seconds) or seconds <= 0 or seconds > MAX_DURATION_S:
        raise argparse.ArgumentTypeError(f"a duration above 0 and at most 3650d, not {text!r}")
    return seconds


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"a number above 0, not {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0 or value > MAX_DURATION_S:
        raise argparse.ArgumentTypeError(f"seconds above 0 and at most {MAX_DURATION_S}, not {text!r}")
    return value


def _plc(text: str) -> str:
    if not re.fullmatch("[A-Z0-9]{14}", text):
        raise argparse.ArgumentTypeError(f"not a PLC code (14 upper-case letters and digits): {text!r}")
    return text


def _account(settings: Settings, args: argparse.Namespace) -> int:
    from common.historian.oracle_sink import make_sink
    from services.cli.account import account

    now = int(time.time() * 1000)
    until = args.until if args.until is not None else now
    since = args.since if args.since is not None else until - int(args.last * 1000)
    if since >= until:
        print("error: --since must be before --until", file=sys.stderr)
        return 2
    sink = make_sink(settings)
    try:
        result = account(settings.ledger_dir, sink, settings.backup_dir, since, until, settings.scada_data_dir)
    finally:
        sink.close()
    print(json.dumps(result.as_dict(), indent=2) if args.json else result.table())
    return 1 if result.lost else 0


def _strays(settings: Settings, args: argparse.Namespace) -> int:
    from common import bus, stage_lock

    strays = stage_lock.stray_stages(settings.scada_run_dir)
    if not strays:
        return 0
    names = ", ".join(f"{s.stage} (pid {s.pid})" for s in strays)
    try:
        bus.refuse_live_ipc(f"ipc://{settings.supervisor_socket}")
    except bus.EndpointInUse:
        print(f"supervisord is running for {settings.scada_run_dir}; its stages are not strays: {names}")
        return 0
    print(f"stages left running by a supervisord that is gone ({settings.scada_run_dir}): {names}")
    if not args.stop:
        return 1
    print("stopping them (SIGTERM; SIGKILL after 15 s)")
    killed = stage_lock.stop_strays(strays)
    if killed:
        print("killed: " + ", ".join(f"{s.stage} (pid {s.pid})" for s in killed))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="scada", description="JSScada collector: operator commands")
    sub = parser.add_subparsers(dest="command", required=True)
    db = sub.add_parser("db", help="the config store").add_subparsers(dest="db_command", required=True)
    db.add_parser("init", help="create or upgrade the config store").set_defaults(func=init_store)
    p = db.add_parser("import", help="register a plant from CSV files or folders (all or nothing)")
    p.add_argument("paths", nargs="+")
    p.add_argument("--dry-run", action="store_true", help="check everything, say what would change, change nothing")
    p.add_argument("--prune", action="store_true", help="also remove the rows of each table given that no file "
                   "holds (a PLC, group or tag taken out of the files)")
    p.set_defaults(func=import_plant)
    p = db.add_parser("export", help="write lines, processes, plcs, polling_groups and tags CSV files")
    p.add_argument("folder")
    p.set_defaults(func=export_plant)
    p = db.add_parser("show", help="a summary of the plant")
    p.add_argument("--plc", type=_plc, help="only this PLC")
    p.set_defaults(func=show_plant)
    sub.add_parser("supervisor-conf", help="write the pollers' supervisor include").set_defaults(
        func=_supervisor_conf)
    p = sub.add_parser("pollers", help="start, stop or restart every poller (or those named) under supervisord")
    p.add_argument("action", choices=["start", "stop", "restart", "status"])
    p.add_argument("plcs", nargs="*", type=_plc, metavar="PLC", help="only these PLCs")
    p.set_defaults(func=_pollers)
    p = sub.add_parser("tap", help="print live messages from a PUB socket as JSON lines")
    p.add_argument("endpoint", nargs="?", help="default: the buffer's live PUB")
    p.add_argument("--topic", default="data.", help="topic prefix (default data.): data.KRCWO12ELOA101 for one "
                   "PLC, ack. for the buffer's confirmations to the pollers, '' for everything")
    p.add_argument("--count", type=_positive_int, help="stop after this many messages")
    p.add_argument("--timeout", type=_seconds, help="stop after this many seconds without a message")
    p.set_defaults(func=_tap)
    p = sub.add_parser("account", help="where every value polled in a time window went (exit 1 if any was lost)")
    p.add_argument("--since", type=_when, help="ISO-8601 start (UTC unless it says otherwise)")
    p.add_argument("--until", type=_when, help="ISO-8601 end (default: now)")
    p.add_argument("--last", type=_duration, default=600.0, help="window before --until when --since is not given "
                   "(default 10m)")
    p.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    p.set_defaults(func=_account)
    p = sub.add_parser("strays", help="stages of this run directory left running by a supervisord that is gone "
                       "(exit 1 if any, unless --stop)")
    p.add_argument("--stop", action="store_true", help="stop them: SIGTERM, then SIGKILL after 15 s")
    p.set_defaults(func=_strays)
    from services.cli import history
    from services.cli.keys import add_parser as add_keys_parser

    history.add_parser(sub, history.run)

    add_keys_parser(sub, _keys)
    from services.cli.writes import add_parsers as add_write_parsers

    add_write_parsers(sub, _plc, _positive_int)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.load()
    try:
        code: int = args.func(settings, args)
    except StoreVersionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except sqlite3.Error as error:  # a store that is locked, read-only or not a database
        print(f"error: config store {settings.config_db}: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # a path that cannot be read or written: one line, not a traceback
        where = f" {error.filename}" if error.filename else ""
        print(f"error:{where}: {error.strerror or error}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
