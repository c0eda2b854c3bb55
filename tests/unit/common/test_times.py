"""Times as messages and the historian write them."""

from __future__ import annotations

from common.times import iso_ms, ms_of_iso


def test_iso_timestamps_have_milliseconds() -> None:
    assert iso_ms(1_763_868_000_123) == "2025-11-23T03:20:00.123Z"
    assert iso_ms(5) == "1970-01-01T00:00:00.005Z"
    assert ms_of_iso(iso_ms(1_763_868_000_123)) == 1_763_868_000_123
