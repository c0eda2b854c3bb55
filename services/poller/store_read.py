"""What plant_reader.py's child runs: one PLC's rows from the config store, marshalled to its stdout.

    python -S -m services.poller.store_read STORE PLC

Standard library only (sqlite3 and marshal; not even ``typing``), so the child
starts in a few tens of milliseconds. The four reads are one
transaction: the PLC, its polling groups, its tags and the plant's active PLC
codes agree with each other. The store is not created when missing and not
migrated: the rows of an older schema lack columns, which the model's
``*_from_row`` read as absent.

Stdout is one ``marshal`` dump of a dict: ``outcome`` is ``rows``, ``missing``
(no store there, or no such PLC in it) or ``busy`` (SQLite could not read it
now: locked, busy, a transient I/O error), with a ``message``; with ``rows``,
``plc`` (None when there is no such PLC), ``groups`` and ``tags`` (each a pair
of column names and row tuples) and ``codes``. Anything else ends the child
with a traceback on stderr and a status other than 0.
"""

from __future__ import annotations

import marshal
import os
import sqlite3
import sys

#: as the other readers of the store (common/config_store/schema.py)
BUSY_TIMEOUT_MS = 5000


def _table(conn: sqlite3.Connection, sql: str, args: tuple[str, ...]) -> tuple[list[str], list[tuple[object, ...]]]:
    cursor = conn.execute(sql, args)
    return [d[0] for d in cursor.description], cursor.fetchall()


def read(store: str, plc_code: str) -> dict[str, object]:
    if not os.path.exists(store):
        return {"outcome": "missing", "message": f"no config store at {store}"}
    conn = sqlite3.connect(store, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("BEGIN")
        try:
            plc = _table(conn, "SELECT * FROM plcs WHERE plc_code = ?", (plc_code,))
            if not plc[1]:
                return {"outcome": "missing", "message": f"PLC {plc_code} is not in the config store {store}"}
            return {"outcome": "rows", "message": "", "plc": (plc[0], plc[1][0]),
                    "groups": _table(conn, "SELECT * FROM polling_groups WHERE plc_code = ? ORDER BY group_name",
                                     (plc_code,)),
                    "tags": _table(conn, "SELECT * FROM tags WHERE plc_code = ? ORDER BY group_name, rowid",
                                   (plc_code,)),
                    "codes": [r[0] for r in conn.execute("SELECT plc_code FROM plcs WHERE is_active = 1 "
                                                         "ORDER BY plc_code")]}
        finally:
            conn.execute("COMMIT")
    except sqlite3.OperationalError as error:
        return {"outcome": "busy", "message": f"config store {store} not readable: {error}"}
    finally:
        conn.close()


if __name__ == "__main__":
    sys.stdout.buffer.write(marshal.dumps(read(*sys.argv[1:])))
