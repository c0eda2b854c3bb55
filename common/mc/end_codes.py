"""The MC protocol's end codes and what they mean, as the reference manual's tables give them.

Strategy: data, not code. Each row is (end code, meaning, exception class name,
family); :mod:`common.mc.errors` turns every row into its own
``PlcEndCodeError`` subclass, so ``except DeviceRangeError`` catches every
"out of range" code and a log line names the code and its meaning. Families:
``range`` (device or points out of range), ``command`` (command or
subcommand not served), ``device`` (the CPU refused the device named),
``""`` (anything else). 4xxxH codes come from the CPU itself, passed through
the Ethernet module; Cxxxh codes from the Ethernet module.
"""

from __future__ import annotations

END_CODES: tuple[tuple[int, str, str, str], ...] = (
    # CPU module errors (4000H-4FFFH)
    (0x4000, "serial communication sum check error", "CpuError_4000", ""),
    (0x4001, "an unsupported request was executed", "CpuError_4001", "command"),
    (0x4002, "an unsupported request was executed", "CpuError_4002", "command"),
    (0x4005, "the volume of data for the request is too large", "CpuError_4005", "range"),
    (0x4006, "initial communication has failed", "CpuError_4006", ""),
    (0x4010, "the CPU is running: the request cannot be executed", "CpuError_4010", ""),
    (0x4013, "the CPU is not in STOP: the request cannot be executed", "CpuError_4013", ""),
    (0x4021, "the specified drive does not exist or is faulty", "FileError_4021", ""),
    (0x4022, "the specified file does not exist", "FileError_4022", ""),
    (0x4025, "the file is in use by another engineering tool", "FileError_4025", ""),
    (0x4027, "the range is larger than the file", "FileError_4027", ""),
    (0x4029, "the file capacity cannot be obtained", "FileError_4029", ""),
    (0x402C, "the requested operation cannot be executed at the moment", "FileError_402C", ""),
    (0x4030, "the device name cannot be handled by this CPU", "DeviceError_4030", "device"),
    (0x4031, "the device number is out of range or the CPU cannot handle the device", "DeviceError_4031",
     "range"),
    (0x4032, "device modification error, or TS/TC/SS/SC/CS/CC named in a random read or write or a monitor",
     "DeviceError_4032", "device"),
    (0x4034, "the completion device of a dedicated instruction did not turn on", "DeviceError_4034", "device"),
    (0x4040, "the request cannot be executed in the specified intelligent function module", "ModuleError_4040",
     ""),
    (0x4041, "the access exceeds the module's buffer memory", "ModuleError_4041", "range"),
    (0x4042, "the specified module cannot be accessed", "ModuleError_4042", ""),
    (0x4043, "there is no intelligent function module at the specified position", "ModuleError_4043", ""),
    (0x4053, "error writing to the specified drive (protect)", "ProtectError_4053", ""),
    (0x4080, "request data error", "CpuError_4080", ""),
    (0x408B, "the remote request cannot be executed", "CpuError_408B", ""),
    # Ethernet module errors (C000H-CFFFH)
    (0xC050, "ASCII data that cannot be converted to binary", "AsciiError_C050", ""),
    (0xC051, "bit points of a batch read or write out of range", "PointsError_C051", "range"),
    (0xC052, "word points of a batch read or write out of range", "PointsError_C052", "range"),
    (0xC053, "bit points of a random read or write out of range", "PointsError_C053", "range"),
    (0xC054, "word or double-word points of a random read or write out of range", "PointsError_C054", "range"),
    (0xC055, "file data read or write size out of range", "PointsError_C055", "range"),
    (0xC056, "read/write request exceeds the largest address", "DeviceError_C056", "range"),
    (0xC057, "request data length does not match the data in the character section", "DataError_C057", ""),
    (0xC058, "request data length after ASCII/binary conversion does not match", "DeviceError_C058", ""),
    (0xC059, "command or subcommand not supported", "CommandError_C059", "command"),
    (0xC05A, "the module cannot read or write the specified device", "DataError_C05A", "range"),
    (0xC05B, "the CPU cannot read/write the specified device", "DataError_C05B", "range"),
    (0xC05C, "error in request data (e.g. bit-unit access to a word device)", "DataError_C05C", ""),
    (0xC05D, "monitor requested before monitor registration", "DataError_C05D", ""),
    (0xC05E, "the CPU did not answer within the monitoring timer", "TimerError_C05E", ""),
    (0xC05F, "request cannot be executed on this CPU", "CpuError_C05F", ""),
    (0xC060, "request content error (bit device value not 0/1)", "DataError_C060", ""),
    (0xC061, "request data length does not match the number of points", "DataError_C061", ""),
    (0xC062, "writing is prohibited while the CPU runs", "StateError_C062", ""),
    (0xC06F, "ASCII/binary setting does not match the request", "CommunicationError_C06F", ""),
    (0xC070, "device memory extension cannot be specified for this device", "DeviceError_C070", ""),
    (0xC071, "points out of range for a module other than a Q/QnA CPU", "PointsError_C071", "range"),
    (0xC072, "request details incorrect (e.g. bit unit to a word device)", "DataError_C072", ""),
    (0xC073, "the access destination cannot execute this request", "CpuError_C073", ""),
    (0xC074, "the target CPU cannot execute this request", "CpuError_C074", ""),
    (0xC0B2, "no space in the receive buffer of the relay or destination station", "BufferError_C0B2", ""),
    (0xC0B5, "data the CPU cannot handle was specified", "CpuError_C0B5", ""),
    (0xC0B6, "channel number out of range", "DataError_C0B6", ""),
    (0xC0BC, "the specified line is closed", "LineError_C0BC", ""),
    (0xC0BD, "requests arrived successively and cannot be processed", "BusyError_C0BD", ""),
    (0xC0D8, "number of blocks out of range", "PointsError_C0D8", "range"),
    (0xC0D9, "subcommand incorrect", "CommandError_C0D9", "command"),
    (0xC200, "remote password error", "PasswordError_C200", ""),
    (0xC201, "the port used for communication is locked", "PasswordError_C201", ""),
    (0xC202, "the remote password of another station could not be unlocked", "PasswordError_C202", ""),
    (0xC203, "error checking the remote password", "PasswordError_C203", ""),
    (0xC204, "a different device requested the remote password unlock", "PasswordError_C204", ""),
    (0xCEE0, "monitoring timer expired (network route)", "RouteError_CEE0", ""),
)
