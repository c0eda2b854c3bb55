"""MC protocol errors: one base, a local side and a remote side.

Strategy: local errors mean we asked for something the protocol cannot say
(an address out of range, too many points); remote errors mean the PLC, or
the network in between, answered wrongly -- a malformed frame, a reply that
does not match its request, or an error end code. End codes map to their own
classes through one registry, so callers can ``except DeviceRangeError`` and
a log line still names the code.
"""

from __future__ import annotations


class McError(Exception):
    """Base of every MC protocol error."""


class McLocalError(McError):
    """The request cannot be expressed in the protocol."""


class AddressError(McLocalError, ValueError):
    """A device address that does not exist on a Q-series PLC."""


class RequestTooLargeError(McLocalError):
    """More points than one request of this command may carry."""


class McRemoteError(McError):
    """The PLC (or the link) answered something we cannot accept."""


class FrameError(McRemoteError):
    """Bytes that are not a well-formed 3E reply, or not the reply to our request."""


class PlcEndCodeError(McRemoteError):
    """The PLC answered with a non-zero end code."""

    end_code: int = 0
    meaning: str = "error end code"

    def __init__(self, end_code: int, detail: str = "") -> None:
        self.end_code = end_code
        text = f"end code {end_code:04X}H: {self.meaning}"
        super().__init__(f"{text} ({detail})" if detail else text)


_REGISTRY: dict[int, type[PlcEndCodeError]] = {}


def _register(code: int, meaning: str, name: str, base: type[PlcEndCodeError] = PlcEndCodeError) -> type:
    cls = type(name, (base,), {"meaning": meaning, "__doc__": f"End code {code:04X}H: {meaning}."})
    _REGISTRY[code] = cls
    return cls


class DeviceRangeError(PlcEndCodeError):
    """The PLC says the device or the number of points is out of its range."""

    meaning = "device or points out of range"


class CommandNotSupportedError(PlcEndCodeError):
    meaning = "command or subcommand not supported"


# The common codes of the MC protocol reference manual (QnA-compatible 3E).
CommandError_C059 = _register(0xC059, "command or subcommand not supported", "CommandError_C059",
                              CommandNotSupportedError)
PointsError_C051 = _register(0xC051, "points exceed the range of one request", "PointsError_C051",
                             DeviceRangeError)
PointsError_C052 = _register(0xC052, "points exceed the range of one request", "PointsError_C052",
                             DeviceRangeError)
PointsError_C054 = _register(0xC054, "points exceed the range of one request", "PointsError_C054",
                             DeviceRangeError)
DeviceError_C056 = _register(0xC056, "read/write request exceeds the largest address", "DeviceError_C056",
                             DeviceRangeError)
DeviceError_C058 = _register(0xC058, "request data length after ASCII/binary conversion does not match",
                             "DeviceError_C058")
DataError_C05B = _register(0xC05B, "the CPU cannot read/write the specified device", "DataError_C05B",
                           DeviceRangeError)
DataError_C05C = _register(0xC05C, "error in request data (e.g. bit-unit access to a word device)",
                           "DataError_C05C")
DataError_C061 = _register(0xC061, "request data length does not match the number of points",
                           "DataError_C061")
_register(0xC050, "ASCII data that cannot be converted to binary", "AsciiError_C050")
_register(0xC055, "points exceed the range for bit/word write", "PointsError_C055", DeviceRangeError)
_register(0xC05F, "request cannot be executed on this CPU", "CpuError_C05F")
_register(0xC060, "request content error (bit device value not 0/1)", "DataError_C060")
_register(0xC06F, "ASCII/binary setting does not match the request", "CommunicationError_C06F")
_register(0xC070, "device memory extension cannot be specified for this device", "DeviceError_C070")
_register(0xC0B5, "data the CPU cannot handle was specified", "CpuError_C0B5")
_register(0xC200, "remote password error (locked)", "PasswordError_C200")
_register(0xC201, "the port used for communication is locked", "PasswordError_C201")
_register(0xC202, "cannot execute in this CPU state", "StateError_C202")
_register(0xCEE0, "monitoring timer expired (network route)", "RouteError_CEE0")


def end_code_error(end_code: int, detail: str = "") -> PlcEndCodeError:
    """The exception for an end code: its registered class, or the base for unknown codes."""
    cls = _REGISTRY.get(end_code, PlcEndCodeError)
    return cls(end_code, detail)


class PlcConnectionError(McRemoteError):
    """The PLC cannot be reached, or the connection broke during a request."""


class PlcTimeoutError(McRemoteError):
    """No complete reply within the request's timeout."""
