"""MC protocol errors: one base, a local side and a remote side.

Strategy: local errors mean we asked for something the protocol cannot say
(an address out of range, too many points); remote errors mean the PLC, or
the network in between, answered wrongly -- a malformed frame, a reply that
does not match its request, or an error end code. End codes map to their own
classes through one registry, so callers can ``except DeviceRangeError`` and
a log line still names the code.
"""

from __future__ import annotations

from common.mc.end_codes import END_CODES


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


class SerialMismatchError(FrameError):
    """A 4E reply whose serial number is not the request's: a late or stray reply."""


class PlcEndCodeError(McRemoteError):
    """The PLC answered with a non-zero end code."""

    end_code: int = 0
    meaning: str = "error end code"

    def __init__(self, end_code: int, detail: str = "") -> None:
        self.end_code = end_code
        text = f"end code {end_code:04X}H: {self.meaning}"
        super().__init__(f"{text} ({detail})" if detail else text)


class DeviceRangeError(PlcEndCodeError):
    """The PLC says the device or the number of points is out of its range."""

    meaning = "device or points out of range"


class CommandNotSupportedError(PlcEndCodeError):
    meaning = "command or subcommand not supported"


class DeviceSpecificationError(PlcEndCodeError):
    """The CPU refused the device named in the request (40xxH device specification errors)."""

    meaning = "device specification error"


# Every end code of the reference manual's tables, by (code, meaning, class name, base).
# The CPU's own codes (4xxxH) arrive through the Ethernet module unchanged; the Ethernet
# module's codes are Cxxxh. The table lives in end_codes.py so this module stays short.
_BASES: dict[str, type[PlcEndCodeError]] = {
    "range": DeviceRangeError, "command": CommandNotSupportedError, "device": DeviceSpecificationError,
}
_END_CODES = {code: (meaning, name, base) for code, meaning, name, base in END_CODES}
#: each end code's class, made the first time a PLC answers with that code: the table's 62 classes made at
#: import were ~0.15 MiB resident in every poller, most of which never see an error end code (issue 19)
_CLASSES: dict[int, type[PlcEndCodeError]] = {}


def end_code_class(end_code: int) -> type[PlcEndCodeError]:
    """The end code's own class (a subclass of its family's, e.g. DeviceRangeError), or the base for unknown codes."""
    cls = _CLASSES.get(end_code)
    if cls is None:
        if end_code not in _END_CODES:
            return PlcEndCodeError
        meaning, name, family = _END_CODES[end_code]
        cls = _CLASSES[end_code] = type(name, (_BASES.get(family, PlcEndCodeError),),
                                        {"meaning": meaning, "__doc__": f"End code {end_code:04X}H: {meaning}.",
                                         "__module__": __name__})
    return cls


def end_code_error(end_code: int, detail: str = "") -> PlcEndCodeError:
    """The exception for an end code: its own class, or the base for unknown codes."""
    return end_code_class(end_code)(end_code, detail)


class PlcConnectionError(McRemoteError):
    """The PLC cannot be reached, or the connection broke during a request."""


class PlcTimeoutError(McRemoteError):
    """No complete reply within the request's timeout."""
