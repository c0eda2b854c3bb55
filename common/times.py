"""Times as the plant's messages and the historian write them: Unix milliseconds (UTC) and ISO-8601 text."""

from __future__ import annotations

from datetime import UTC, datetime


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def iso_ms(ts_ms: int) -> str:
    """ISO-8601 UTC with milliseconds, the historian's ``ts`` text: 2026-11-23T03:36:00.123Z."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms % 1000:03d}Z"


def ms_of_iso(text: str) -> int:
    """The inverse of :func:`iso_ms`."""
    at = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(at.timestamp()) * 1000 + at.microsecond // 1000
