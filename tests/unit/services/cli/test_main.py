"""Bad arguments to `scada`: one line on stderr, exit status 2 (1 for a path that cannot be written),
never a traceback; an import of many bad rows lists the first 100 problems and counts the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.cli.main import main

BAD_ARGUMENTS = [
    ["account", "--last", "1e400h"],
    ["account", "--last", "nanm"],
    ["account", "--last", "99999999d"],
    ["account", "--last", "0s"],
    ["account", "--last", "inf"],
    ["account", "--since", "yesterday"],
    ["account", "--until", "99999-01-01"],
    ["tap", "--count", "0"],
    ["tap", "--count", "many"],
    ["tap", "--timeout", "nan"],
    ["db", "show", "--plc", "not-a-plc"],
    ["db", "frobnicate"],
]


@pytest.fixture(autouse=True)
def scada_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATA", "RUN", "LOG"):
        monkeypatch.setenv(f"SCADA_{name}_DIR", str(tmp_path / name.lower()))


@pytest.mark.parametrize("argv", BAD_ARGUMENTS, ids=[" ".join(a) for a in BAD_ARGUMENTS])
def test_a_bad_argument_is_one_line_and_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "error:" in err and "Traceback" not in err


@pytest.mark.parametrize("folder", ["/proc/foo", "/proc/self/status/x", "/dev/null/x"])
def test_export_to_a_path_that_cannot_be_written_is_one_line(folder: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "export", folder]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and folder.split("/")[1] in err and "Traceback" not in err, err


def test_import_of_many_bad_rows_lists_100_and_counts_the_rest(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "lines.csv"
    bad.write_text("line_code,line_name\n" + "".join(f"bad code {n},name\n" for n in range(5000)), encoding="utf-8")
    assert main(["db", "import", str(bad)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 102, err[-3:]
    assert err[0].startswith(f"{bad}:2:line_code:") and err[99].startswith(f"{bad}:101:line_code:")
    assert err[100] == "... and 4,900 more problem(s) not shown"
    assert err[101] == "import failed: 5000 problem(s); nothing was imported"
