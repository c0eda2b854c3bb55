"""The deadband's rules, as tables of cycles: (read time, values) in, the values sent out."""

from __future__ import annotations

import math

import pytest

from common.config_store.model import DEFAULT_MAX_INTERVAL_MS
from common.wire.ingest import GOOD, TagValue
from services.poller.deadband import Deadband


def v(address: str, value: object, quality: str = GOOD) -> TagValue:
    return TagValue(address, value, quality)  # type: ignore[arg-type]


def run(deadband: Deadband, cycles: list[tuple[int, list[TagValue]]]) -> list[list[object]]:
    """Per cycle, the values sent (as address=value, or address:quality when BAD)."""
    out: list[list[object]] = []
    for ts, values in cycles:
        sent = deadband.filter(values, ts).values
        out.append([f"{x.address}={x.value}" if x.quality == GOOD else f"{x.address}:{x.quality}" for x in sent])
    return out


def test_no_deadband_sends_everything_and_counts_nothing() -> None:
    band = Deadband([None, None], max_interval_ms=5000)
    assert run(band, [(0, [v("D0", 1), v("D1", 2)]), (1000, [v("D0", 1), v("D1", 2)])]) == [
        ["D0=1", "D1=2"], ["D0=1", "D1=2"]]
    assert band.suppressed == 0


def test_a_value_is_sent_when_it_moves_past_the_deadband_from_the_last_value_sent() -> None:
    band = Deadband([0.5, None], max_interval_ms=60_000)
    cycles = [(0, [v("D0", 20.0), v("D1", 7)]),      # first: everything
              (1000, [v("D0", 20.3), v("D1", 7)]),   # +0.3: inside the band
              (2000, [v("D0", 20.5), v("D1", 7)]),   # +0.5: on the band's edge, still inside
              (3000, [v("D0", 20.6), v("D1", 7)]),   # +0.6 from the last sent (20.0), not from 20.5: sent
              (4000, [v("D0", 20.2), v("D1", 7)]),   # -0.4 from 20.6: inside
              (5000, [v("D0", 19.9), v("D1", 7)])]   # -0.7: sent in this very cycle
    assert run(band, cycles) == [["D0=20.0", "D1=7"], ["D1=7"], ["D1=7"], ["D0=20.6", "D1=7"], ["D1=7"],
                                 ["D0=19.9", "D1=7"]]
    assert band.suppressed == 3


def test_a_change_of_quality_is_always_sent_and_bad_values_are_never_left_out() -> None:
    band = Deadband([10.0], max_interval_ms=60_000)
    cycles = [(0, [v("D0", 100)]), (1000, [v("D0", None, "BAD_TIMEOUT")]), (2000, [v("D0", None, "BAD_TIMEOUT")]),
              (3000, [v("D0", 101)]), (4000, [v("D0", 102)])]
    assert run(band, cycles) == [["D0=100"], ["D0:BAD_TIMEOUT"], ["D0:BAD_TIMEOUT"], ["D0=101"], []]


def test_the_maximum_interval_sends_the_whole_cycle_so_unchanged_is_not_uncollected() -> None:
    band = Deadband([1.0, 1.0], max_interval_ms=3000)
    cycles = [(t, [v("D0", 5), v("D1", 9)]) for t in range(0, 7000, 1000)]
    assert run(band, cycles) == [["D0=5", "D1=9"], [], [], ["D0=5", "D1=9"], [], [], ["D0=5", "D1=9"]]
    assert band.suppressed == 8


def test_a_group_with_a_deadband_and_no_maximum_interval_gets_the_default() -> None:
    band = Deadband([1.0], None)
    assert band.max_interval_ms == DEFAULT_MAX_INTERVAL_MS
    sent = run(band, [(0, [v("D0", 1)]), (DEFAULT_MAX_INTERVAL_MS - 1, [v("D0", 1)]),
                      (DEFAULT_MAX_INTERVAL_MS, [v("D0", 1)])])
    assert sent == [["D0=1"], [], ["D0=1"]]


def test_a_clock_step_back_sends_the_whole_cycle() -> None:
    band = Deadband([1.0], max_interval_ms=10_000)
    assert run(band, [(50_000, [v("D0", 1)]), (51_000, [v("D0", 1)]), (40_000, [v("D0", 1)]),
                      (41_000, [v("D0", 1)])]) == [["D0=1"], [], ["D0=1"], []]


def test_bits_strings_and_a_zero_deadband() -> None:
    band = Deadband([0.0, 0.0, 0.0], max_interval_ms=60_000)
    cycles = [(0, [v("M0", 0), v("D0", "LOT-1"), v("D9", 1.5)]),
              (1000, [v("M0", 0), v("D0", "LOT-1"), v("D9", 1.5)]),
              (2000, [v("M0", 1), v("D0", "LOT-2"), v("D9", 1.5000001)])]
    assert run(band, cycles) == [["M0=0", "D0=LOT-1", "D9=1.5"], [], ["M0=1", "D0=LOT-2", "D9=1.5000001"]]


def test_not_a_number_is_sent_when_it_comes_and_when_it_goes() -> None:
    band = Deadband([1.0], max_interval_ms=60_000)
    nan, inf = math.nan, math.inf
    sent = run(band, [(0, [v("D0", 1.0)]), (1, [v("D0", nan)]), (2, [v("D0", nan)]), (3, [v("D0", 1.5)]),
                      (4, [v("D0", inf)]), (5, [v("D0", inf)]), (6, [v("D0", -inf)])])
    assert sent == [["D0=1.0"], ["D0=nan"], [], ["D0=1.5"], ["D0=inf"], [], ["D0=-inf"]]


def test_bad_configuration_is_refused() -> None:
    for bad in (-1.0, math.nan):
        with pytest.raises(ValueError, match="deadband"):
            Deadband([bad])
    with pytest.raises(ValueError, match="3 values for a group of 2 tags"):
        Deadband([1.0, None]).filter([v("D0", 1)] * 3, 0)
