"""``scada db import --prune`` and what an import changes for the pollers, dry run or not.

Each case starts from the sample plant, exports it, edits the files as an
operator would, and imports them again.
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from common.config_store import model
from common.config_store.csv_import import ImportFailed, export_csv, import_csv
from common.config_store.schema import open_store
from tests.helpers import SAMPLE

A, B, C = "KRCWO12ELOA101", "KRCWO12ELOA102", "KRCWO12WELD201"
Rows = list[dict[str, str]]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = open_store(tmp_path / "scada.db")
    import_csv(conn, [SAMPLE])
    yield conn
    conn.close()


def edited(conn: sqlite3.Connection, folder: Path, **edits: Callable[[Rows], Rows]) -> Path:
    """The store exported to ``folder``, each file named in ``edits`` passed through its function."""
    export_csv(conn, folder)
    for name, edit in edits.items():
        path = folder / f"{name}.csv"
        with path.open(encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header, rows = list(reader.fieldnames or []), list(reader)
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, header, lineterminator="\n")
            writer.writeheader()
            writer.writerows(edit(rows))
    return folder


def snapshot(conn: sqlite3.Connection) -> tuple[object, ...]:
    return (model.load_plcs(conn), model.load_groups(conn), model.load_tags(conn))


def without(**match: str) -> Callable[[Rows], Rows]:
    return lambda rows: [r for r in rows if any(r[k] != v for k, v in match.items())]


def changing(change: dict[str, str], **match: str) -> Callable[[Rows], Rows]:
    return lambda rows: [({**r, **change} if all(r[k] == v for k, v in match.items()) else r) for r in rows]


def test_prune_removes_a_tag_no_file_holds_and_dry_run_changes_nothing(store: sqlite3.Connection,
                                                                     tmp_path: Path) -> None:
    folder = edited(store, tmp_path / "csv", tags=without(plc_code=A, tag_name="ALARM_000"))
    before = snapshot(store)
    kept = import_csv(store, [folder])  # without --prune: nothing is removed
    assert kept.tables["tags"].removed == 0 and not kept.pollers and snapshot(store) == before
    dry = import_csv(store, [folder], prune=True, dry_run=True)
    assert dry.tables["tags"].removed == 1 and "1 removed" in dry.summary()
    assert dry.pollers.reload == [A] and not (dry.pollers.start or dry.pollers.stop or dry.pollers.restart)
    assert snapshot(store) == before
    done = import_csv(store, [folder], prune=True)
    assert done.summary() == dry.summary() and done.pollers == dry.pollers
    assert [t.tag_name for t in model.load_tags(store, A) if t.tag_name == "ALARM_000"] == []
    assert len(model.load_tags(store)) == len(before[2]) - 1  # type: ignore[arg-type]


def test_prune_removes_a_plc_with_its_groups_and_tags(store: sqlite3.Connection, tmp_path: Path) -> None:
    folder = edited(store, tmp_path / "csv", plcs=without(plc_code=C), polling_groups=without(plc_code=C),
                    tags=without(plc_code=C))
    report = import_csv(store, [folder], prune=True)
    assert report.pollers.stop == [C] and report.pollers.reload == []
    assert report.rows[0] == f"plcs removed: {C}" and report.rows[1].startswith(f"polling_groups removed: {C}/")
    assert report.rows[2].startswith("tags removed: ") and report.rows[2].endswith(" ... and 450 more")
    assert report.tables["plcs"].removed == 1 and report.tables["polling_groups"].removed == 4
    assert model.load_plc(store, C) is None and model.load_groups(store, C) == [] and model.load_tags(store, C) == []
    assert store.execute("PRAGMA foreign_key_check").fetchall() == []


def test_prune_refuses_to_leave_rows_of_a_table_not_given(store: sqlite3.Connection, tmp_path: Path) -> None:
    folder = edited(store, tmp_path / "csv", plcs=without(plc_code=C))
    only_plcs = folder / "plcs.csv"
    before = snapshot(store)
    with pytest.raises(ImportFailed) as failure:
        import_csv(store, [only_plcs], prune=True)
    [issue] = failure.value.issues
    assert issue.path == str(only_plcs) and issue.column == "plc_code"
    assert f"remove plc {C}" in issue.message and "4 stored polling_groups row(s)" in issue.message
    assert snapshot(store) == before


def test_a_row_referring_to_a_pruned_row_is_refused(store: sqlite3.Connection, tmp_path: Path) -> None:
    folder = edited(store, tmp_path / "csv", polling_groups=without(plc_code=A, group_name="SLOW_10S"))
    before = snapshot(store)
    with pytest.raises(ImportFailed) as failure:
        import_csv(store, [folder], prune=True)
    issue = failure.value.issues[0]
    assert issue.path.endswith("tags.csv") and issue.column == "group_name"
    assert f"unknown polling group {A}/SLOW_10S, which --prune removes" in issue.message
    assert snapshot(store) == before


def test_the_pollers_each_change_touches(store: sqlite3.Connection, tmp_path: Path) -> None:
    new_plc = {"plc_code": "KRCWO12ELOA109", "process_code": "ELOA", "host": "127.0.0.1", "port": "15109",
               "protocol": "MC3E_BINARY", "pool_size": "2", "ports": "", "timeout_ms": "3000", "is_active": "1",
               "description": "new", "transport": "TCP", "multi_block_read": "1", "deviations": ""}
    folder = edited(
        store, tmp_path / "csv",
        plcs=lambda rows: [*changing({"is_active": "0"}, plc_code=C)(rows), new_plc],
        polling_groups=changing({"interval_ms": "2000"}, plc_code=B, group_name="FAST_1S"),
        tags=changing({"address": "M4000"}, plc_code=A, tag_name="ALARM_000"))
    report = import_csv(store, [folder], dry_run=True)
    assert report.pollers.as_dict() == {"start": ["KRCWO12ELOA109"], "stop": [C], "restart": [], "reload": [A, B]}
    assert report.rows == ["plcs added: KRCWO12ELOA109", f"plcs changed: {C}", f"polling_groups changed: {B}/FAST_1S",
                           f"tags changed: {A}/ALARM_000"]
    assert report.pollers.lines("would ") == ["pollers would start: KRCWO12ELOA109", f"pollers would stop: {C}",
                                              f"pollers would reload: {A} {B}"]
    moved = edited(store, tmp_path / "moved", plcs=changing({"port": "15999", "description": "x"}, plc_code=A))
    assert import_csv(store, [moved]).pollers.as_dict() == {"start": [], "stop": [], "restart": [A], "reload": []}
    described = edited(store, tmp_path / "described", plcs=changing({"description": "y"}, plc_code=B))
    assert import_csv(store, [described]).pollers.reload == [B]
