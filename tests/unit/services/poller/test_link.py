"""A PLC's row sets its codec and client: frame, encoding, transport, deviations."""

from __future__ import annotations

import logging

import pytest

from common.config_store.model import Plc
from common.mc.frames import Encoding, Frame
from services.poller.link import plc_client, plc_codec


def plc(protocol: str = "MC3E_ASCII", transport: str = "TCP", deviations: frozenset[str] = frozenset()) -> Plc:
    return Plc("KRCWO12ELOA101", "P1", "127.0.0.1", 5001, protocol, 2, (), 3000, True, "", transport, True,
               deviations)


@pytest.mark.parametrize(("protocol", "encoding", "frame"), [
    ("MC3E_ASCII", Encoding.ASCII, Frame.E3), ("MC3E_BINARY", Encoding.BINARY, Frame.E3),
    ("MC4E_ASCII", Encoding.ASCII, Frame.E4), ("MC4E_BINARY", Encoding.BINARY, Frame.E4),
])
def test_protocol_column_sets_frame_and_encoding(protocol: str, encoding: Encoding, frame: Frame) -> None:
    codec = plc_codec(plc(protocol), 3.0)
    assert (codec.encoding, codec.frame, codec.timer) == (encoding, frame, 12)
    assert codec.ascii_hex_numbers and not codec.ascii_dwords_low_first  # a real PLC: the manual


def test_deviations_column_sets_the_codec_options() -> None:
    codec = plc_codec(plc(deviations=frozenset({"ascii_decimal_numbers", "ascii_dwords_low_first"})), 3.0)
    assert not codec.ascii_hex_numbers and codec.ascii_dwords_low_first


def test_deprecated_machine_wide_switch_still_adds_decimal_numbers_to_ascii_plcs(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert not plc_codec(plc(), 3.0, ascii_hex_numbers_default=False).ascii_hex_numbers
    assert "deprecated" in caplog.text
    caplog.clear()
    assert plc_codec(plc("MC3E_BINARY"), 3.0, ascii_hex_numbers_default=False).encoding is Encoding.BINARY
    assert not caplog.text  # binary frames carry numbers in binary: nothing to say


def test_transport_column_picks_the_connection_class() -> None:
    udp = plc_client(plc(transport="UDP"), plc_codec(plc(), 3.0), 3.0)
    tcp = plc_client(plc(), plc_codec(plc(), 3.0), 3.0)
    kinds = [type(c).__name__ for c in (*udp.connections, *tcp.connections)]
    assert kinds == ["UdpConnection", "UdpConnection", "Connection", "Connection"]
