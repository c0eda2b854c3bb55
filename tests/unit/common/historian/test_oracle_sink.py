"""The Oracle sink against a connection that fails on purpose at the driver boundary.

The fake pool, connection and cursor stand where python-oracledb's are and
raise the driver's own exception type with the driver's own error objects.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import oracledb
import pytest
from oracledb.errors import _Error

from common.historian.oracle_sink import INSERT, OracleSink, bind
from common.historian.rows import Row
from common.historian.sink import SinkUnavailable
from common.settings import Settings
from common.times import ms_of_iso
from services.writer.backup import BackupStore
from services.writer.writer_service import WriterService


def driver_error(message: str, code: int = 0, offset: int = 0, recoverable: bool = False) -> oracledb.DatabaseError:
    return oracledb.DatabaseError(_Error(message, code=code, offset=offset, isrecoverable=recoverable))


DEAD = "DPY-4011: the database or network closed the connection"


def unique_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """TAG_DATA_UK of sql/oracle/tag_data.sql: (plc_code, tag_address, ts, group_name, cycle)."""
    return (row[1], row[2], row[0], row[6], row[7])


class FakeCursor:
    def __init__(self, connection: FakeConnection) -> None:
        self.connection = connection
        self.batch_errors: list[_Error] = []

    def __enter__(self) -> FakeCursor:
        return self

    def __exit__(self, *args: object) -> None:
        pass

    def executemany(self, sql: str, binds: list[tuple[Any, ...]], batcherrors: bool = False) -> None:
        pool = self.connection.pool
        assert batcherrors, "the sink must ask for batch errors"
        pool.statements.append((sql, binds))
        failure = pool.failures.pop(0) if pool.failures else None
        if failure is not None:
            raise failure
        self.batch_errors = []
        for offset, row in enumerate(binds):
            key = unique_key(row)
            if key in pool.table or key in {unique_key(b) for b in binds[:offset]}:
                self.batch_errors.append(_Error("ORA-00001: unique constraint (TAG_DATA_UK) violated",
                                                code=1, offset=offset))
            elif row[5] == "BAD_CHECK":
                self.batch_errors.append(_Error("ORA-02290: check constraint (QUALITY_CK) violated",
                                                code=2290, offset=offset))
            else:
                self.connection.pending[key] = row

    def getbatcherrors(self) -> list[_Error]:
        return self.batch_errors

    def execute(self, sql: str, params: tuple[Any, ...]) -> None:
        """The two queries of scada account, answered from the committed rows as Oracle would."""
        table = self.connection.pool.table.values()
        self.connection.pool.statements.append((sql, [params]))
        if "GROUP BY" in sql:
            counts: dict[tuple[Any, ...], int] = {}
            for row in table:
                if params[0] <= row[0] < params[1]:
                    counts[(row[1], row[6], row[7])] = counts.get((row[1], row[6], row[7]), 0) + 1
            self.result = [(*k, n) for k, n in counts.items()]
        else:  # ts, plc_code, group_name, cycle
            self.result = [(row[2],) for row in table if (row[0], row[1], row[6], row[7]) == params]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.result


class FakeConnection:
    def __init__(self, pool: FakePool, number: int) -> None:
        self.pool, self.number = pool, number
        self.pending: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self.call_timeout = 0

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def commit(self) -> None:
        self.pool.table.update(self.pending)
        self.pending = {}
        self.pool.commits += 1

    def rollback(self) -> None:
        self.pending = {}
        self.pool.rollbacks += 1


class FakePool:
    def __init__(self) -> None:
        self.table: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self.statements: list[tuple[str, list[tuple[Any, ...]]]] = []
        self.failures: list[BaseException | None] = []
        self.acquire_failures: list[BaseException] = []
        self.opened = 0
        self.dropped: list[int] = []
        self.released: list[int] = []
        self.commits = self.rollbacks = 0

    def acquire(self) -> FakeConnection:
        if self.acquire_failures:
            raise self.acquire_failures.pop(0)
        self.opened += 1
        return FakeConnection(self, self.opened)

    def release(self, connection: FakeConnection) -> None:
        self.released.append(connection.number)

    def drop(self, connection: FakeConnection) -> None:
        self.dropped.append(connection.number)

    def close(self, force: bool = False) -> None:
        pass


def rows(n: int = 5, quality: str = "GOOD") -> list[Row]:
    """One value of each of ``n`` cycles (cycle 7 + i, read i ms apart)."""
    return [Row(f"2026-11-23T03:36:00.{i:03d}Z", "KRCWO12ELOA101", f"D{i}", i * 1.5 if i % 2 else f"S{i}", quality,
                "FAST_1S", 7 + i) for i in range(n)]


@pytest.fixture
def pool() -> FakePool:
    return FakePool()


@pytest.fixture
def sink(pool: FakePool) -> OracleSink:
    return OracleSink(lambda: pool)


def test_one_array_insert_per_batch_with_oracle_binds(sink: OracleSink, pool: FakePool) -> None:
    result = sink.write(rows(5))
    assert (result.inserted, result.duplicates, result.rejected) == (5, 0, [])
    assert len(pool.statements) == 1
    sql, binds = pool.statements[0]
    assert sql == INSERT == ("INSERT INTO TAG_DATA (ts, plc_code, tag_address, tag_value, tag_text, quality, "
                             "group_name, cycle) VALUES (:1, :2, :3, :4, :5, :6, :7, :8)")
    assert binds[0] == (datetime(2026, 11, 23, 3, 36, 0, 0), "KRCWO12ELOA101", "D0", None, "S0", "GOOD",
                        "FAST_1S", 7)
    assert binds[1][3:5] == (1.5, None)
    assert pool.commits == 1 and pool.released == [1]


def test_duplicates_are_skipped_and_counted(sink: OracleSink, pool: FakePool) -> None:
    sink.write(rows(3))
    result = sink.write(rows(5))
    assert (result.inserted, result.duplicates) == (2, 3)
    assert len(pool.table) == 5


def test_two_reads_of_one_address_at_one_instant_are_both_stored(sink: OracleSink, pool: FakePool) -> None:
    """Two groups reading D0 in the same millisecond, and a cycle of a group whose clock stepped back onto
    an earlier cycle's ts: different identities, so no ORA-00001; the same cycle again is one."""
    first = Row("2026-11-23T03:36:00.000Z", "KRCWO12ELOA101", "D0", 1, "GOOD", "FAST_1S", 7)
    other_group = first._replace(group_name="BATCH_HS", cycle=3, tag_value=2)
    stepped_back = first._replace(cycle=90, tag_value=3)
    result = sink.write([first, other_group, stepped_back])
    assert (result.inserted, result.duplicates) == (3, 0)
    assert sink.write([first]).duplicates == 1 and len(pool.table) == 3


