"""The poller's entry point: its command line, and what a fresh poller process imports and costs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from services.poller import interpreter
from services.poller.__main__ import plc_argument

#: Issue 19 aims at 25 MB for a poller of the sample plant. Since the footprint work of issue 19 (no
#: typing_extensions, the writes' modules at the first write, the config digest a row at a time, end-code
#: classes at their first error, SQLite in a child only, -OO from the pollers' own bytecode) a fresh poller
#: of KRCWO12ELOA102 is 21.1-21.2 MiB once imported and 23.3-23.4 MiB after a few cycles
#: (bench.poller_footprint; docs/BENCHMARKS.md has the figures and where each MiB goes). These bounds are
#: that plus ~0.6 MiB: a module or a table of a few hundred kilobytes brought back into every poller, or
#: docstrings, fails them.
POLLER_IMPORT_RSS_LIMIT = int(21.75 * 2**20)
POLLER_RSS_LIMIT = 24 * 2**20
#: What a poller has no use for: the gateway's web stack and settings models, Oracle's driver, TLS, the
#: standard modules that bring compressors and decimal arithmetic for one helper each, typing_extensions
#: (the figure types are for mypy and the gateway's pydantic: common/wire/figures.py), the writes'
#: modules until a write command comes, SQLite (a child reads the plant: services/poller/plant_reader.py), and
#: pyzmq's key files (zmq.auth) where no tcp:// endpoint has keys.
NOT_IN_A_POLLER = ("pydantic", "pydantic_settings", "fastapi", "starlette", "uvicorn", "oracledb", "cryptography",
                   "ssl", "argparse", "statistics", "shutil", "lzma", "bz2", "decimal", "typing_extensions",
                   "common.wire.figures", "services.poller.writes", "common.writes.plan", "common.writes.values",
                   "sqlite3", "_sqlite3", "common.config_store.schema", "zmq.auth")


@pytest.mark.parametrize(("argv", "code"), [(["--plc", "KRCWO12ELOA101"], "KRCWO12ELOA101"),
                                            (["--plc=KRCWO12ELOA101"], "KRCWO12ELOA101")])
def test_the_plc_is_taken_from_the_command_line(argv: list[str], code: str) -> None:
    assert plc_argument(argv) == code


@pytest.mark.parametrize("argv", [[], ["--plc"], ["--plc="], ["--plc", "--other"], ["KRCWO12ELOA101"],
                                  ["--plc", "A", "--plc", "B"]])
def test_a_wrong_command_line_exits_2_with_the_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        plc_argument(argv)
    assert stopped.value.code == 2
    assert "usage: python -m services.poller --plc CODE" in capsys.readouterr().err


def test_a_fresh_poller_imports_only_what_it_uses() -> None:
    # A new interpreter, as supervisord starts it: the test process has imported everything already.
    probe = ("import json, sys, runpy; sys.argv = ['poller']; "
             "runpy.run_module('services.poller.__main__', run_name='not_main'); "
             "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS:')][0].split()[1]; "
             f"print(json.dumps({{'loaded': [m for m in {NOT_IN_A_POLLER!r} if sys.modules.get(m) is not None], "
             "'rss': int(rss) * 1024}))")
    done = subprocess.run([sys.executable, *interpreter.FLAGS, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=True, env={**os.environ, **interpreter.environment()})
    found = json.loads(done.stdout)
    assert found["loaded"] == []
    assert found["rss"] < POLLER_IMPORT_RSS_LIMIT


def test_a_poller_finds_all_its_bytecode_compiled_without_docstrings() -> None:
    # make bytecode runs this; a poller that had to compile its modules would take ~1 s and more memory
    assert interpreter.compile_for_pollers()
    probe = ("import json, os, sys, runpy, importlib.util; sys.argv = ['poller']; "
             "runpy.run_module('services.poller.__main__', run_name='not_main'); "
             "import sqlite3, services.poller.store_read; "  # the child that reads the plant
             "files = [m.__file__ for m in list(sys.modules.values()) if (getattr(m, '__file__', None) or '')"
             ".endswith('.py')]; "
             "print(json.dumps({'optimize': sys.flags.optimize, 'prefix': sys.pycache_prefix, 'files': files, "
             "'missing': [f for f in files if not os.path.exists(importlib.util.cache_from_source(f))]}))")
    done = subprocess.run([sys.executable, *interpreter.FLAGS, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=True, env={**os.environ, **interpreter.environment()})
    found = json.loads(done.stdout)
    assert found["optimize"] == 2 and found["prefix"] == str(interpreter.pycache())
    assert len(found["files"]) > 150 and found["missing"] == []
