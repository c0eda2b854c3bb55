"""A real full disk for tests and the chaos run: a tmpfs mounted on a folder, and a filler that keeps it full.

Mounting needs root (CI runs as root); where it is refused, ``mounted_tmpfs``
raises ``MountRefused`` and the caller skips, saying so.
"""

from __future__ import annotations

import errno
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHUNK = 1 << 20


class MountRefused(Exception):
    """This machine does not let the test mount a tmpfs (not root, or in a container without the right)."""


@contextmanager
def mounted_tmpfs(folder: Path, size_mb: int) -> Iterator[Path]:
    """A tmpfs of ``size_mb`` on ``folder`` (created), unmounted after (lazily, if a process still holds it)."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(folder)],
                                capture_output=True, text=True, timeout=30)
    except (FileNotFoundError, PermissionError) as error:
        raise MountRefused(str(error)) from None
    if result.returncode != 0:
        raise MountRefused(result.stderr.strip() or f"mount exited {result.returncode}")
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], capture_output=True, timeout=30).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


def mount_refused() -> str | None:
    """Why this machine refuses to mount a tmpfs, or None when it lets us."""
    with tempfile.TemporaryDirectory(prefix="scada-mnt-", dir="/tmp") as tmp:
        try:
            with mounted_tmpfs(Path(tmp) / "probe", 1):
                return None
        except MountRefused as error:
            return str(error)


class DiskFiller:
    """Fills the filesystem of ``folder`` and keeps it full (space freed by others is taken again) until
    ``free()``, which deletes what it wrote."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "filler.bin"
        self.written = 0
        self._stop = threading.Event()
        self._full = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="disk-filler")

    def fill(self, timeout: float = 30) -> DiskFiller:
        self._thread.start()
        if not self._full.wait(timeout):
            raise RuntimeError(f"{self.path.parent} not full after {timeout} s")
        return self

    def _run(self) -> None:
        with self.path.open("ab", buffering=0) as handle:
            while not self._stop.is_set():
                size = CHUNK
                while size >= 512 and not self._stop.is_set():
                    try:
                        self.written += handle.write(b"\0" * size)
                    except OSError as error:
                        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
                            raise
                        size //= 2
                self._full.set()
                self._stop.wait(0.1)

    def free(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.path.unlink(missing_ok=True)
