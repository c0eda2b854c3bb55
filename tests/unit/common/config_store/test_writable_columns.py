"""tags.csv's writable, min and max: optional columns, checked with file, line and column; old files still import."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.config_store import model
from common.config_store.csv_import import ImportFailed, export_csv, import_csv
from common.config_store.schema import open_store
from tests.helpers import SAMPLE

HEADER = "plc_code,group_name,tag_name,address,data_type,scale,offset,unit,description,writable,min,max\n"
PLC = "KRCWO12ELOA101"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = open_store(tmp_path / "scada.db")
    import_csv(conn, [SAMPLE])
    yield conn
    conn.close()


def test_writable_tags_with_limits_import_and_export_back(store: sqlite3.Connection, tmp_path: Path) -> None:
    path = tmp_path / "tags.csv"
    path.write_text(HEADER + f"{PLC},FAST_1S,SP_TEMP,D9500,INT16,0.1,-40,degC,setpoint,1,-40,150.5\n"
                    f"{PLC},FAST_1S,SP_RUN,M900,BIT,,,,,yes,,\n{PLC},FAST_1S,RO,D9501,INT16,,,,,,,\n")
    import_csv(store, [path])
    tags = {t.tag_name: t for t in model.load_tags(store, PLC)}
    assert (tags["SP_TEMP"].writable, tags["SP_TEMP"].min, tags["SP_TEMP"].max) == (True, -40.0, 150.5)
    assert tags["SP_RUN"].writable and not tags["RO"].writable and tags["RO"].min is None
    out = export_csv(store, tmp_path / "out")
    text = next(p for p in out if p.name == "tags.csv").read_text(encoding="utf-8")
    assert text.startswith(HEADER) and f"{PLC},FAST_1S,SP_TEMP,D9500,INT16,0.1,-40,degC,setpoint,1,-40,150.5\n" in text


def test_a_file_without_the_columns_imports_and_its_tags_are_not_writable(store: sqlite3.Connection,
                                                                          tmp_path: Path) -> None:
    path = tmp_path / "tags.csv"
    path.write_text("plc_code,group_name,tag_name,address,data_type,scale,offset,unit,description\n"
                    f"{PLC},FAST_1S,OLD_STYLE,D9502,INT16,,,,\n")
    import_csv(store, [path])
    (tag,) = [t for t in model.load_tags(store, PLC) if t.tag_name == "OLD_STYLE"]
    assert not tag.writable and tag.min is None and tag.max is None


@pytest.mark.parametrize(("row", "column", "words"), [
    ("D9503,INT16,,,,,1,10,5", "max", "below min 10"),
    ("D9503,INT16,,,,,2,,", "writable", "1 or 0"),
    ("D9503,INT16,,,,,1,low,", "min", "not a number"),
    ("D9503,STRING[2],,,,,1,0,", "min", "numeric types"),
    ("M901,BIT,,,,,1,,1", "max", "numeric types"),
    ("D9503,INT16,0,,,,1,,", "scale", "scale other than 0"),
])
def test_bad_write_columns_name_file_line_and_column(store: sqlite3.Connection, tmp_path: Path, row: str,
                                                      column: str, words: str) -> None:
    path = tmp_path / "tags.csv"
    path.write_text(HEADER + f"{PLC},FAST_1S,BAD,{row}\n")
    with pytest.raises(ImportFailed) as failed:
        import_csv(store, [path])
    (issue,) = failed.value.issues
    assert (issue.line, issue.column) == (2, column) and words in issue.message, issue
