"""Every message that crosses a ZeroMQ socket, one module per protocol; see envelope.py."""

from common.wire.envelope import WIRE_VERSION, MessageError, decode, decode_any, encode

__all__ = ["WIRE_VERSION", "MessageError", "decode", "decode_any", "encode"]
