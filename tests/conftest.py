import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def pytest_sessionfinish(session: object, exitstatus: int) -> None:
    """A passing session leaves nothing under /tmp; a failing one keeps its stages' logs to read."""
    from tests.helpers import remove_short_tmps, short_tmps

    if exitstatus == 0:
        remove_short_tmps()
    elif kept := short_tmps():
        print(f"\nkept for inspection ({len(kept)}): {' '.join(str(p) for p in kept[:5])}"
              f"{' ...' if len(kept) > 5 else ''}")
