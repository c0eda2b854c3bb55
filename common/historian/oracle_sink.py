"""The Oracle historian: python-oracledb in thin mode (no Instant Client).

Strategy: a pool (ORACLE_POOL_MIN..ORACLE_POOL_MAX, pinged when idle), a
call timeout on every round trip, and one ``executemany`` per batch with
batch errors on, so one round trip stores the batch and the rows the server
refuses come back one by one: ORA-00001 (the unique key: the row is there
already) is counted as a duplicate, any other row error is a rejected row
with its reason. An error that means the connection is dead (DPY-4011 and
the other recoverable or connection errors) drops that connection from the
pool and sends the batch once more on a fresh one; if that fails too the
sink is unavailable and the writer's retries take over. Nothing is committed
unless the whole batch went through.

Strings (STRING tags) go to ``tag_text``; numbers to ``tag_value`` (NUMBER).
The table is created by ``sql/oracle/tag_data.sql``.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import oracledb

from common.historian.rows import ADDRESSES, CYCLE_COUNTS, Row, insert_statement
from common.historian.sink import CycleKey, SinkUnavailable, WriteResult
from common.settings import Settings

log = logging.getLogger("writer.oracle")

ORACLE_COLUMNS = ("ts", "plc_code", "tag_address", "tag_value", "tag_text", "quality", "group_name", "cycle")
INSERT = insert_statement(ORACLE_COLUMNS, ":{n}")
DUPLICATE = 1  # ORA-00001: unique constraint violated
#: Errors that mean "this connection (or the network) is gone", beyond those the driver marks recoverable.
DEAD_CONNECTION = {"DPY-1001", "DPY-4011", "DPY-4024", "DPY-6005", "ORA-03113", "ORA-03114", "ORA-03135",
                   "ORA-02396", "ORA-12170", "ORA-12541", "ORA-12514"}
CALL_TIMEOUT_MS = 10_000
EPOCH = datetime(1970, 1, 1)
PING_INTERVAL_S = 30


def bind(row: Row) -> tuple[Any, ...]:
    """A historian row as Oracle binds it."""
    ts = datetime.strptime(row.ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).replace(tzinfo=None)
    value, text = row.tag_value, None
    if isinstance(value, str):
        value, text = None, value
    elif isinstance(value, bool):
        value = int(value)
    return (ts, row.plc_code, row.tag_address, value, text, row.quality, row.group_name, row.cycle)


def naive_utc(ts_ms: int) -> datetime:
    """Unix ms as the naive UTC datetime a TIMESTAMP column holds."""
    return EPOCH + timedelta(milliseconds=ts_ms)


def ms_of_naive_utc(at: datetime) -> int:
    return (at - EPOCH) // timedelta(milliseconds=1)


def _error_of(exc: BaseException) -> Any:
    return exc.args[0] if exc.args else None


def is_dead_connection(exc: BaseException) -> bool:
    error = _error_of(exc)
    if error is None:
        return False
    if getattr(error, "isrecoverable", False) or getattr(error, "is_session_dead", False):
        return True
    code = getattr(error, "full_code", "") or ""
    return code in DEAD_CONNECTION


def make_pool(settings: Settings) -> Any:
    """The production pool, thin mode; created on first use, not at import."""
    dsn = oracledb.makedsn(settings.oracle_host, settings.oracle_port, service_name=settings.oracle_service_name)
    return oracledb.create_pool(
        user=settings.oracle_username, password=settings.oracle_password.get_secret_value(), dsn=dsn,
        min=settings.oracle_pool_min, max=settings.oracle_pool_max, increment=1,
        ping_interval=PING_INTERVAL_S, getmode=oracledb.POOL_GETMODE_TIMEDWAIT, wait_timeout=5000,
        tcp_connect_timeout=5.0, retry_count=0,
    )


class OracleSink:
    name = "oracle"

    def __init__(self, pool_factory: Any) -> None:
        """``pool_factory()`` returns a pool with acquire/release/drop (python-oracledb's, or a test's)."""
        self._pool_factory = pool_factory
        self._pool: Any = None

    @classmethod
    def from_settings(cls, settings: Settings) -> OracleSink:
        return cls(lambda: make_pool(settings))

    def _acquire(self) -> Any:
        if self._pool is None:
            self._pool = self._pool_factory()
        connection = self._pool.acquire()
        connection.call_timeout = CALL_TIMEOUT_MS
        return connection

    def write(self, rows: list[Row]) -> WriteResult:
        binds = [bind(r) for r in rows]
        for attempt in (1, 2):
            try:
                connection = self._acquire()
            except oracledb.Error as error:
                raise SinkUnavailable(f"Oracle: cannot get a connection: {error}") from None
            try:
                result = self._insert(connection, rows, binds)
            except oracledb.Error as error:
                dead = is_dead_connection(error)
                self._give_back(connection, dead)
                if dead and attempt == 1:
                    log.warning("Oracle connection lost (%s); sending the batch again on a fresh one", error)
                    continue
                raise SinkUnavailable(f"Oracle: {error}") from None
            self._give_back(connection, False)
            return result
        raise AssertionError("unreachable")

    def _insert(self, connection: Any, rows: list[Row], binds: list[tuple[Any, ...]]) -> WriteResult:
        try:
            with connection.cursor() as cursor:
                cursor.executemany(INSERT, binds, batcherrors=True)
                errors = cursor.getbatcherrors()
            duplicates = 0
            rejected: list[tuple[Row, str]] = []
            for error in errors:
                if error.code == DUPLICATE:
                    duplicates += 1
                else:
                    rejected.append((rows[error.offset], error.message))
            connection.commit()
        except BaseException:
            with contextlib.suppress(oracledb.Error):  # the connection is going away anyway
                connection.rollback()
            raise
        return WriteResult(len(rows) - duplicates - len(rejected), duplicates, rejected)

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        connection = self._acquire()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                rows: list[tuple[Any, ...]] = cursor.fetchall()
        finally:
            self._give_back(connection, False)
        return rows

    def cycle_counts(self, since_ms: int, until_ms: int) -> dict[CycleKey, int]:
        rows = self._query(CYCLE_COUNTS.format(a=":1", b=":2"), (naive_utc(since_ms), naive_utc(until_ms)))
        return {(plc, group, int(cycle)): int(n) for plc, group, cycle, n in rows}

    def addresses(self, key: CycleKey, ts_ms: int) -> set[str]:
        sql = ADDRESSES.format(a=":1", b=":2", c=":3", d=":4")
        return {a for (a,) in self._query(sql, (naive_utc(ts_ms), *key))}

    def _give_back(self, connection: Any, dead: bool) -> None:
        try:
            if dead:
                self._pool.drop(connection)
            else:
                self._pool.release(connection)
        except oracledb.Error as error:
            log.info("returning a connection to the pool failed: %s", error)

    def close(self) -> None:
        if self._pool is not None:
            try:
                self._pool.close(force=True)
            except oracledb.Error as error:
                log.info("closing the pool: %s", error)
            self._pool = None


def make_sink(settings: Settings) -> Any:
    """Oracle when ORACLE_HOST and ORACLE_SERVICE_NAME are set, otherwise the SQLite file."""
    if settings.oracle_configured:
        return OracleSink.from_settings(settings)
    from common.historian.sqlite_sink import SqliteSink

    return SqliteSink(settings.historian_db, keep_days=settings.historian_keep_days)
