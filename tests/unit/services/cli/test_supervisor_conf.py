"""The pollers' supervisor include: one program per active PLC, each run as interpreter.py says."""

from __future__ import annotations

import configparser
import sys
from pathlib import Path

from common.settings import Settings
from services.cli.supervisor_conf import render
from services.poller import interpreter


def test_each_poller_is_a_program_run_with_its_interpreters_options(tmp_path: Path) -> None:
    settings = Settings(scada_data_dir=tmp_path, scada_log_dir=tmp_path / "logs", _env_file=None)
    text = render(settings, ["KRCWO12ELOA101", "KRCWO12ELOA102"], tmp_path, sys.executable)
    conf = configparser.RawConfigParser(strict=True)  # as supervisord reads it: a key given twice fails
    conf.read_string(text)
    assert conf.sections() == ["program:poller-KRCWO12ELOA101", "program:poller-KRCWO12ELOA102"]
    program = conf["program:poller-KRCWO12ELOA102"]
    assert program["command"].split() == interpreter.command(sys.executable, "KRCWO12ELOA102")
    assert "-OO" in program["command"].split()
    assert program["environment"] == f'PYTHONPYCACHEPREFIX="{interpreter.pycache()}"'
    assert program["directory"] == str(tmp_path)
    assert program["stdout_logfile"] == f"{tmp_path / 'logs'}/poller-KRCWO12ELOA102.log"
