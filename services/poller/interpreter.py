"""How a poller's interpreter runs: without docstrings (``-OO``), from bytecode compiled for it beforehand.

    python -m services.poller.interpreter      (make bytecode; quick when nothing changed)

Strategy: the docstrings of what a poller imports (the standard library's,
pyzmq's and this project's) are ~0.8 MiB of its resident memory, in every
poller of a plant. ``-OO`` leaves them out, and ``assert`` statements too,
which in this code only narrow types for mypy. An interpreter run with
``-OO`` reads ``.opt-2.pyc`` files; Debian ships the standard library's
bytecode for plain runs only, in folders only root may write, and
PYTHONDONTWRITEBYTECODE may be set besides. So a poller reads all its
bytecode from a folder of its own (PYTHONPYCACHEPREFIX = the virtual
environment's ``pycache-pollers``), which :func:`compile_for_pollers` fills:
the standard library, pyzmq, msgpack, the start-up files of site-packages,
and this project. Where it is missing or stale, a poller still runs, but
compiles what it imports at every start (about a second, and more memory).

The same command and environment are used by supervisord's programs
(services/cli/supervisor_conf.py), the footprint benchmark and its test.
"""

from __future__ import annotations

import compileall
import re
import sys
import sysconfig
from pathlib import Path

FLAGS = ("-OO",)
PROJECT = Path(__file__).resolve().parents[2]
#: what no poller imports: tests, GUIs, the 2to3 tool, pip's bootstrap, and other installed packages
SKIPPED = re.compile(r"/(test|tests|idlelib|tkinter|turtledemo|lib2to3|ensurepip|site-packages)/")


def pycache(prefix: str = sys.prefix) -> Path:
    """The bytecode folder of the pollers of the virtual environment at ``prefix``."""
    return Path(prefix) / "pycache-pollers"


def command(python: str, plc_code: str) -> list[str]:
    """The poller of ``plc_code`` as supervisord starts it (cwd: the project)."""
    return [python, *FLAGS, "-m", "services.poller", "--plc", plc_code]


def environment(prefix: str = sys.prefix) -> dict[str, str]:
    """The variables a poller's process needs besides the plant's."""
    return {"PYTHONPYCACHEPREFIX": str(pycache(prefix))}


def compile_for_pollers(prefix: str = sys.prefix) -> bool:
    """Compile (``-OO``) into :func:`pycache` what a poller can import; True when everything compiled."""
    site_packages = Path(sysconfig.get_paths()["purelib"])
    previous, sys.pycache_prefix = sys.pycache_prefix, str(pycache(prefix))
    try:
        ok = compileall.compile_dir(sysconfig.get_paths()["stdlib"], quiet=2, optimize=2, workers=0, rx=SKIPPED)
        ok &= compileall.compile_dir(site_packages, maxlevels=0, quiet=2, optimize=2)  # site's start-up files
        for folder in [site_packages / name for name in ("zmq", "msgpack", "_distutils_hack")] + [
                PROJECT / "common", PROJECT / "services"]:
            if folder.is_dir():
                ok &= compileall.compile_dir(folder, quiet=2, optimize=2, workers=0)
        return bool(ok)
    finally:
        sys.pycache_prefix = previous


if __name__ == "__main__":
    raise SystemExit(0 if compile_for_pollers() else 1)
