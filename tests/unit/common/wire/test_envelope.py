"""The envelope: the version and the kind checked in one place, a bad frame always a MessageError."""

from __future__ import annotations

import msgpack
import pytest

from common.wire.envelope import WIRE_VERSION, MessageError, decode, decode_any, encode, envelope, pack, unpack
from common.wire.lease import Acked, LeaseAck, LeaseRequest


def test_envelope_writes_the_version_and_kind() -> None:
    assert envelope("lease", id=7) == {"v": WIRE_VERSION, "t": "lease", "id": 7}
    assert unpack(pack(envelope("lease", id=7)), "lease") == {"v": WIRE_VERSION, "t": "lease", "id": 7}


@pytest.mark.parametrize(("frame", "reason"), [
    (b"\xc1", "not msgpack"),
    (msgpack.packb([1, 2, 3]), "expected a map"),
    (msgpack.packb({1: 2}), "not msgpack"),  # a map key that is not a string
    (msgpack.packb({"v": WIRE_VERSION + 1, "t": "lease", "id": 1}), "wire version"),
    (msgpack.packb({"t": "lease", "id": 1}), "wire version"),
    (pack(envelope("acked", id=1, lease=2, known=True)), "unexpected message type 'acked'"),
    (pack(envelope("lease", id="seven")), "lease of the wrong shape"),
    (pack(envelope("lease")), "lease of the wrong shape"),
])
def test_a_bad_frame_is_a_message_error_that_says_why(frame: bytes, reason: str) -> None:
    with pytest.raises(MessageError, match=reason):
        decode(frame, LeaseRequest)


def test_decode_any_picks_the_class_its_type_names() -> None:
    assert decode_any(encode(LeaseAck(8, 31)), LeaseRequest, LeaseAck) == LeaseAck(8, 31)
    assert decode_any(encode(LeaseRequest(7, 500, 30)), LeaseRequest, LeaseAck) == LeaseRequest(7, 500, 30)
    with pytest.raises(MessageError, match="unexpected message type 'acked'"):
        decode_any(encode(Acked(8, 31, True)), LeaseRequest, LeaseAck)
