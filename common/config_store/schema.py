"""Config store schema and its migrations.

Strategy: ``PRAGMA user_version`` holds the schema version; ``MIGRATIONS[n]``
takes a store from version n to n+1. Opening a store runs the missing steps
in one transaction, so an older store is upgraded in place and a store newer
than this build is refused rather than misread. Foreign keys are enforced on
every connection, except while migrating: a step that rebuilds a table (the
only way SQLite changes a CHECK) drops the old one while others still
reference it, so the steps run with foreign keys off and
``PRAGMA foreign_key_check`` must find nothing before the commit (SQLite's
documented procedure for schema changes).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

MIGRATIONS: list[str] = [
    # 0 -> 1: the five tables of the plant model.
    """
    CREATE TABLE lines (
        line_code   TEXT PRIMARY KEY,
        line_name   TEXT NOT NULL
    );
    CREATE TABLE processes (
        process_code TEXT PRIMARY KEY,
        line_code    TEXT NOT NULL REFERENCES lines(line_code),
        process_name TEXT NOT NULL
    );
    CREATE TABLE plcs (
        plc_code     TEXT PRIMARY KEY CHECK (length(plc_code) = 14),
        process_code TEXT NOT NULL REFERENCES processes(process_code),
        host         TEXT NOT NULL,
        port         INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
        protocol     TEXT NOT NULL CHECK (protocol IN ('MC3E_ASCII', 'MC3E_BINARY')),
        pool_size    INTEGER NOT NULL CHECK (pool_size BETWEEN 1 AND 32),
        ports        TEXT NOT NULL DEFAULT '',
        timeout_ms   INTEGER NOT NULL CHECK (timeout_ms >= 100),
        is_active    INTEGER NOT NULL CHECK (is_active IN (0, 1)),
        description  TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE polling_groups (
        plc_code       TEXT NOT NULL REFERENCES plcs(plc_code),
        group_name     TEXT NOT NULL,
        mode           TEXT NOT NULL CHECK (mode IN ('FIXED', 'HANDSHAKE')),
        interval_ms    INTEGER NOT NULL CHECK (interval_ms >= 100),
        trigger_device TEXT NOT NULL DEFAULT '',
        ack_device     TEXT NOT NULL DEFAULT '',
        is_active      INTEGER NOT NULL CHECK (is_active IN (0, 1)),
        PRIMARY KEY (plc_code, group_name)
    );
    CREATE TABLE tags (
        plc_code    TEXT NOT NULL,
        group_name  TEXT NOT NULL,
        tag_name    TEXT NOT NULL,
        address     TEXT NOT NULL,
        data_type   TEXT NOT NULL,
        scale       REAL,
        "offset"    REAL,
        unit        TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (plc_code, tag_name),
        FOREIGN KEY (plc_code, group_name) REFERENCES polling_groups(plc_code, group_name)
    );
    CREATE INDEX tags_by_group ON tags(plc_code, group_name);
    """,
    # 1 -> 2: per PLC, the frame (MC4E_*), the transport, the 0406 switch and the peer's deviations.
    """
    CREATE TABLE plcs_v2 (
        plc_code     TEXT PRIMARY KEY CHECK (length(plc_code) = 14),
        process_code TEXT NOT NULL REFERENCES processes(process_code),
        host         TEXT NOT NULL,
        port         INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
        protocol     TEXT NOT NULL CHECK (protocol IN ('MC3E_ASCII', 'MC3E_BINARY', 'MC4E_ASCII', 'MC4E_BINARY')),
        pool_size    INTEGER NOT NULL CHECK (pool_size BETWEEN 1 AND 32),
        ports        TEXT NOT NULL DEFAULT '',
        timeout_ms   INTEGER NOT NULL CHECK (timeout_ms >= 100),
        is_active    INTEGER NOT NULL CHECK (is_active IN (0, 1)),
        description  TEXT NOT NULL DEFAULT '',
        transport    TEXT NOT NULL DEFAULT 'TCP' CHECK (transport IN ('TCP', 'UDP')),
        multi_block_read INTEGER NOT NULL DEFAULT 1 CHECK (multi_block_read IN (0, 1)),
        deviations   TEXT NOT NULL DEFAULT ''
    );
    INSERT INTO plcs_v2 (plc_code, process_code, host, port, protocol, pool_size, ports, timeout_ms, is_active,
                         description)
        SELECT plc_code, process_code, host, port, protocol, pool_size, ports, timeout_ms, is_active, description
        FROM plcs;
    DROP TABLE plcs;
    ALTER TABLE plcs_v2 RENAME TO plcs;
    """,
    # 2 -> 3: writes to the PLC -- a tag is written only when marked writable, within its optional limits
    # (engineering units, after scale and offset).
    """
    ALTER TABLE tags ADD COLUMN writable INTEGER NOT NULL DEFAULT 0 CHECK (writable IN (0, 1));
    ALTER TABLE tags ADD COLUMN "min" REAL;
    ALTER TABLE tags ADD COLUMN "max" REAL;
    """,
    # 3 -> 4: report by exception: a deadband per tag, a maximum interval per group (NULL: off / the default).
    """
    ALTER TABLE tags ADD COLUMN deadband REAL CHECK (deadband >= 0);
    ALTER TABLE polling_groups ADD COLUMN max_interval_ms INTEGER CHECK (max_interval_ms >= 100);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


class StoreVersionError(RuntimeError):
    """The store was written by a newer build than this one."""


def connect(path: Path | str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)  # explicit BEGIN/COMMIT only
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the store to SCHEMA_VERSION; returns the version it had."""
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found > SCHEMA_VERSION:
        raise StoreVersionError(f"config store has schema version {found}; this build knows up to {SCHEMA_VERSION}")
    if found == SCHEMA_VERSION:
        return found
    conn.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction, so before BEGIN
    conn.execute("BEGIN IMMEDIATE")
    try:
        for version in range(found, SCHEMA_VERSION):
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
        broken = conn.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise sqlite3.IntegrityError(f"migration left {len(broken)} broken references, e.g. {tuple(broken[0])}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute("PRAGMA foreign_keys = ON")
    return found


def open_store(path: Path | str) -> sqlite3.Connection:
    """Open (creating if missing) and migrate the config store at ``path``."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path)
    migrate(conn)
    return conn
