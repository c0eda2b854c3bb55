"""The deadband columns: tags.csv ``deadband`` and polling_groups.csv ``max_interval_ms``, both optional.

Old files (without them) import unchanged; bad cells are named by file, line and field; a plant that uses
no deadband exports the same files as before the columns existed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from common.config_store import model
from common.config_store.csv_import import ImportFailed, export_csv, import_csv
from common.config_store.schema import open_store
from tests.helpers import ROOT

SAMPLE = ROOT / "data" / "sample"
PLC = "KRCWO12ELOA101"


Cell = str | Callable[[str], str]


def _plant(tmp_path: Path, groups_extra: Cell = "", tags_extra: Cell = "", *, new_columns: bool = True) -> Path:
    """The sample plant, with the two columns added (and ``*_extra`` cells: a value per row)."""
    folder = tmp_path / "plant"
    shutil.copytree(SAMPLE, folder)
    if new_columns:
        columns = (("polling_groups", "max_interval_ms", groups_extra), ("tags", "deadband", tags_extra))
        for name, column, cell in columns:
            path = folder / f"{name}.csv"
            head, *rows = path.read_text(encoding="utf-8").splitlines()
            path.write_text("\n".join([f"{head},{column}", *(f"{r},{cell(r) if callable(cell) else cell}"
                                                                for r in rows)]) + "\n", encoding="utf-8")
    return folder


def test_old_files_import_unchanged_and_export_as_before(tmp_path: Path) -> None:
    conn = open_store(tmp_path / "scada.db")
    import_csv(conn, [_plant(tmp_path, new_columns=False)])
    assert all(t.deadband is None for t in model.load_tags(conn, PLC))
    assert all(g.max_interval_ms is None for g in model.load_groups(conn, PLC))
    export_csv(conn, tmp_path / "out")
    for name in ("polling_groups", "tags"):
        assert (tmp_path / "out" / f"{name}.csv").read_bytes() == (SAMPLE / f"{name}.csv").read_bytes()


def test_deadbands_and_maximum_intervals_import_and_export_round_trip(tmp_path: Path) -> None:
    conn = open_store(tmp_path / "scada.db")
    plant = _plant(tmp_path, lambda row: "60000" if ",FIXED," in row else "",
                   lambda row: "0.5" if row.split(",")[4] in ("INT16", "FLOAT32") else "")
    import_csv(conn, [plant])
    tags = model.load_tags(conn, PLC)
    assert {t.deadband for t in tags if t.data_type in ("INT16", "FLOAT32")} == {0.5}
    assert {t.deadband for t in tags if t.data_type not in ("INT16", "FLOAT32")} == {None}
    assert {g.max_interval_ms for g in model.load_groups(conn, PLC) if g.mode == "FIXED"} == {60000}
    export_csv(conn, tmp_path / "out")
    assert (tmp_path / "out" / "tags.csv").read_text(encoding="utf-8").splitlines()[0].endswith(",deadband")
    again = open_store(tmp_path / "again.db")
    import_csv(again, [tmp_path / "out"])
    assert model.load_tags(again, PLC) == tags


@pytest.mark.parametrize(("file", "cell", "reason"), [
    ("tags", "-1", "0 or more"),
    ("tags", "fast", "is not a number"),
    ("tags", "nan", "not a finite number"),
    ("polling_groups", "50", "must be 100 to 86400000"),
    ("polling_groups", "1.5", "whole number"),
])
def test_a_bad_cell_is_named_by_file_line_and_field(tmp_path: Path, file: str, cell: str, reason: str) -> None:
    conn = open_store(tmp_path / "scada.db")
    plant = _plant(tmp_path, cell if file == "polling_groups" else "", cell if file == "tags" else "")
    with pytest.raises(ImportFailed) as failed:
        import_csv(conn, [plant])
    first = failed.value.issues[0]
    column = "deadband" if file == "tags" else "max_interval_ms"
    assert (Path(first.path).name, first.line, first.column) == (f"{file}.csv", 2, column)
    assert reason in first.message


def test_a_maximum_interval_shorter_than_the_interval_is_refused(tmp_path: Path) -> None:
    conn = open_store(tmp_path / "scada.db")
    plant = _plant(tmp_path, lambda row: "500" if row.startswith("SLOW_10S,") else "")
    with pytest.raises(ImportFailed) as failed:
        import_csv(conn, [plant])
    issue = failed.value.issues[0]
    assert issue.column == "max_interval_ms" and "shorter than the interval (10000 ms)" in issue.message