def test_other_integrity_errors_are_rejected_with_their_reason(sink: OracleSink, pool: FakePool) -> None:
    batch = rows(4)
    batch[2] = batch[2]._replace(quality="BAD_CHECK")
    result = sink.write(batch)
    assert result.inserted == 3 and result.duplicates == 0
    assert [(r.tag_address, "ORA-02290" in reason) for r, reason in result.rejected] == [("D2", True)]
    assert len(pool.table) == 3


def test_a_dead_connection_is_dropped_and_the_batch_sent_again_on_a_fresh_one(sink: OracleSink,
                                                                                pool: FakePool) -> None:
    pool.failures = [driver_error(DEAD, recoverable=True)]
    result = sink.write(rows(5))
    assert result.inserted == 5
    assert pool.dropped == [1] and pool.released == [2] and pool.rollbacks == 1
    assert len(pool.statements) == 2 and len(pool.table) == 5


def test_lost_contact_twice_makes_the_sink_unavailable(sink: OracleSink, pool: FakePool) -> None:
    pool.failures = [driver_error("ORA-03113: end-of-file on communication channel", code=3113),
                     driver_error("DPY-4024: call timeout of 10000 ms exceeded")]
    with pytest.raises(SinkUnavailable, match="DPY-4024"):
        sink.write(rows(5))
    assert pool.dropped == [1, 2] and not pool.table and pool.commits == 0


