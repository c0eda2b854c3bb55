"""How the poller talks to one PLC: its codec and client, from its row in plcs.csv.

Strategy: everything that differs between PLCs on the wire is read from the
PLC's own row -- the frame and encoding (``protocol``: MC3E_ASCII ...
MC4E_BINARY), the transport (TCP or UDP), whether it serves 0406, and the
deviations from the reference manual its peer has (``deviations``): a real
PLC has none, the simulated ones of ``make run`` (virtual-plc) have
``ascii_decimal_numbers`` and ``ascii_dwords_low_first``. The old
machine-wide ``MC_ASCII_HEX_NUMBERS=false`` still adds
``ascii_decimal_numbers`` to every PLC, deprecated.
"""

from __future__ import annotations

import logging

from common.config_store.model import Plc
from common.mc.client import PlcClient
from common.mc.commands import Codec
from common.mc.frames import Encoding, Frame

log = logging.getLogger(__name__)


def plc_deviations(plc: Plc, ascii_hex_numbers_default: bool = True) -> frozenset[str]:
    """The PLC's deviations, with the deprecated machine-wide switch folded in."""
    if ascii_hex_numbers_default or "ascii_decimal_numbers" in plc.deviations or plc.encoding != "ASCII":
        return plc.deviations
    log.warning("%s: MC_ASCII_HEX_NUMBERS=false is deprecated; set deviations=ascii_decimal_numbers "
                "on the PLC's row in plcs.csv instead", plc.plc_code)
    return plc.deviations | {"ascii_decimal_numbers"}


def plc_codec(plc: Plc, timeout_s: float, ascii_hex_numbers_default: bool = True) -> Codec:
    deviations = plc_deviations(plc, ascii_hex_numbers_default)
    return Codec(
        Encoding.BINARY if plc.encoding == "BINARY" else Encoding.ASCII,
        timer=max(1, min(0xFFFF, int(timeout_s * 4))),  # the PLC's own monitoring timer, in 250 ms
        ascii_hex_numbers="ascii_decimal_numbers" not in deviations,
        ascii_dwords_low_first="ascii_dwords_low_first" in deviations,
        frame=Frame.E4 if plc.frame == "4E" else Frame.E3,
    )


def plc_client(plc: Plc, codec: Codec, timeout_s: float, ports: list[int] | None = None) -> PlcClient:
    return PlcClient(plc.plc_code, plc.host, ports or plc.connection_ports, codec, timeout_s, transport=plc.transport)
