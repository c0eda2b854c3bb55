"""scada history: the table, the CSV for a spreadsheet, and its refusals (exit 2, one line)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from common.historian.rows import Row
from common.historian.sqlite_sink import SqliteSink
from common.times import iso_ms
from services.cli.main import main
from tests.helpers import short_tmp
from tests.integration.poller_harness import PLC, make_store

T0 = 1_764_720_000_000


@pytest.fixture()
def plant(monkeypatch: pytest.MonkeyPatch) -> Path:
    settings = make_store(short_tmp(), 1, "FAST,KRTEST00PLC001,FIXED,1000,,,1\n",
                          f"{PLC},FAST,속도,D100,INT16,,,m/min,라인 속도\n")
    sink = SqliteSink(settings.historian_db)
    sink.write([Row(iso_ms(T0 + 1000 * c), PLC, "D100", c if c != 2 else None, "GOOD" if c != 2 else "BAD_TIMEOUT",
                    "FAST", c + 1) for c in range(120)])
    sink.close()
    monkeypatch.setenv("SCADA_DATA_DIR", str(settings.scada_data_dir))
    return settings.scada_data_dir


def test_prints_raw_values_and_buckets(plant: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", f"{PLC}/속도", "--from", iso_ms(T0), "--to", iso_ms(T0 + 4000)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == f"{PLC}/속도 (D100, INT16, m/min): 4 values"
    assert out[2].split() == [iso_ms(T0), "0", "GOOD"] and out[4].split() == [iso_ms(T0 + 2000), "BAD_TIMEOUT"]
    assert main(["history", f"{PLC}/D100", "--from", iso_ms(T0), "--to", iso_ms(T0 + 120_000), "--points", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "2 buckets of 60 s, 120 values" in out[1]
    assert out[3].split() == [iso_ms(T0), "0", "59", "0", "59", "29.9661", "60", "0.983333"]


def test_exports_csv_for_a_spreadsheet(plant: Path, tmp_path: Path) -> None:
    target = tmp_path / "shift.csv"
    assert main(["history", f"{PLC}/속도", "--from", iso_ms(T0), "--to", iso_ms(T0 + 3000), "--csv", str(target)]) == 0
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")  # a BOM: a spreadsheet reads the Korean name right
    rows = list(csv.DictReader(target.open(encoding="utf-8-sig")))
    assert [(r["tag_name"], r["time"], r["value"], r["quality"]) for r in rows] == [
        ("속도", iso_ms(T0), "0", "GOOD"), ("속도", iso_ms(T0 + 1000), "1", "GOOD"),
        ("속도", iso_ms(T0 + 2000), "", "BAD_TIMEOUT")]


@pytest.mark.parametrize(("argv", "reason"), [
    ([f"{PLC}/NOPE"], "no tag 'NOPE'"),
    ([f"{PLC}/D100", "--from", "yesterday"], "neither ISO-8601"),
    ([f"{PLC}/D100", "--points", "0"], "between 1 and 10000"),
])
def test_refusals_are_one_line_with_exit_2(plant: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                           reason: str) -> None:
    assert main(["history", *argv]) == 2
    err = capsys.readouterr().err
    assert reason in err and err.count("\n") == 1