def test_no_connection_to_be_had(sink: OracleSink, pool: FakePool) -> None:
    pool.acquire_failures = [driver_error("DPY-6005: cannot connect to database")]
    with pytest.raises(SinkUnavailable, match="DPY-6005"):
        sink.write(rows(1))


def test_a_non_connection_error_is_not_sent_twice(sink: OracleSink, pool: FakePool) -> None:
    pool.failures = [driver_error("ORA-00942: table or view does not exist", code=942)]
    with pytest.raises(SinkUnavailable, match="ORA-00942"):
        sink.write(rows(2))
    assert len(pool.statements) == 1 and pool.released == [1] and pool.dropped == []


def test_writer_retries_then_backs_up_then_replays(tmp_path: Path, pool: FakePool) -> None:
    settings = Settings(scada_data_dir=tmp_path, oracle_retry_max=2, buffer_batch_size=3,
                        _env_file=None)
    writer = WriterService(settings, sink=OracleSink(lambda: pool))
    writer.retry_delays = (0.01, 0.02)  # the schedule 1, 2, 4 s, shortened for the test
    outage = driver_error("DPY-6005: cannot connect to database")
    pool.acquire_failures = [outage, outage, outage]
    batch = rows(5)
    assert writer.store(batch, threading.Event()) == "backed_up"
    assert writer.metrics.retries == 2 and writer.metrics.figures(0)["failed_writes"] == 3
    backups = BackupStore(settings.backup_dir)
    pending = backups.pending()
    assert len(pending) == 1 and pending[0].name.startswith("backup_")
    assert backups.read(pending[0]) == batch  # every value, with its type, survives the CSV
    assert writer.replay(threading.Event()) == 5
    assert not backups.pending() and len(list(backups.replayed.iterdir())) == 1
    assert len(pool.table) == 5
    assert writer.replay(threading.Event()) == 0


def test_stopping_during_retries_backs_up_at_once(tmp_path: Path, pool: FakePool) -> None:
    settings = Settings(scada_data_dir=tmp_path, _env_file=None)
    writer = WriterService(settings, sink=OracleSink(lambda: pool))
    pool.acquire_failures = [driver_error("DPY-6005: cannot connect to database")] * 10
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    import time

    started = time.monotonic()
    assert writer.store(rows(3), stop) == "backed_up"
    assert time.monotonic() - started < 1.0  # not the whole 1 + 2 + 4 s
    assert len(writer.backups.pending()) == 1


def test_oracle_binds_convert_every_kind_of_value() -> None:
    row = Row("2026-11-23T03:36:00.123Z", "KRCWO12ELOA101", "D1", None, "BAD_TIMEOUT", "G", 1 << 32 | 1)
    assert bind(row)[0] == datetime(2026, 11, 23, 3, 36, 0, 123000)
    assert bind(row)[3:6] == (None, None, "BAD_TIMEOUT")
    assert bind(row._replace(tag_value=7))[3:5] == (7, None)
    assert bind(row)[7] == 1 << 32 | 1  # the cycle number, 64 bits, NUMBER(19)


def test_the_accounting_queries_bind_naive_utc_timestamps_and_count_by_cycle() -> None:

    pool = FakePool()
    sink = OracleSink(lambda: pool)
    sink.write(rows(5))
    t0 = ms_of_iso("2026-11-23T03:36:00.000Z")
    assert sink.cycle_counts(t0 + 1, t0 + 4) == {("KRCWO12ELOA101", "FAST_1S", 7 + i): 1 for i in (1, 2, 3)}
    sql, [params] = pool.statements[-1]
    assert "GROUP BY plc_code, group_name, cycle" in sql and ":1" in sql
    assert params == (datetime(2026, 11, 23, 3, 36, 0, 1000), datetime(2026, 11, 23, 3, 36, 0, 4000))
    assert sink.addresses(("KRCWO12ELOA101", "FAST_1S", 9), t0 + 2) == {"D2"}
    assert sink.addresses(("KRCWO12ELOA101", "FAST_1S", 8), t0 + 2) == set()
    assert pool.released and not pool.dropped  # every connection went back to the pool
