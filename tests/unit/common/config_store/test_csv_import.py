"""CSV registration: every bad input is rejected with file:line:column and changes nothing."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.config_store import model, schema
from common.config_store.csv_import import ImportFailed, export_csv, import_csv
from common.config_store.schema import open_store
from tests.helpers import SAMPLE

LINES = "line_code,line_name\n"
PROCESSES = "process_code,line_code,process_name\n"
PLCS = "plc_code,process_code,host,port,protocol,pool_size,ports,timeout_ms,is_active,description\n"
GROUPS = "group_name,plc_code,mode,interval_ms,trigger_device,ack_device,is_active\n"
TAGS = "plc_code,group_name,tag_name,address,data_type,scale,offset,unit,description\n"
PLC = "KRCWO12ELOA101"


def plc_row(code: str = "KRCWO12ELOA109", host: str = "10.0.0.9", port: str = "5009", protocol: str = "MC3E_ASCII",
            pool: str = "5", ports: str = "") -> str:
    return f"{code},ELOA,{host},{port},{protocol},{pool},{ports},3000,1,\n"


def group_row(name: str = "NEW", mode: str = "FIXED", interval: str = "1000", trigger: str = "", ack: str = "") -> str:
    return f"{name},{PLC},{mode},{interval},{trigger},{ack},1\n"


def tag_row(address: str = "D500", dtype: str = "INT16", name: str = "NEW_TAG", group: str = "FAST_1S") -> str:
    return f"{PLC},{group},{name},{address},{dtype},,,,\n"


# (case, file name, content, line, column, words of the message)
BAD = [
    ("missing header column", "lines.csv", "line_code\nL2\n", 1, "line_name", "missing column"),
    ("unknown header column", "lines.csv", "line_code,line_name,colour\nL2,x,red\n", 1, "colour", "unknown column"),
    ("wrong headers", "processes.csv", "code,line,name\nP,CWO12,x\n", 1, "process_code", "missing column"),
    ("short row", "lines.csv", LINES + "L2\n", 2, "line_name", "1 fields"),
    ("long row", "lines.csv", LINES + "L2,name,extra\n", 2, "#3", "3 fields"),
    ("empty required field", "lines.csv", LINES + "L2,\n", 2, "line_name", "required"),
    ("equipment code of 13", "plcs.csv", PLCS + plc_row(code="KRCWO12ELOA10"), 2, "plc_code", "14"),
    ("equipment code of 15", "plcs.csv", PLCS + plc_row(code="KRCWO12ELOA1011"), 2, "plc_code", "14"),
    ("lowercase equipment code", "plcs.csv", PLCS + plc_row(code="krcwo12eloa109"), 2, "plc_code", "upper-case"),
    ("symbol in equipment code", "plcs.csv", PLCS + plc_row(code="KRCWO12-LOA109"), 2, "plc_code", "14"),
    ("duplicate key in a file", "tags.csv", TAGS + tag_row() + tag_row(address="D501"), 3, "tag_name",
     "duplicate key"),
    ("duplicate key against the store", "plcs.csv", PLCS + plc_row(host="127.0.0.1", port="15101"), 2, "port",
     "already uses this host and port"),
    ("unknown line", "processes.csv", PROCESSES + "P9,NOLINE,x\n", 2, "line_code", "unknown line NOLINE"),
    ("unknown group", "tags.csv", TAGS + tag_row(group="NO_SUCH_GROUP"), 2, "group_name", "unknown polling group"),
    ("unknown process", "plcs.csv", PLCS + "KRCWO12ELOA109,NOPROC,10.0.0.9,5009,,,,,,\n", 2, "process_code",
     "unknown process"),
    ("port out of range", "plcs.csv", PLCS + plc_row(port="70000"), 2, "port", "1 to 65535"),
    ("port not a number", "plcs.csv", PLCS + plc_row(port="50a"), 2, "port", "whole number"),
    ("bad host", "plcs.csv", PLCS + plc_row(host="300.1.1.1"), 2, "host", "neither an IP"),
    ("host with a space", "plcs.csv", PLCS + plc_row(host="plc one"), 2, "host", "neither an IP"),
    ("unknown protocol", "plcs.csv", PLCS + plc_row(protocol="MC1E"), 2, "protocol", "MC3E_ASCII"),
    ("ports do not match the pool", "plcs.csv", PLCS + plc_row(pool="3", ports="5001;5002"), 2, "ports",
     "2 ports for a pool of 3"),
    ("bad port in ports", "plcs.csv", PLCS + plc_row(pool="2", ports="5001;0"), 2, "ports", "1 to 65535"),
    ("unknown mode", "polling_groups.csv", GROUPS + group_row(mode="CYCLIC"), 2, "mode", "FIXED, HANDSHAKE"),
    ("interval not whole", "polling_groups.csv", GROUPS + group_row(interval="1000.5"), 2, "interval_ms",
     "whole number"),
    ("interval below 100 ms", "polling_groups.csv", GROUPS + group_row(interval="50"), 2, "interval_ms",
     "100 to"),
    ("handshake without trigger", "polling_groups.csv", GROUPS + group_row(mode="HANDSHAKE"), 2,
     "trigger_device", "needs the PLC bit"),
    ("trigger that is a word", "polling_groups.csv", GROUPS + group_row(mode="HANDSHAKE", trigger="D100"), 2,
     "trigger_device", "must be a bit"),
    ("device that does not exist", "tags.csv", TAGS + tag_row(address="Q100"), 2, "address", "not a Q-series"),
    ("number out of range", "tags.csv", TAGS + tag_row(address="D1000000"), 2, "address", "goes up to"),
    ("hex digit on a decimal device", "tags.csv", TAGS + tag_row(address="D1A"), 2, "address", "decimal"),
    ("letter beyond F on a hex device", "tags.csv", TAGS + tag_row(address="W1G"), 2, "address", "hexadecimal"),
    ("word type on a bit device", "tags.csv", TAGS + tag_row(address="M600"), 2, "data_type", "bit device"),
    ("bit suffix on a bit device", "tags.csv", TAGS + tag_row(address="M0.1", dtype="BIT"), 2, "address",
     "bit device"),
    ("bit suffix beyond F", "tags.csv", TAGS + tag_row(address="D10.16", dtype="BIT"), 2, "address", "0-F"),
    ("BIT on a whole word", "tags.csv", TAGS + tag_row(address="D600", dtype="BIT"), 2, "data_type",
     "bit suffix"),
    ("unknown data type", "tags.csv", TAGS + tag_row(dtype="REAL"), 2, "data_type", "not a data type"),
    ("STRING without a length", "tags.csv", TAGS + tag_row(dtype="STRING"), 2, "data_type", "length in words"),
    ("value running past the device", "tags.csv", TAGS + tag_row(address="D999999", dtype="INT32"), 2, "address",
     "runs past"),
    ("same address twice in a group", "tags.csv", TAGS + tag_row(address="D0"), 2, "address",
     "already read by this group"),
    ("scale on a string", "tags.csv", f"{TAGS}{PLC},FAST_1S,TXT,D700,STRING[2],2,,,\n", 2, "scale", "numeric"),
    ("scale not a number", "tags.csv", f"{TAGS}{PLC},FAST_1S,NUM,D700,INT16,x,,,\n", 2, "scale", "not a number"),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Path, sqlite3.Connection]]:
    path = tmp_path / "scada.db"
    conn = open_store(path)
    import_csv(conn, [SAMPLE])
    yield path, conn
    conn.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(("case", "name", "content", "line", "column", "words"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_rejected_and_nothing_changes(store: tuple[Path, sqlite3.Connection], tmp_path: Path,
                                                   case: str, name: str, content: str, line: int, column: str,
                                                   words: str) -> None:
    path, conn = store
    before = digest(path)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / name).write_text(content, encoding="utf-8")
    # a good file beside the bad one: it must not be applied either
    if not (folder / "lines.csv").exists():
        (folder / "lines.csv").write_text(LINES + "L9,good line\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as failed:
        import_csv(conn, [folder])
    issues = failed.value.issues
    assert any(i.path.endswith(name) and i.line == line and i.column == column and words in i.message
               for i in issues), [str(i) for i in issues]
    assert str(issues[0]).startswith(str(folder / name)) or str(issues[0]).startswith(str(folder))
    assert digest(path) == before
    assert conn.execute("SELECT count(*) FROM lines WHERE line_code = 'L9'").fetchone()[0] == 0


def test_not_utf8_names_the_file(store: tuple[Path, sqlite3.Connection], tmp_path: Path) -> None:
    _, conn = store
    bad = tmp_path / "lines.csv"
    bad.write_bytes(LINES.encode() + "L2,조립\n".encode("cp949"))
    with pytest.raises(ImportFailed) as failed:
        import_csv(conn, [bad])
    assert "UTF-8" in str(failed.value.issues[0]) and str(bad) in str(failed.value.issues[0])


def test_every_error_of_a_run_is_reported(store: tuple[Path, sqlite3.Connection], tmp_path: Path) -> None:
    _, conn = store
    bad = tmp_path / "tags.csv"
    bad.write_text(TAGS + tag_row(address="Q1", name="A") + tag_row(dtype="REAL", name="B")
                   + tag_row(group="NOPE", name="C", address="D800") + tag_row(name="D", address="D801"),
                   encoding="utf-8")
    with pytest.raises(ImportFailed) as failed:
        import_csv(conn, [bad])
    assert [(i.line, i.column) for i in failed.value.issues] == [(2, "address"), (3, "data_type"), (4, "group_name")]


def test_bom_crlf_and_korean_text_survive(tmp_path: Path) -> None:
    conn = open_store(tmp_path / "scada.db")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "lines.csv").write_bytes(b"\xef\xbb\xbf" + "line_code,line_name\r\nK1,조립 1라인\r\n".encode())
    import_csv(conn, [tmp_path / "in"])
    assert conn.execute("SELECT line_name FROM lines").fetchone()[0] == "조립 1라인"


def test_files_are_applied_in_dependency_order_whatever_the_order_given(tmp_path: Path) -> None:
    conn = open_store(tmp_path / "scada.db")
    files = [SAMPLE / n for n in ("tags.csv", "polling_groups.csv", "plcs.csv", "processes.csv", "lines.csv")]
    report = import_csv(conn, files)
    assert report.tables["tags"].inserted == 1410


def test_reimport_changes_nothing_and_a_changed_row_updates(store: tuple[Path, sqlite3.Connection],
                                                            tmp_path: Path) -> None:
    path, conn = store
    before = digest(path)
    report = import_csv(conn, [SAMPLE])
    assert all(c.inserted == 0 and c.updated == 0 for c in report.tables.values())
    assert digest(path) == before
    changed = tmp_path / "polling_groups.csv"
    changed.write_text(GROUPS + f"FAST_1S,{PLC},FIXED,2000,,,1\n", encoding="utf-8")
    report = import_csv(conn, [changed])
    assert report.tables["polling_groups"].updated == 1
    assert [g.interval_ms for g in model.load_groups(conn, PLC) if g.group_name == "FAST_1S"] == [2000]


def test_dry_run_checks_but_changes_nothing(store: tuple[Path, sqlite3.Connection], tmp_path: Path) -> None:
    path, conn = store
    before = digest(path)
    good = tmp_path / "lines.csv"
    good.write_text(LINES + "L7,new\n", encoding="utf-8")
    report = import_csv(conn, [good], dry_run=True)
    assert report.tables["lines"].inserted == 1
    assert digest(path) == before


def test_export_import_export_gives_identical_files(store: tuple[Path, sqlite3.Connection], tmp_path: Path) -> None:
    _, conn = store
    first = tmp_path / "first"
    export_csv(conn, first)
    for name in ("lines", "processes", "plcs", "polling_groups", "tags"):
        assert (first / f"{name}.csv").read_bytes() == (SAMPLE / f"{name}.csv").read_bytes(), name
    fresh = open_store(tmp_path / "fresh.db")
    import_csv(fresh, [first])
    second = tmp_path / "second"
    export_csv(fresh, second)
    for name in ("lines", "processes", "plcs", "polling_groups", "tags"):
        assert (first / f"{name}.csv").read_bytes() == (second / f"{name}.csv").read_bytes(), name
    for table in ("lines", "processes", "plcs", "polling_groups", "tags"):
        query = f"SELECT * FROM {table} ORDER BY 1, 2"
        assert [tuple(r) for r in conn.execute(query)] == [tuple(r) for r in fresh.execute(query)]


def test_an_older_store_is_upgraded_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "scada.db"
    conn = open_store(path)
    import_csv(conn, [SAMPLE / "lines.csv"])
    conn.close()
    step = "ALTER TABLE lines ADD COLUMN note TEXT NOT NULL DEFAULT ''"
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, step])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))
    upgraded = schema.connect(path)
    assert schema.migrate(upgraded) == len(schema.MIGRATIONS) - 1
    assert upgraded.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)
    assert [tuple(r) for r in upgraded.execute("SELECT line_code, note FROM lines")] == [("CWO12", "")]
    upgraded.close()


def test_a_newer_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "scada.db"
    conn = open_store(path)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(schema.StoreVersionError):
        open_store(path)


def test_foreign_keys_are_enforced(store: tuple[Path, sqlite3.Connection]) -> None:
    _, conn = store
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("DELETE FROM plcs WHERE plc_code = ?", (PLC,))


def test_cli_reports_every_problem_and_exits_non_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from services.cli.main import main

    monkeypatch.setenv("SCADA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SCADA_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("SCADA_LOG_DIR", str(tmp_path / "logs"))
    assert main(["db", "import", str(SAMPLE)]) == 0
    bad = tmp_path / "tags.csv"
    bad.write_text(TAGS + tag_row(address="Q1", name="A") + tag_row(dtype="REAL", name="B"), encoding="utf-8")
    assert main(["db", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:2:address:" in err and f"{bad}:3:data_type:" in err and "nothing was imported" in err
    assert main(["db", "show", "--plc", PLC]) == 0
    out = capsys.readouterr().out
    assert "FAST_1S" in out and "150 tags" in out


def test_a_version_1_store_gains_the_plc_protocol_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "scada.db"
    conn = schema.connect(path)
    conn.executescript(schema.MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    conn.executescript(
        "INSERT INTO lines VALUES ('L1', 'line');"
        "INSERT INTO processes VALUES ('P1', 'L1', 'process');"
        "INSERT INTO plcs VALUES ('KRCWO12ELOA101', 'P1', '10.0.0.1', 5001, 'MC3E_BINARY', 2, '', 3000, 1, 'old');"
        "INSERT INTO polling_groups VALUES ('KRCWO12ELOA101', 'G', 'FIXED', 1000, '', '', 1);")
    assert schema.migrate(conn) == 1
    plc = model.load_plc(conn, "KRCWO12ELOA101")
    assert plc is not None and (plc.protocol, plc.description, plc.transport, plc.multi_block_read,
                                plc.deviations) == ("MC3E_BINARY", "old", "TCP", True, frozenset())
    conn.execute("UPDATE plcs SET protocol = 'MC4E_ASCII', transport = 'UDP'")  # the new values are allowed
    with pytest.raises(sqlite3.IntegrityError):  # and references are still enforced after the rebuild
        conn.execute("INSERT INTO polling_groups (plc_code, group_name, mode, interval_ms, trigger_device, "
                     "ack_device, is_active) VALUES ('KRCWO12ELOA999', 'G', 'FIXED', 1000, '', '', 1)")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE plcs SET transport = 'SERIAL'")


def test_a_plcs_file_without_the_newer_columns_imports_with_their_defaults(tmp_path: Path) -> None:
    plant = tmp_path / "plant"
    plant.mkdir()
    for name in ("lines", "processes"):
        (plant / f"{name}.csv").write_bytes((SAMPLE / f"{name}.csv").read_bytes())
    (plant / "plcs.csv").write_text(PLCS + plc_row(protocol="MC3E_BINARY"), encoding="utf-8")
    conn = open_store(tmp_path / "scada.db")
    import_csv(conn, [plant])
    plc = model.load_plc(conn, "KRCWO12ELOA109")
    assert plc is not None and (plc.transport, plc.multi_block_read, plc.deviations) == ("TCP", True, frozenset())


@pytest.mark.parametrize(("column", "value", "expected"), [
    ("protocol", "MC4E_BINARY", "protocol"), ("transport", "UDP", "transport"),
    ("deviations", "ascii_dwords_low_first;ascii_decimal_numbers", "deviations"),
])
def test_plcs_protocol_columns_round_trip(tmp_path: Path, column: str, value: str, expected: str) -> None:
    plant = tmp_path / "plant"
    plant.mkdir()
    for name in ("lines", "processes"):
        (plant / f"{name}.csv").write_bytes((SAMPLE / f"{name}.csv").read_bytes())
    header = PLCS.strip() + ",transport,multi_block_read,deviations\n"
    cells = {"protocol": "MC3E_ASCII", "transport": "TCP", "deviations": ""} | {column: value}
    row = f"KRCWO12ELOA109,ELOA,10.0.0.9,5009,{cells['protocol']},5,,3000,1,,{cells['transport']},0," \
          f"{cells['deviations']}\n"
    (plant / "plcs.csv").write_text(header + row, encoding="utf-8")
    conn = open_store(tmp_path / "scada.db")
    import_csv(conn, [plant])
    plc = model.load_plc(conn, "KRCWO12ELOA109")
    assert plc is not None and plc.multi_block_read is False
    stored = {"protocol": plc.protocol, "transport": plc.transport, "deviations": ";".join(sorted(plc.deviations))}
    assert stored[expected] == value if column != "deviations" else stored[expected] == (
        "ascii_decimal_numbers;ascii_dwords_low_first")


def test_a_version_1_store_read_without_migrating_gives_plcs_with_the_defaults(tmp_path: Path) -> None:
    conn = schema.connect(tmp_path / "scada.db")
    conn.executescript(schema.MIGRATIONS[0] + "; PRAGMA user_version = 1;"
                       "INSERT INTO lines VALUES ('L1', 'line'); INSERT INTO processes VALUES ('P1', 'L1', 'p');"
                       "INSERT INTO plcs VALUES ('KRCWO12ELOA101', 'P1', '10.0.0.1', 5001, 'MC3E_ASCII', 2, '', "
                       "3000, 1, '');")
    (plc,) = model.load_plcs(conn)  # what the buffer's door does: read-only, no migration
    assert (plc.plc_code, plc.transport, plc.multi_block_read, plc.deviations) == (
        "KRCWO12ELOA101", "TCP", True, frozenset())
