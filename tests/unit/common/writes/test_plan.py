"""The write planner: order kept, consecutive addresses in one 1401, bits of words read-modify-written;
its frames byte for byte against pymcprotocol's for the same writes."""

from __future__ import annotations

from typing import Any

import pytest
from pymcprotocol import Type3E

from common.config_store.model import Tag
from common.mc.commands import BatchRead, BatchWrite, Codec
from common.mc.devices import DEVICES, DevicePoint, Unit
from common.mc.frames import Encoding
from common.writes.plan import WordBits, plan_writes
from common.writes.values import CheckedWrite, check_write


def w(address: str, data_type: str, value: Any, name: str | None = None) -> CheckedWrite:
    return check_write(Tag("KRCWO12ELOA101", "G", name or address, address, data_type, None, None, "", "", True),
                       value)


def p(device: str, number: int) -> DevicePoint:
    return DevicePoint(DEVICES[device], number)


def test_consecutive_words_of_every_width_ride_in_one_request() -> None:
    plan = plan_writes([w("D100", "INT16", -1), w("D101", "INT32", 70000), w("D103", "FLOAT32", 1.5),
                        w("D105", "STRING[2]", "AB"), w("D107", "FLOAT64", 0.0)])
    assert plan.steps == (BatchWrite(p("D", 100), (0xFFFF, 70000 & 0xFFFF, 1, 0, 0x3FC0, 0x4241, 0, 0, 0, 0, 0)),)
    assert plan.carries == ((0, 1, 2, 3, 4),) and plan.requests == 1


def test_order_is_kept_a_gap_or_a_step_back_starts_a_new_request() -> None:
    plan = plan_writes([w("D10", "INT16", 1), w("D11", "INT16", 2), w("D20", "INT16", 3), w("D12", "INT16", 4),
                        w("W10", "INT16", 5), w("D13", "INT16", 6)])
    assert [(str(s.head), s.values) for s in plan.steps if isinstance(s, BatchWrite)] == [
        ("D10", (1, 2)), ("D20", (3,)), ("D12", (4,)), ("W10", (5,)), ("D13", (6,))]
    assert plan.carries == ((0, 1), (2,), (3,), (4,), (5,))


def test_bit_devices_in_bit_units_and_a_word_after_a_bit_is_another_request() -> None:
    plan = plan_writes([w("M100", "BIT", 1), w("M101", "BIT", 0), w("M102", "BIT", 1), w("X1F", "BIT", 1),
                        w("D0", "INT16", 7)])
    assert plan.steps == (BatchWrite(p("M", 100), (1, 0, 1), Unit.BIT), BatchWrite(p("X", 0x1F), (1,), Unit.BIT),
                          BatchWrite(p("D", 0), (7,)))


def test_bits_of_one_word_share_one_read_modify_write() -> None:
    plan = plan_writes([w("D50.0", "BIT", 1), w("D50.F", "BIT", 1), w("D50.3", "BIT", 0), w("D51.0", "BIT", 1)])
    first, second = plan.steps
    assert isinstance(first, WordBits) and isinstance(second, WordBits)
    assert first.read == BatchRead(p("D", 50), 1) and plan.requests == 4
    assert first.write(0b1000) == BatchWrite(p("D", 50), (0b1000_0000_0000_0001,))  # bit 3 cleared, 0 and 15 set
    assert first.write(0xFFFF) == BatchWrite(p("D", 50), (0xFFF7,))  # the other bits as read
    assert plan.carries == ((0, 1, 2), (3,))


def test_a_request_stops_at_the_protocols_points_limit() -> None:
    words = [w(f"D{n}", "INT16", n, f"T{n}") for n in range(1000)]
    plan = plan_writes(words)
    assert [len(s.values) for s in plan.steps if isinstance(s, BatchWrite)] == [960, 40]
    bits = [w(f"M{n}", "BIT", n % 2, f"B{n}") for n in range(4000)]
    assert [len(s.values) for s in plan_writes(bits, Encoding.ASCII).steps if isinstance(s, BatchWrite)] == [
        3584, 416]
    assert [len(s.values) for s in plan_writes(bits, Encoding.BINARY).steps if isinstance(s, BatchWrite)] == [4000]


class CapturedPeer(Type3E):
    """pymcprotocol with its socket replaced: the frames it would send, answered with a bare success."""

    def __init__(self, encoding: Encoding) -> None:
        super().__init__(plctype="Q")
        self.setaccessopt(commtype=encoding.value)
        self._is_connected = True
        self.sent: list[bytes] = []
        self._ok = b"D00000FF03FF0000040000" if encoding is Encoding.ASCII else bytes.fromhex("D00000FFFF0300020000")

    def _send(self, send_data: bytes) -> None:
        self.sent.append(bytes(send_data))

    def _recv(self) -> bytes:
        return self._ok


@pytest.mark.parametrize("encoding", list(Encoding), ids=lambda e: e.value)
def test_write_frames_match_pymcprotocol_byte_for_byte(encoding: Encoding) -> None:
    writes = [w("D100", "INT16", -1234), w("D101", "UINT32", 4_000_000_000), w("D103", "FLOAT32", 3.5),
              w("M10", "BIT", 1), w("M11", "BIT", 0), w("M12", "BIT", 1), w("D9000", "STRING[2]", "KR")]
    plan = plan_writes(writes, encoding)
    peer = CapturedPeer(encoding)
    codec = Codec(encoding, timer=peer.timer, ascii_hex_numbers=False)
    for step in plan.steps:
        assert isinstance(step, BatchWrite)
        if step.unit is Unit.BIT:
            peer.batchwrite_bitunits(str(step.head), list(step.values))
        else:  # pymcprotocol takes signed words
            peer.batchwrite_wordunits(str(step.head), [v - 0x10000 if v > 0x7FFF else v for v in step.values])
    assert [codec.encode(s) for s in plan.steps if isinstance(s, BatchWrite)] == peer.sent
    assert len(peer.sent) == 3
